"""The content model: articles, their draft sections and claims, the shared citation
library, immutable published versions and the append-only review trail.

Every choice and invariant is backed by a database constraint, so it holds whichever
way a row is written. Business rules live in `articles.services`, not in `save()`.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Length, Lower, Upper
from django.db.models.lookups import LessThanOrEqual
from django.urls import reverse
from markdownx.models import MarkdownxField

CLAIM_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$"
DOI_PATTERN = r"^10\.[0-9]{4,9}(\.[0-9]+)*/\S+$"
PMID_PATTERN = r"^[1-9][0-9]{0,7}$"
PMCID_PATTERN = r"^PMC[0-9]{1,9}$"


def choices_constraint(field: str, choices: type[models.TextChoices], name: str, blank=False):
    values = list(choices.values) + ([""] if blank else [])
    return models.CheckConstraint(condition=Q(**{f"{field}__in": values}), name=name)


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
        ordering = ["name"]

    def __str__(self):
        return self.name


class ArticleStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    APPROVED = "approved", "Approved"
    PUBLISHED = "published", "Published"
    WITHDRAWN = "withdrawn", "Withdrawn"


class Audience(models.TextChoices):
    PUBLIC = "public", "Public"
    CLINICIAN = "clinician", "Clinician"


class ArticleQuerySet(models.QuerySet):
    def live(self):
        """Articles that readers can see: those with a published version."""
        return self.filter(live_version__isnull=False)


class Article(models.Model):
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
        ordering = ["title"]
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


class StudyDesign(models.TextChoices):
    GUIDELINE = "guideline", "Guideline"
    SYSTEMATIC_REVIEW = "systematic-review", "Systematic review / meta-analysis"
    RCT = "rct", "Randomised controlled trial"
    OBSERVATIONAL = "observational", "Observational study"
    CASE_SERIES = "case-series", "Case series / open-label"
    REVIEW = "review", "Narrative review"
    REGULATORY = "regulatory", "Regulatory document"
    REFERENCE = "reference", "Reference work"
    OTHER = "other", "Other"


class Retraction(models.TextChoices):
    NONE = "none", "None known"
    CORRECTION = "correction", "Corrected"
    CONCERN = "expression-of-concern", "Expression of concern"
    RETRACTED = "retracted", "Retracted"


class Citation(models.Model):
    """One work in the site-wide bibliography, shared by every article that cites it.

    `csl` keeps the full CSL-JSON item; identifiers are pulled out, normalised and
    unique so the same DOI or PMID can never be two citations.
    """

    StudyDesign = StudyDesign

    Retraction = Retraction

    key = models.CharField(max_length=200, help_text="The key it was first cited by.")
    csl = models.JSONField(default=dict)
    title = models.TextField()
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    doi = models.CharField("DOI", max_length=300, blank=True)
    pmid = models.CharField("PMID", max_length=8, blank=True)
    pmcid = models.CharField("PMCID", max_length=12, blank=True)
    url = models.URLField(max_length=500, blank=True)
    study_design = models.CharField(max_length=20, choices=StudyDesign, default=StudyDesign.OTHER)
    retraction_status = models.CharField(max_length=25, choices=Retraction, default=Retraction.NONE)
    retraction_checked_at = models.DateTimeField(null=True, blank=True)
    retraction_note = models.TextField(
        blank=True, help_text="Where the retraction status came from: source, record, date."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]
        constraints = [
            models.UniqueConstraint(
                fields=["doi"], condition=~Q(doi=""), name="citation_doi_unique"
            ),
            models.UniqueConstraint(
                fields=["pmid"], condition=~Q(pmid=""), name="citation_pmid_unique"
            ),
            models.UniqueConstraint(
                fields=["pmcid"], condition=~Q(pmcid=""), name="citation_pmcid_unique"
            ),
            models.CheckConstraint(
                condition=Q(doi="") | (Q(doi=Lower("doi")) & Q(doi__regex=DOI_PATTERN)),
                name="citation_doi_normalised",
            ),
            models.CheckConstraint(
                condition=Q(pmid="") | Q(pmid__regex=PMID_PATTERN), name="citation_pmid_valid"
            ),
            models.CheckConstraint(
                condition=Q(pmcid="") | (Q(pmcid=Upper("pmcid")) & Q(pmcid__regex=PMCID_PATTERN)),
                name="citation_pmcid_valid",
            ),
            choices_constraint("study_design", StudyDesign, "citation_study_design_valid"),
            choices_constraint("retraction_status", Retraction, "citation_retraction_valid"),
        ]

    def __str__(self):
        return f"{self.title} ({self.year})" if self.year else self.title

    @property
    def is_retracted(self) -> bool:
        return self.retraction_status == self.Retraction.RETRACTED


class ArticleCitation(models.Model):
    """An article's bibliography: the key its Markdown uses for a library citation.

    Two articles may cite the same work under different keys; the body text is never
    rewritten, so import and export round-trip exactly.
    """

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="bibliography")
    key = models.CharField(max_length=200)
    citation = models.ForeignKey(Citation, on_delete=models.PROTECT, related_name="article_keys")

    class Meta:
        ordering = ["article", "key"]
        constraints = [
            models.UniqueConstraint(fields=["article", "key"], name="article_citation_key_unique"),
        ]

    def __str__(self):
        return self.key


class Relation(models.TextChoices):
    SUPPORTS = "supports", "Supports"
    CONTRADICTS = "contradicts", "Contradicts"


class ClaimCitation(models.Model):
    Relation = Relation

    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="claim_citations")
    citation = models.ForeignKey(Citation, on_delete=models.PROTECT, related_name="claim_links")
    relation = models.CharField(max_length=12, choices=Relation, default=Relation.SUPPORTS)
    locator = models.CharField(max_length=100, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["claim", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["claim", "citation", "relation"], name="claim_citation_unique"
            ),
            choices_constraint("relation", Relation, "claim_citation_relation_valid"),
        ]

    def __str__(self):
        return f"{self.claim} {self.relation} {self.citation_id}"


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
        ordering = ["article", "-number"]
        get_latest_by = "number"
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


class ReviewEventKind(models.TextChoices):
    TRANSITION = "transition", "Transition"
    COMMENT = "comment", "Comment"
    EDIT = "edit", "Draft edited"
    IMPORT = "import", "Imported"


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
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
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
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.citation_key}: {self.field} {self.from_value} -> {self.to_value}"


class StaffProfile(models.Model):
    """What readers must see about the clinicians behind an article."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    display_name = models.CharField(max_length=200)
    credentials = models.CharField(max_length=200, blank=True, help_text='e.g. "MD, psychiatrist"')
    conflict_of_interest = models.TextField(
        blank=True, help_text="Shown to readers beside the reviewer's name."
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(display_name=""),
                name="staff_profile_display_name_not_empty",
            ),
        ]

    def __str__(self):
        return self.display_name


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
        ordering = ["-created_at", "-id"]
        constraints = [choices_constraint("kind", SecurityEventKind, "security_event_kind_valid")]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.kind} {self.username}"


