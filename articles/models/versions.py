"""Immutable published versions (database triggers refuse UPDATE and DELETE)."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from articles.models.content import Article


class ArticleVersionQuerySet(models.QuerySet):
    def published(self):
        return self.filter(published_at__isnull=False)


class ArticleVersion(models.Model):
    """An immutable, numbered snapshot of an article as a clinician approved it.

    Content columns can never change after insert (database triggers refuse it, see
    migration 0002); only the publication timestamps move. Never deleted: PROTECT.
    """

    article = models.ForeignKey(Article, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    snapshot = models.JSONField(help_text="Front matter, sections, claims and bibliography.")
    html = models.TextField(help_text="The rendered, sanitised body and reference list.")
    # The body as plain text (headings and prose, no reference list or badges), filled
    # at creation: what search matches and quotes. On PostgreSQL a generated tsvector
    # column and its GIN index are built from it (migration 0004).
    search_text = models.TextField(blank=True, editable=False)
    content_hash = models.CharField(max_length=64)
    change_summary = models.TextField(blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    # What readers are shown about the reviewer, as it was at approval.
    reviewer_name = models.CharField(max_length=200, blank=True)
    reviewer_credentials = models.CharField(max_length=200, blank=True)
    reviewer_coi = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    last_reviewed = models.DateField(null=True, blank=True)
    next_review_due = models.DateField(null=True, blank=True)
    scheduled_for = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    # The parts of the public page that depend only on this version (review box; crisis
    # help, contents, body, references, report links, "What changed"; JSON-LD without
    # its addresses), rendered from the templates once at publication by
    # publicsite/article_page.py. A derived cache, not content: the immutability
    # triggers do not guard these columns, and a `page_key` other than "<digest of the
    # templates>:<slug>" makes the page render afresh. Plain text columns (no JSON to
    # encode in the database and decode here on every request); nullable so SQLite adds
    # them without rebuilding the table and its triggers.
    page_key = models.CharField(max_length=200, null=True, blank=True, editable=False)  # noqa: DJ001
    page_meta = models.TextField(null=True, blank=True, editable=False)  # noqa: DJ001
    page_body = models.TextField(null=True, blank=True, editable=False)  # noqa: DJ001
    page_ld = models.TextField(null=True, blank=True, editable=False)  # noqa: DJ001

    objects = ArticleVersionQuerySet.as_manager()

    class Meta:
        verbose_name = _("article version")
        verbose_name_plural = _("article versions")
        ordering = ["article", "-number"]
        get_latest_by = "number"
        # Search ranks the most recently reviewed matches first (publicsite.search):
        # this index lets PostgreSQL read them in that order and stop early.
        indexes = [
            models.Index(fields=["-last_reviewed", "-id"], name="article_version_reviewed_idx"),
            # The admin's reviewer filter (EXISTS a version by this reviewer): its count
            # reads this index alone, not every version row (docs/performance.md).
            models.Index(fields=["reviewer", "article"], name="article_version_reviewer_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["article", "number"], name="article_version_number_unique"
            ),
            models.CheckConstraint(condition=Q(number__gte=1), name="article_version_number_gte_1"),
            models.CheckConstraint(
                condition=Q(content_hash__regex=r"^[0-9a-f]{64}$"),
                name="article_version_hash_is_sha256",
            ),
            models.CheckConstraint(
                condition=Q(published_at__isnull=True) | Q(approved_at__isnull=False),
                name="article_version_published_only_if_approved",
            ),
            models.CheckConstraint(
                condition=Q(published_at__isnull=True) | Q(approved_at__lte=F("published_at")),
                name="article_version_published_after_approval",
            ),
        ]

    def __str__(self):
        return f"{self.article.slug} v{self.number}"

    def get_absolute_url(self):
        return reverse("articles:detail", kwargs={"slug": self.snapshot.get("slug", "")})
