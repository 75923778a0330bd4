"""The article format's vocabulary: limits, identifier patterns, certainty grades, the
parsed shapes of sections, claims and citations, and the format error. Shared by the
Markdown rules and the renderer; imports nothing of the project."""

from __future__ import annotations

import re
from dataclasses import dataclass

CERTAINTIES = ("high", "moderate", "low", "very-low")
CERTAINTY_LABELS = {
    "high": "High certainty",
    "moderate": "Moderate certainty",
    "low": "Low certainty",
    "very-low": "Very low certainty",
    "": "Certainty not yet graded",
}
LEAD_ANCHOR = "lead"
CLAIM_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,79}")
ANCHOR_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,119}")  # Section.anchor holds 120
# Ids the page itself uses; an author's heading must not take them.
RESERVED_ANCHOR_RE = re.compile(r"lead|references(?:-section)?|ref-\d+|claim-.*")
CITATION_KEY = r"\w(?:\w|[:.#$%&\-+?<>~/](?=\w))*"  # Pandoc: punctuation only inside
CITATION_KEY_RE = re.compile(CITATION_KEY)
SLUG_MAX = 100  # leaves room for a "-2" suffix within Section.anchor's 120
# Hostile-input bounds: a citation bracket or attribute block longer than this is
# plain text, so those rules never scan further than this from where they start.
MAX_CITATION_CHARS = 1000
MAX_ATTRIBUTE_CHARS = 500
# Whole-document bounds. markdown-it-py is linear but costs ~10-40 us per markup
# character on hostile input, so markup density (not length) is what is capped: real
# articles use a few hundred markup characters per 10 KB; 20,000 bounds a render to
# well under a second. Plain prose is cheap and only the byte limit applies to it.
MAX_BODY_CHARS = 500_000
MAX_MARKUP_CHARS = 20_000
MARKUP_CHARS_RE = re.compile(r"[\[\]()*_|#>`{}!<~\\]")


class ArticleFormatError(ValueError):
    """The body breaks a rule of the article format; `line` is 1-based in the body."""

    def __init__(self, message: str, line: int | None = None):
        self.message = message
        self.line = line
        super().__init__(f"line {line}: {message}" if line else message)


@dataclass(frozen=True)
class CiteRef:
    key: str
    locator: str = ""
    prefix: str = ""
    line: int = 0


@dataclass(frozen=True)
class ClaimSource:
    id: str
    statement: str
    certainty: str
    supports: tuple[CiteRef, ...]
    contradicts: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class SectionSource:
    heading: str
    anchor: str
    body: str
    line: int
    claims: tuple[ClaimSource, ...]
    citations: tuple[CiteRef, ...]


@dataclass(frozen=True)
class Rendered:
    html: str
    reference_keys: tuple[str, ...]
    unknown_keys: tuple[str, ...]


@dataclass(frozen=True)
class SpanAttrs:
    """What a `{...}` block after a bracketed span says, before any validation."""

    id: str | None
    classes: tuple[str, ...]
    values: dict[str, str]
    unreadable: tuple[str, ...]


def normalise_certainty(value: str) -> str:
    return "-".join(value.lower().replace("_", " ").replace("-", " ").split())


def contradicts_keys(value: str) -> list[str]:
    return [key.strip().removeprefix("@") for key in value.split(",") if key.strip()]
