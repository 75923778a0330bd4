"""Publication gates: every problem that should stop (error) or worry (warning) a reviewer.

Errors block approval; warnings are shown to the reviewer, who decides.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from articles.models import Article, Citation, ClaimCitation
from articles.readability import measure
from articles.rendering import ArticleFormatError, parse_body
from evidence.citations import PRIMARY_DESIGNS

ERROR = "error"
WARNING = "warning"
MAX_SOURCE_AGE_YEARS = 10


@dataclass(frozen=True)
class Problem:
    level: str
    code: str
    message: str
    claim_key: str = ""
    field: str = ""

    @property
    def is_error(self) -> bool:
        return self.level == ERROR

    def as_dict(self) -> dict:
        return {
            "level": self.level,
            "code": self.code,
            "message": self.message,
            "claim": self.claim_key,
            "field": self.field,
        }


def article_gates(*, article: Article, reviewer=None) -> list[Problem]:
    """Every gate result for the draft, errors first. `reviewer` is the would-be approver."""
    problems: list[Problem] = []
    if not article.summary.strip():
        problems.append(
            Problem(ERROR, "missing-summary", "The article has no summary.", field="summary")
        )
    if reviewer is not None:
        profile = getattr(reviewer, "profile", None)
        if profile is None or not profile.credentials.strip():
            problems.append(
                Problem(
                    ERROR,
                    "reviewer-credentials",
                    f"Reviewer {reviewer.get_username()} has no credentials on their staff "
                    "profile; readers must see who checked the article.",
                    field="reviewer",
                )
            )
    problems.extend(_unknown_keys(article))
    problems.extend(_claim_problems(article))
    problems.extend(_reading_grade(article))
    return sorted(problems, key=lambda p: p.level != ERROR)


def _unknown_keys(article: Article) -> list[Problem]:
    known = set(article.bibliography.values_list("key", flat=True))
    problems = []
    for section in article.sections.order_by("position"):
        try:
            parsed = parse_body(
                section.body if not section.heading else f"## {section.heading}\n\n{section.body}"
            )
        except ArticleFormatError as exc:
            problems.append(Problem(ERROR, "format", f"Section {section.anchor!r}: {exc.message}"))
            continue
        for parsed_section in parsed:
            for ref in parsed_section.citations:
                if ref.key not in known:
                    known.add(ref.key)  # report each key once
                    problems.append(
                        Problem(
                            ERROR,
                            "unknown-citation",
                            f"Unknown citation key {ref.key!r} in section {section.anchor!r}.",
                        )
                    )
    return problems


def _claim_problems(article: Article) -> list[Problem]:
    problems = []
    too_old = timezone.localdate().year - MAX_SOURCE_AGE_YEARS
    old_reported: set[int] = set()
    claims = article.claims.order_by("position").prefetch_related("claim_citations__citation")
    for claim in claims:
        supports = [
            link.citation
            for link in claim.claim_citations.all()
            if link.relation == ClaimCitation.Relation.SUPPORTS
        ]
        if not supports:
            problems.append(
                Problem(
                    ERROR,
                    "uncited-claim",
                    f"Claim {claim.key!r} has no supporting citation.",
                    claim_key=claim.key,
                )
            )
        if not claim.certainty:
            problems.append(
                Problem(
                    ERROR,
                    "ungraded-claim",
                    f"Claim {claim.key!r} has no certainty grade.",
                    claim_key=claim.key,
                )
            )
        for citation in supports:
            if citation.retraction_status == Citation.Retraction.RETRACTED:
                problems.append(
                    Problem(
                        ERROR,
                        "retracted-citation",
                        f"Claim {claim.key!r} cites a retracted source: {citation.title}.",
                        claim_key=claim.key,
                    )
                )
            elif citation.retraction_status == Citation.Retraction.CONCERN:
                problems.append(
                    Problem(
                        WARNING,
                        "expression-of-concern",
                        f"Claim {claim.key!r} cites a source under an expression of concern: "
                        f"{citation.title}.",
                        claim_key=claim.key,
                    )
                )
            if citation.year and citation.year < too_old and citation.pk not in old_reported:
                old_reported.add(citation.pk)
                problems.append(
                    Problem(
                        WARNING,
                        "old-source",
                        f"Source from {citation.year} is more than {MAX_SOURCE_AGE_YEARS} years "
                        f"old (first cited by claim {claim.key!r}): {citation.title}.",
                        claim_key=claim.key,
                    )
                )
        if supports and all(c.study_design in PRIMARY_DESIGNS for c in supports):
            problems.append(
                Problem(
                    WARNING,
                    "primary-only",
                    f"Claim {claim.key!r} rests only on primary studies; is there a review or "
                    "guideline?",
                    claim_key=claim.key,
                )
            )
    return problems


def _reading_grade(article: Article) -> list[Problem]:
    text = "\n\n".join(
        f"{s.heading}\n\n{s.body}" if s.heading else s.body
        for s in article.sections.order_by("position")
    )
    result = measure(text)
    target = settings.PTSDINFO_READING_GRADE_TARGET
    if result.words and result.grade > target:
        return [
            Problem(
                WARNING,
                "reading-grade",
                f"Reading grade {result.grade:.1f} (SMOG {result.smog:.1f}, Flesch-Kincaid "
                f"{result.flesch_kincaid:.1f}) is above the target of {target:g}.",
            )
        ]
    return []
