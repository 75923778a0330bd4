"""Append-only trails: review events, evidence-fact changes, security events."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from articles.models.citations import Citation
from articles.models.common import choices_constraint
from articles.models.content import Article, ArticleStatus
from articles.models.versions import ArticleVersion


class ReviewEventKind(models.TextChoices):
    TRANSITION = "transition", _("Transition")
    COMMENT = "comment", _("Comment")
    EDIT = "edit", _("Draft edited")
    IMPORT = "import", _("Imported")


class ReviewEvent(models.Model):
    """Append-only audit trail: every workflow transition and review comment.

    Database triggers (migration 0002) refuse UPDATE and DELETE on this table.
    """

    Kind = ReviewEventKind

    article = models.ForeignKey(Article, on_delete=models.PROTECT, related_name="events")
    version = models.ForeignKey(
        ArticleVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="review_events",
    )
    kind = models.CharField(
        max_length=12, choices=ReviewEventKind, default=ReviewEventKind.TRANSITION
    )
    from_state = models.CharField(max_length=20, blank=True)
    to_state = models.CharField(max_length=20, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    claim_key = models.CharField(max_length=80, blank=True)
    comment = models.TextField(blank=True)
    # What the reviewer read when sending the draft back (request_changes only), so
    # the next review can show the author's changes since then (issue 13, item 6).
    reviewed_snapshot = models.JSONField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("review event")
        verbose_name_plural = _("review events")
        ordering = ["article", "created_at", "id"]
        constraints = [
            choices_constraint("kind", ReviewEventKind, "review_event_kind_valid"),
            choices_constraint("from_state", ArticleStatus, "review_event_from_valid", blank=True),
            choices_constraint("to_state", ArticleStatus, "review_event_to_valid", blank=True),
        ]

    def __str__(self):
        return f"{self.article_id}: {self.from_state} -> {self.to_state}"


class EvidenceFactChange(models.Model):
    """Append-only audit of every change to a citation's evidence facts (retraction
    status and its note). Written only by `integrity.citation_evidence_set`; database
    triggers (migration 0007) refuse UPDATE and DELETE.

    `citation` keeps no database constraint so merging duplicate citations (which
    deletes the duplicates) leaves their history in place; `citation_key` names it.
    """

    citation = models.ForeignKey(
        Citation,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="evidence_changes",
    )
    citation_key = models.CharField(max_length=200)
    field = models.CharField(max_length=40)
    from_value = models.TextField(blank=True)
    to_value = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="evidence_changes",
    )
    source = models.CharField(max_length=40, help_text="check_citations, reviewer or merge")
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("evidence fact change")
        verbose_name_plural = _("evidence fact changes")
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.citation_key}: {self.field} {self.from_value} -> {self.to_value}"


class SecurityEventKind(models.TextChoices):
    LOGIN = "login", "Signed in"
    LOGIN_FAILED = "login_failed", "Sign-in failed"
    LOCKOUT = "lockout", "Locked out"
    LOGOUT = "logout", "Signed out"
    OTP_ENROLLED = "otp_enrolled", "Second factor enrolled"
    OTP_VERIFIED = "otp_verified", "Second factor passed"
    OTP_FAILED = "otp_failed", "Second factor failed"
    RATE_LIMITED = "rate_limited", "Rate limited"


class SecurityEvent(models.Model):
    """Append-only audit log of sign-ins, failures, lockouts and second-factor events,
    written by `accounts.security` from django.contrib.auth's and django-axes' signals.
    The username is kept as typed, so failures for unknown names are recorded too."""

    Kind = SecurityEventKind

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    kind = models.CharField(max_length=20, choices=SecurityEventKind)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="security_events",
    )
    username = models.CharField(max_length=150, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    path = models.CharField(max_length=300, blank=True)
    detail = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name = _("security event")
        verbose_name_plural = _("security events")
        ordering = ["-created_at", "-id"]
        constraints = [choices_constraint("kind", SecurityEventKind, "security_event_kind_valid")]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.kind} {self.username}"
