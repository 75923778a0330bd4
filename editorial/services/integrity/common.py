"""What the integrity checks share: status shorthands, progress, citation labels and
the record of an article flagged for re-review."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass

from articles.models import (
    Article,
    Citation,
)
from evidence import citations

Progress = Callable[[str, int, int | None], None]
R = Citation.Retraction
S = Article.Status
FLAGGING = frozenset({R.CONCERN, R.RETRACTED})
_IDENTIFIERS = (
    ("doi", "DOI", citations.normalize_doi),
    ("pmid", "PMID", citations.normalize_pmid),
    ("pmcid", "PMCID", citations.normalize_pmcid),
)
_MARKUP = re.compile(r"<[^>]{0,200}>")
_NOT_WORD = re.compile(r"[^0-9a-z]+")


def _no_progress(label: str, done: int, total: int | None = None) -> None:
    return None


def citation_label(citation: Citation) -> str:
    """'#12 "feder2014" (DOI 10.1001/...)': how reports and comments name a citation."""
    ids = ", ".join(
        f"{label} {getattr(citation, name)}"
        for name, label, _ in _IDENTIFIERS
        if getattr(citation, name)
    )
    return f'#{citation.pk} "{citation.key}"' + (f" ({ids})" if ids else "")


@dataclass
class FlaggedArticle:
    slug: str
    citation_id: int
    from_state: str
    to_state: str
    notice: bool

    def as_dict(self) -> dict:
        return asdict(self)


def citation_identifiers(citation: Citation) -> dict[str, set[str]]:
    """Every valid identifier the citation carries, in its columns or its CSL record."""
    found: dict[str, set[str]] = {name: set() for name, _, _ in _IDENTIFIERS}
    for name, label, normalize in _IDENTIFIERS:
        for value in (getattr(citation, name), citations.identifier_value(citation.csl, label)):
            if value:
                with contextlib.suppress(citations.IdentifierError):
                    found[name].add(normalize(value))
    return found
