"""The evidence watch (issue 17, part 2): saved PubMed searches per article, the claims
each bears on, and the works they found since the article's last review.

Rules live in `editorial.services.watch`.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from articles.models.common import CLAIM_ID_PATTERN, PMID_PATTERN, choices_constraint
from articles.models.content import Article


class LiteratureSearch(models.Model):
    """A saved PubMed query that `manage.py watch_evidence` runs for its article.

    Created with a default query built from the article's title and topics; only a
    Clinical reviewer changes it (`services.watch.search_save`).
    """

    article = models.ForeignKey(
        Article, on_delete=models.CASCADE, related_name="literature_searches"
    )
    name = models.CharField(max_length=120, default="Main search")
    query = models.TextField(max_length=1000, help_text="A PubMed query, as typed into PubMed.")
    is_active = models.BooleanField(default=True, help_text="Run by watch_evidence.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_found_count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("literature search")
        verbose_name_plural = _("literature searches")
        ordering = ["article", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(query=""), name="literature_search_query_not_empty"
            ),
            models.UniqueConstraint(
                fields=["article", "name"], name="literature_search_name_unique_per_article"
            ),
        ]

    def __str__(self):
        return f"{self.article.slug}: {self.name}"


class SearchClaim(models.Model):
    """A claim the search bears on. A claim key, not a foreign key: claims are
    re-derived from the draft on every save, their keys are stable."""

    search = models.ForeignKey(LiteratureSearch, on_delete=models.CASCADE, related_name="claims")
    claim_key = models.CharField(max_length=80)

    class Meta:
        ordering = ["search", "claim_key"]
        constraints = [
            models.UniqueConstraint(
                fields=["search", "claim_key"], name="search_claim_unique_per_search"
            ),
            models.CheckConstraint(
                condition=Q(claim_key__regex=CLAIM_ID_PATTERN), name="search_claim_key_valid"
            ),
        ]

    def __str__(self):
        return self.claim_key


class FoundEvidenceKind(models.TextChoices):
    SYSTEMATIC_REVIEW = "systematic-review", "Systematic review"
    META_ANALYSIS = "meta-analysis", "Meta-analysis"
    RCT = "rct", "Randomised trial"
    GUIDELINE = "guideline", "Guideline"
    OTHER = "other", "Other"


class FoundEvidenceState(models.TextChoices):
    NEW = "new", "New"
    ADDED = "added", "Added to the library"
    DISMISSED = "dismissed", "Dismissed"
    REREVIEW = "re-review", "Re-review started"


class FoundEvidence(models.Model):
    """A work a saved search found, kept once per article (by PMID), with what an
    editor decided about it and who, when and why."""

    Kind = FoundEvidenceKind
    State = FoundEvidenceState
    # Kinds an editor must look at: `watch_evidence` exits 1 when one arrives.
    NOTABLE_KINDS = (Kind.SYSTEMATIC_REVIEW, Kind.META_ANALYSIS, Kind.RCT, Kind.GUIDELINE)
    # Kinds that warn at the publication gate while undecided.
    GATE_KINDS = (Kind.SYSTEMATIC_REVIEW, Kind.META_ANALYSIS, Kind.GUIDELINE)
    # Still waiting for the article to take it into account.
    OPEN_STATES = (State.NEW, State.REREVIEW)

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="found_evidence")
    search = models.ForeignKey(
        LiteratureSearch, null=True, blank=True, on_delete=models.SET_NULL, related_name="found"
    )
    pmid = models.CharField(max_length=8)
    title = models.TextField(max_length=1000)
    journal = models.CharField(max_length=300, blank=True)
    published_text = models.CharField(max_length=40, blank=True)
    published_on = models.DateField(null=True, blank=True)
    entered_on = models.DateField(null=True, blank=True, help_text="Added to PubMed (Entrez date).")
    publication_types = models.JSONField(default=list, blank=True)
    doi = models.CharField(max_length=300, blank=True)
    kind = models.CharField(max_length=20, choices=FoundEvidenceKind)
    first_seen_at = models.DateTimeField(auto_now_add=True, db_index=True)
    state = models.CharField(
        max_length=10, choices=FoundEvidenceState, default=FoundEvidenceState.NEW
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    citation = models.ForeignKey(
        "articles.Citation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("found evidence")
        verbose_name_plural = _("found evidence")
        ordering = ["-first_seen_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["article", "pmid"], name="found_evidence_pmid_unique_per_article"
            ),
            models.CheckConstraint(condition=Q(pmid__regex=PMID_PATTERN), name="found_pmid_valid"),
            choices_constraint("kind", FoundEvidenceKind, "found_evidence_kind_valid"),
            choices_constraint("state", FoundEvidenceState, "found_evidence_state_valid"),
            models.CheckConstraint(
                condition=~Q(state="dismissed") | ~Q(decision_reason=""),
                name="found_evidence_dismissal_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(state="new") | Q(decided_at__isnull=False),
                name="found_evidence_decision_has_time",
            ),
        ]

    def __str__(self):
        return f"PMID {self.pmid}: {self.title[:60]}"

    @property
    def pubmed_url(self) -> str:
        return f"https://pubmed.ncbi.nlm.nih.gov/{self.pmid}/"