class ReviewReminder(models.Model):
    """One review-due email about an article (`review_due --email`): at most one per
    article per day, which the unique constraint guarantees even for concurrent runs."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="reminders")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    email = models.EmailField()
    sent_on = models.DateField()
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-sent_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["article", "sent_on"], name="review_reminder_once_per_article_per_day"
            ),
        ]

    def __str__(self):
        return f"{self.article_id} -> {self.email} on {self.sent_on}"


class ReaderReportKind(models.TextChoices):
    WRONG = "wrong", "It is wrong or out of date"
    SOURCE = "source", "A source does not say this"
    UNCLEAR = "unclear", "It is hard to understand"
    BROKEN_LINK = "broken-link", "A link is broken"
    OTHER = "other", "Something else"


class ReaderReportState(models.TextChoices):
    NEW = "new", "New"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    FIXED = "fixed", "Fixed"


class ReaderReport(models.Model):
    """A reader's report of a problem with an article or one of its claims (issue 17).

    Anonymous: no account and no IP address (the rate limiter keeps only a hashed
    address in the cache, for its window). The optional email is erased when the
    report is closed or after `REPORT_EMAIL_DAYS` (`manage.py purge_report_emails`).
    `claim_key` is blank for a report about the whole page; it is a key, not a
    foreign key, because claims are re-derived from the draft on every save.
    """

    Kind = ReaderReportKind
    State = ReaderReportState
    OPEN_STATES = (ReaderReportState.NEW, ReaderReportState.ACCEPTED)

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="reader_reports")
    claim_key = models.CharField(max_length=80, blank=True)
    kind = models.CharField(max_length=20, choices=ReaderReportKind)
    description = models.TextField(max_length=2000)
    email = models.EmailField(blank=True)
    state = models.CharField(
        max_length=10, choices=ReaderReportState, default=ReaderReportState.NEW
    )
    decision_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            choices_constraint("kind", ReaderReportKind, "reader_report_kind_valid"),
            choices_constraint("state", ReaderReportState, "reader_report_state_valid"),
        ]

    def __str__(self):
        return f"Report {self.pk} on {self.claim_key or 'the page'}"

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN_STATES
