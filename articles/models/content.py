"""Topics, articles, and the draft's sections and claims."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from markdownx.models import MarkdownxField

from articles.models.common import CLAIM_ID_PATTERN, ChecksInOneQuery, choices_constraint


class Certainty(models.TextChoices):
    """GRADE certainty of the evidence behind a claim."""

    HIGH = "high", "High"
    MODERATE = "moderate", "Moderate"
    LOW = "low", "Low"
    VERY_LOW = "very-low", "Very low"


class Topic(models.Model):
    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)

    class Meta:
        verbose_name = _("topic")
        verbose_name_plural = _("topics")
        ordering = ["name"]

    def __str__(self):
        return self.name


class ArticleStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    IN_REVIEW = "in_review", _("In review")
    CHANGES_REQUESTED = "changes_requested", _("Changes requested")
    APPROVED = "approved", _("Approved")
    PUBLISHED = "published", _("Published")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class Audience(models.TextChoices):
    PUBLIC = "public", "Public"
    CLINICIAN = "clinician", "Clinician"


class ArticleQuerySet(models.QuerySet):
    def live(self):
        """Articles that readers can see: those with a published version."""
        return self.filter(live_version__isnull=False)


class Article(ChecksInOneQuery):
    """The stable identity of an article, holding its working draft.

    The draft is the ordered sections (with their claims) plus the fields below.
    Readers never see the draft: they see `live_version`, an immutable snapshot.
    `status` is the state of the draft in the editorial workflow.
    """

    Status = ArticleStatus

    Audience = Audience

    slug = models.SlugField(max_length=120, unique=True)
    title = models.CharField(max_length=200)
    summary = models.TextField(max_length=300, blank=True)
    topics = models.ManyToManyField(Topic, blank=True, related_name="articles")
    audience = models.CharField(max_length=20, choices=Audience, default=Audience.PUBLIC)
    review_interval_months = models.PositiveSmallIntegerField(default=12)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="owned_articles",
    )
    last_edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    status = models.CharField(max_length=20, choices=ArticleStatus, default=ArticleStatus.DRAFT)
    live_version = models.ForeignKey(
        "ArticleVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The published version readers see.",
    )
    last_reviewed = models.DateField(null=True, blank=True)
    next_review_due = models.DateField(null=True, blank=True)
    withdrawn_reason = models.TextField(blank=True)
    # Set by `check_citations` when a source the live version cites is retracted or
    # under an expression of concern; shown to readers above the live version until a
    # version a clinician re-approved goes live (services/integrity/retractions.py, versions.py).
    retraction_notice = models.TextField(blank=True)
    # Optimistic concurrency: every draft save checks and bumps this in one UPDATE.
    lock_version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ArticleQuerySet.as_manager()

    class Meta:
        verbose_name = _("article")
        verbose_name_plural = _("articles")
        ordering = ["title"]
        # The admin's article list orders by title and then -pk (Django adds the primary
        # key for a total order): read in index order, its first page at 100,000 articles
        # stops after 100 rows instead of sorting every article (docs/performance.md).
        indexes = [models.Index(fields=["title", "-id"], name="article_title_idx")]
        constraints = [
            choices_constraint("status", ArticleStatus, "article_status_valid"),
            choices_constraint("audience", Audience, "article_audience_valid"),
            models.CheckConstraint(
                condition=Q(review_interval_months__gte=1, review_interval_months__lte=60),
                name="article_review_interval_1_to_60_months",
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("summary"), 300), name="article_summary_max_300"
            ),
            models.CheckConstraint(
                condition=~Q(status="published") | Q(live_version__isnull=False),
                name="article_published_has_live_version",
            ),
            models.CheckConstraint(
                condition=~Q(status="withdrawn") | Q(live_version__isnull=True),
                name="article_withdrawn_has_no_live_version",
            ),
            models.CheckConstraint(condition=~Q(slug=""), name="article_slug_not_empty"),
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("articles:detail", kwargs={"slug": self.slug})


class Section(models.Model):
    """One `##` section of an article's draft; the lead section has no heading."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="sections")
    position = models.PositiveIntegerField()
    heading = models.CharField(max_length=300, blank=True)
    anchor = models.SlugField(max_length=120)
    body = MarkdownxField(blank=True)

    class Meta:
        ordering = ["article", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["article", "position"], name="section_position_unique_per_article"
            ),
            models.UniqueConstraint(
                fields=["article", "anchor"], name="section_anchor_unique_per_article"
            ),
        ]

    def __str__(self):
        return self.heading or "(lead)"


class Claim(models.Model):
    """A factual statement in the draft, marked `[...]{.claim #key}` in a section body.

    Claims are derived from the section Markdown whenever the draft is saved; the
    key is stable across versions so reviewers, diffs and links can refer to it.
    """

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="claims")
    section = models.ForeignKey(Section, on_delete=models.CASCADE, related_name="claims")
    key = models.CharField(max_length=80)
    statement = models.TextField()
    certainty = models.CharField(max_length=10, choices=Certainty, blank=True)
    position = models.PositiveIntegerField()
    citations = models.ManyToManyField(
        "Citation", through="ClaimCitation", related_name="claims", blank=True
    )

    class Meta:
        ordering = ["article", "position"]
        constraints = [
            models.UniqueConstraint(fields=["article", "key"], name="claim_key_unique_per_article"),
            models.CheckConstraint(
                condition=Q(key__regex=CLAIM_ID_PATTERN), name="claim_key_valid"
            ),
            choices_constraint("certainty", Certainty, "claim_certainty_valid", blank=True),
        ]

    def __str__(self):
        return self.key
