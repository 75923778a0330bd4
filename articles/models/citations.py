"""The shared citation library and the links from articles and claims to it."""

from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower, Upper
from django.utils.translation import gettext_lazy as _

from articles.models.common import DOI_PATTERN, PMCID_PATTERN, PMID_PATTERN, choices_constraint
from articles.models.content import Article, Claim


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
        verbose_name = _("citation")
        verbose_name_plural = _("citations")
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
