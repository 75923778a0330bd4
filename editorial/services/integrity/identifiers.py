"""Identifier problems: DOIs, PMIDs and PMCIDs that do not validate."""

from __future__ import annotations

from dataclasses import dataclass

from articles.models import (
    Citation,
)
from editorial.services.integrity.common import (
    _IDENTIFIERS,
)
from evidence import citations

# --- identifiers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class IdentifierProblem:
    citation_id: int
    key: str
    field: str
    value: str
    message: str


def citation_identifier_problems(*, citation: Citation) -> list[IdentifierProblem]:
    """Stored identifiers that are invalid or not normalised, and CSL records whose
    identifiers disagree with the stored ones (lookups and dedupe would then miss)."""
    problems = []

    def problem(name: str, value, message: str) -> None:
        problems.append(IdentifierProblem(citation.pk, citation.key, name, str(value), message))

    for name, label, normalize in _IDENTIFIERS:
        stored = getattr(citation, name)
        if stored:
            try:
                normal = normalize(stored)
            except citations.IdentifierError as exc:
                problem(name, stored, str(exc))
            else:
                if normal != stored:
                    problem(name, stored, f"{label} {stored!r} is stored unnormalised ({normal})")
        in_csl = citations.identifier_value(citation.csl or {}, label)
        if in_csl is None:
            continue
        try:
            normal = normalize(in_csl)
        except citations.IdentifierError as exc:
            problem(name, in_csl, f"the CSL record's {label}: {exc}")
            continue
        if normal != stored:
            problem(
                name,
                in_csl,
                f"the CSL record has {label} {normal} but the library has {stored or 'none'}",
            )
    return problems
