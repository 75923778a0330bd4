"""Translations of an article, claim by claim (issue 18).

A translation is one article in one language (`PTSDINFO_TRANSLATION_LANGUAGES`). It has
a draft of its own (title, summary, and the body in the article format, with the same
sections, claim ids, citations and grades as the source version it translates: only
text differs) and immutable numbered versions, each tied to the approved source
`ArticleVersion` it translates. Database triggers (migration 0011) refuse any change to
a version's content and the deletion of a published one, as for `ArticleVersion`.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from articles.models.common import choices_constraint
from articles.models.content import Article, Topic
from articles.models.versions import ArticleVersion

LANGUAGE_PATTERN = r"^[a-z]{2,3}$"


class TranslationStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    PUBLISHED = "published", "Published"
    WITHDRAWN = "withdrawn", "Withdrawn"


class ArticleTranslation(models.Model):
    """The stable identity of an article in one language, holding its working draft.

    `source_version` is the approved English version the draft translates; the draft's
    evidence facts (sections, claim ids, citations, grades) are that version's.
    `contributors` are the people who edited the draft since its last approval: none
    of them may approve it (four eyes)."""

    Status = TranslationStatus

    article = models.ForeignKey(Article, on_delete=models.PROTECT, related_name="translations")
    language = models.CharField(max_length=3)
    source_version = models.ForeignKey(ArticleVersion, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=200)
    summary = models.TextField(max_length=300, blank=True)
    body = models.TextField(blank=True, help_text="The translated body, in the article format.")
    status = models.CharField(
        max_length=20, choices=TranslationStatus, default=TranslationStatus.DRAFT
    )
    live_version = models.ForeignKey(
        "TranslationVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The published translation version readers see.",
    )
    contributors = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    last_edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    withdrawn_reason = models.TextField(blank=True)
    # Optimistic concurrency: every draft save checks and bumps this in one UPDATE.
    lock_version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("article translation")
        verbose_name_plural = _("article translations")
        ordering = ["article", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["article", "language"], name="translation_one_per_language"
            ),
            models.CheckConstraint(
                condition=Q(language__regex=LANGUAGE_PATTERN), name="translation_language_code"
            ),
            choices_constraint("status", TranslationStatus, "translation_status_valid"),
            models.CheckConstraint(
                condition=~Q(status="published") | Q(live_version__isnull=False),
                name="translation_published_has_live_version",
            ),
            models.CheckConstraint(
                condition=~Q(status="withdrawn") | Q(live_version__isnull=True),
                name="translation_withdrawn_has_no_live_version",
            ),
        ]

    def __str__(self):
        return f"{self.article.slug} [{self.language}]"


class TranslationVersion(models.Model):
    """An immutable, numbered snapshot of a translation as a fluent reviewer approved it.

    The snapshot has the shape of an `ArticleVersion` snapshot (sections, claims,
    bibliography: the source version's) plus `language` and `translation_of`, so the
    same renderer and the same rendered-page check apply. Only the publication
    timestamps move; a published version is never deleted."""

    translation = models.ForeignKey(
        ArticleTranslation, on_delete=models.PROTECT, related_name="versions"
    )
    number = models.PositiveIntegerField()
    source_version = models.ForeignKey(
        ArticleVersion, on_delete=models.PROTECT, related_name="translation_versions"
    )
    language = models.CharField(max_length=3)
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    snapshot = models.JSONField()
    html = models.TextField(help_text="The rendered, sanitised body and reference list.")
    # The page's prose as plain text, for search (articles.plaintext.document_text, as
    # ArticleVersion.search_text). On PostgreSQL migration 0014 derives a stored,
    # GIN-indexed `search_vector` from title, summary and this (publicsite/search.py).
    search_text = models.TextField(blank=True, editable=False)
    content_hash = models.CharField(max_length=64)
    translator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewer_name = models.CharField(max_length=200, blank=True)
    reviewer_credentials = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    approved_at = models.DateTimeField()
    published_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    # The version-only parts of its public page, stored as ArticleVersion's are
    # (publicsite/article_page.py), when it goes live and whenever the English article
    # is re-published (which parts are stale depends on the live English version:
    # `page_stale` is how many). A derived cache, not content: the immutability
    # triggers do not guard these columns, and a `page_key` other than
    # "<digest>:<slug>:<live English version id>" makes the page render afresh.
    page_key = models.CharField(max_length=200, null=True, blank=True, editable=False)  # noqa: DJ001
    page_meta = models.TextField(null=True, blank=True, editable=False)  # noqa: DJ001
    page_body = models.TextField(null=True, blank=True, editable=False)  # noqa: DJ001
    page_ld = models.TextField(null=True, blank=True, editable=False)  # noqa: DJ001
    page_stale = models.PositiveIntegerField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("translation version")
        verbose_name_plural = _("translation versions")
        ordering = ["translation", "-number"]
        get_latest_by = "number"
        constraints = [
            models.UniqueConstraint(
                fields=["translation", "number"], name="translation_version_number_unique"
            ),
            models.CheckConstraint(
                condition=Q(number__gte=1), name="translation_version_number_gte_1"
            ),
            models.CheckConstraint(
                condition=Q(content_hash__regex=r"^[0-9a-f]{64}$"),
                name="translation_version_hash_is_sha256",
            ),
            models.CheckConstraint(
                condition=Q(published_at__isnull=True) | Q(approved_at__lte=F("published_at")),
                name="translation_version_published_after_approval",
            ),
        ]

    def __str__(self):
        return f"{self.translation} v{self.number}"


class TranslationEventKind(models.TextChoices):
    START = "start", "Started or brought up to date"
    EDIT = "edit", "Edited"
    IMPORT = "import", "Imported"
    TRANSITION = "transition", "Transition"


class TranslationEvent(models.Model):
    """Append-only audit trail of a translation: who started, edited, imported, sent
    back, approved, published or withdrew it. Database triggers (migration 0011)
    refuse UPDATE and DELETE on this table, as for ReviewEvent."""

    Kind = TranslationEventKind

    translation = models.ForeignKey(
        ArticleTranslation, on_delete=models.PROTECT, related_name="events"
    )
    version = models.ForeignKey(
        TranslationVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=12, choices=TranslationEventKind)
    from_state = models.CharField(max_length=20, blank=True)
    to_state = models.CharField(max_length=20, blank=True)
    # The English version the draft translated at the time.
    source_number = models.PositiveIntegerField()
    content_hash = models.CharField(max_length=64, blank=True)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("translation event")
        verbose_name_plural = _("translation events")
        ordering = ["translation", "created_at", "id"]
        constraints = [
            choices_constraint("kind", TranslationEventKind, "translation_event_kind_valid"),
            choices_constraint(
                "from_state", TranslationStatus, "translation_event_from_valid", blank=True
            ),
            choices_constraint(
                "to_state", TranslationStatus, "translation_event_to_valid", blank=True
            ),
        ]

    def __str__(self):
        return f"{self.translation}: {self.kind} {self.from_state}->{self.to_state}"


class TopicTranslation(models.Model):
    """A topic's name and description in one translation language, for the public site
    in that language (its topic list and page, and the topics of a translation, frozen
    into the translation's snapshot when it is approved). Without one, readers see the
    English name."""

    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="translations")
    language = models.CharField(
        max_length=3, choices=list(settings.PTSDINFO_TRANSLATION_LANGUAGES.items())
    )
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["topic", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["topic", "language"], name="topic_translation_one_per_language"
            ),
            models.CheckConstraint(
                condition=Q(language__regex=LANGUAGE_PATTERN),
                name="topic_translation_language_code",
            ),
        ]

    def __str__(self):
        return f"{self.name} [{self.language}]"
