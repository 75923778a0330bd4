"""What changed between two versions of an article, in terms a clinician reviews.

Input is two snapshots as `services.snapshots.draft_snapshot` makes them (plain dicts, so
a stored version and the live draft compare alike); output is data: which sections
changed and how, sentence by sentence; which claims were added, removed, reworded or
re-graded, and which citations came and went. No database. Templates show it; the
one piece of HTML here, `inline_html`, escapes everything that came from a snapshot.

Sections are matched by anchor and claims by id, which the article format keeps stable
across versions (spec/article-format.md). Section text is compared as the prose a
reader sees (`readability.plain_text`), so moving a citation or a claim attribute does
not show as a sentence change; those changes show under claims and citations instead.
Citations are the same work when both items have the same DOI, else when they have
the same key, so renaming a key in the bibliography is not an added and a removed
citation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, ngettext, pgettext_lazy

from editorial.readability import plain_text, sentences
from evidence import citations

# Above this many sentences on either side, a section is shown as one replacement:
# SequenceMatcher's worst case is quadratic, and no reviewer reads such a diff anyway.
MAX_DIFF_SENTENCES = 2000
# Above this many words and spaces on either side, `inline_html` marks the whole old
# sentence deleted and the new one inserted instead of diffing word by word.
MAX_INLINE_TOKENS = 2000
# Changed sentences within one run of changes are paired by similarity (so an inserted
# sentence does not make every following one look rewritten) when the run is at most
# this many pairs; larger runs are paired in order.
_MAX_PAIRING_CELLS = 400
_SIMILAR = 0.5  # a pair of sentences this similar (word ratio) is one sentence, edited

_TOKEN_RE = re.compile(r"\w+(?:['\u2019]\w+)*|\s+|[^\w\s]")

SECTION_STATUSES = ("added", "removed", "changed", "unchanged")
SENTENCE_KINDS = ("equal", "insert", "delete", "replace")


@dataclass(frozen=True)
class SentenceChange:
    kind: str  # one of SENTENCE_KINDS
    old: str = ""  # "" for an insert
    new: str = ""  # "" for a delete


@dataclass
class SectionDiff:
    anchor: str
    heading: str  # the new heading; the old one for a removed section; "" for the lead
    status: str  # one of SECTION_STATUSES
    sentences: list[SentenceChange] = field(default_factory=list)
    old_heading: str | None = None  # set when the heading was renamed

    @property
    def changed_count(self) -> int:
        """Sentences inserted, deleted or replaced."""
        return sum(1 for change in self.sentences if change.kind != "equal")


@dataclass
class ClaimChange:
    id: str
    old_statement: str
    new_statement: str
    old_certainty: str  # "" when ungraded
    new_certainty: str
    supports_added: list[str] = field(default_factory=list)  # citation keys
    supports_removed: list[str] = field(default_factory=list)
    contradicts_added: list[str] = field(default_factory=list)
    contradicts_removed: list[str] = field(default_factory=list)

    @property
    def certainty_changed(self) -> bool:
        return self.old_certainty != self.new_certainty

    @property
    def statement_changed(self) -> bool:
        return self.old_statement != self.new_statement


@dataclass
class VersionDiff:
    is_first: bool = False  # there was no earlier version: everything is "added"
    title_changed: tuple[str, str] | None = None  # (old, new); None on a first version
    summary_changed: tuple[str, str] | None = None
    sections: list[SectionDiff] = field(default_factory=list)
    claims_added: list[dict] = field(default_factory=list)  # claim dicts of the snapshot
    claims_removed: list[dict] = field(default_factory=list)
    claims_changed: list[ClaimChange] = field(default_factory=list)
    citations_added: list[str] = field(default_factory=list)  # bibliography keys, sorted
    citations_removed: list[str] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        """No change a reader could see or a reviewer must check. Never for a first
        version."""
        return not (
            self.is_first
            or self.title_changed
            or self.summary_changed
            or any(section.status != "unchanged" for section in self.sections)
            or self.claims_added
            or self.claims_removed
            or self.claims_changed
            or self.citations_added
            or self.citations_removed
        )

    def summary_lines(self) -> list[str]:
        """Short plain-text lines for a review screen or an audit comment (escape them
        like any text when showing them as HTML), in the active language."""
        if self.is_first:
            return [
                gettext("First version: %(sections)s, %(claims)s, %(citations)s")
                % {
                    "sections": _count(len(self.sections), "section"),
                    "claims": _count(len(self.claims_added), "claim"),
                    "citations": _count(len(self.citations_added), "citation"),
                }
            ]
        lines = []
        if self.title_changed:
            lines.append(
                gettext("Title changed from %(old)s to %(new)s")
                % {"old": _quote(self.title_changed[0]), "new": _quote(self.title_changed[1])}
            )
        if self.summary_changed:
            lines.append(gettext("Summary changed"))
        for section in self.sections:
            lines.extend(_section_lines(section))
        lines.extend(
            gettext("Claim %(id)s added") % {"id": claim["id"]} for claim in self.claims_added
        )
        lines.extend(
            gettext("Claim %(id)s removed") % {"id": claim["id"]} for claim in self.claims_removed
        )
        for change in self.claims_changed:
            lines.extend(_claim_lines(change))
        lines.extend(
            gettext("Citation %(key)s added") % {"key": key} for key in self.citations_added
        )
        lines.extend(
            gettext("Citation %(key)s removed") % {"key": key} for key in self.citations_removed
        )
        return lines


# --- summary lines -------------------------------------------------------------------


def _count(number: int, noun: str) -> str:
    if noun == "section":
        text = ngettext("%(count)d section", "%(count)d sections", number)
    elif noun == "claim":
        text = ngettext("%(count)d claim", "%(count)d claims", number)
    elif noun == "citation":
        text = ngettext("%(count)d citation", "%(count)d citations", number)
    else:
        text = ngettext("%(count)d sentence", "%(count)d sentences", number)
    return text % {"count": number}


def _quote(text: str) -> str:
    return f"'{text}'"


def _section_name(heading: str) -> str:
    if heading:
        return gettext("Section %(heading)s") % {"heading": _quote(heading)}
    return gettext("Lead section")


def _section_lines(section: SectionDiff) -> list[str]:
    name = _section_name(section.heading)
    if section.status == "added":
        return [gettext("%(section)s added") % {"section": name}]
    if section.status == "removed":
        return [gettext("%(section)s removed") % {"section": name}]
    lines = []
    if section.old_heading is not None:
        lines.append(
            gettext("%(section)s renamed to %(heading)s")
            % {"section": _section_name(section.old_heading), "heading": _quote(section.heading)}
        )
    if section.changed_count:
        lines.append(
            gettext("%(section)s changed (%(sentences)s)")
            % {"section": name, "sentences": _count(section.changed_count, "sentence")}
        )
    return lines


CERTAINTY_NAMES = {
    "high": pgettext_lazy("certainty", "high"),
    "moderate": pgettext_lazy("certainty", "moderate"),
    "low": pgettext_lazy("certainty", "low"),
    "very-low": pgettext_lazy("certainty", "very low"),
}


def _certainty_name(certainty: str) -> str:
    return str(CERTAINTY_NAMES.get(certainty, certainty.replace("-", " ")))


def _claim_lines(change: ClaimChange) -> list[str]:
    lines = []
    claim = {"id": change.id}
    if change.statement_changed:
        lines.append(gettext("Claim %(id)s reworded") % claim)
    if change.certainty_changed:
        old, new = _certainty_name(change.old_certainty), _certainty_name(change.new_certainty)
        if not old:
            lines.append(gettext("Claim %(id)s graded %(new)s") % {**claim, "new": new})
        elif not new:
            lines.append(
                gettext("Claim %(id)s no longer graded (was %(old)s)") % {**claim, "old": old}
            )
        else:
            lines.append(
                gettext("Claim %(id)s re-graded from %(old)s to %(new)s")
                % {**claim, "old": old, "new": new}
            )
    for keys, text in (
        (
            change.supports_added,
            ngettext(
                "Claim %(id)s: supporting citation %(keys)s added",
                "Claim %(id)s: supporting citations %(keys)s added",
                len(change.supports_added),
            ),
        ),
        (
            change.supports_removed,
            ngettext(
                "Claim %(id)s: supporting citation %(keys)s removed",
                "Claim %(id)s: supporting citations %(keys)s removed",
                len(change.supports_removed),
            ),
        ),
        (
            change.contradicts_added,
            ngettext(
                "Claim %(id)s: contradicting citation %(keys)s added",
                "Claim %(id)s: contradicting citations %(keys)s added",
                len(change.contradicts_added),
            ),
        ),
        (
            change.contradicts_removed,
            ngettext(
                "Claim %(id)s: contradicting citation %(keys)s removed",
                "Claim %(id)s: contradicting citations %(keys)s removed",
                len(change.contradicts_removed),
            ),
        ),
    ):
        if keys:
            lines.append(text % {**claim, "keys": ", ".join(keys)})
    return lines


# --- the diff -----------------------------------------------------------------------


def diff_snapshots(old: dict | None, new: dict) -> VersionDiff:
    """What changed from `old` to `new` (`old` None: `new` is the first version)."""
    if old is None:
        return VersionDiff(
            is_first=True,
            sections=[_one_sided(section, "added") for _, section in _keyed_sections(new)],
            claims_added=list(new.get("claims") or []),
            citations_added=sorted(new.get("bibliography") or {}),
        )
    old_bib, new_bib = old.get("bibliography") or {}, new.get("bibliography") or {}
    old_dois, new_dois = _dois(old_bib), _dois(new_bib)
    claims_added, claims_removed, claims_changed = _diff_claims(
        old.get("claims") or [], new.get("claims") or [], old_dois, new_dois
    )
    return VersionDiff(
        title_changed=_changed(old.get("title"), new.get("title")),
        summary_changed=_changed(old.get("summary"), new.get("summary")),
        sections=_diff_sections(old, new),
        claims_added=claims_added,
        claims_removed=claims_removed,
        claims_changed=claims_changed,
        citations_added=sorted(_unmatched(new_bib, new_dois, old_bib, old_dois)),
        citations_removed=sorted(_unmatched(old_bib, old_dois, new_bib, new_dois)),
    )


def _changed(old: str | None, new: str | None) -> tuple[str, str] | None:
    old, new = old or "", new or ""
    return None if old == new else (old, new)


# --- sections ---


def _keyed_sections(snapshot: dict) -> list[tuple[str, dict]]:
    """(key, section) in order; the key is the anchor, made unique should a snapshot
    ever repeat one, so no section is silently dropped."""
    seen: dict[str, int] = {}
    keyed = []
    for section in snapshot.get("sections") or []:
        anchor = section.get("anchor") or ""
        seen[anchor] = seen.get(anchor, 0) + 1
        keyed.append((anchor if seen[anchor] == 1 else f"{anchor}#{seen[anchor]}", section))
    return keyed


def _section_sentences(section: dict) -> list[str]:
    return sentences(plain_text(section.get("body") or ""))


def _one_sided(section: dict, status: str) -> SectionDiff:
    kind, side = ("insert", "new") if status == "added" else ("delete", "old")
    return SectionDiff(
        anchor=section.get("anchor") or "",
        heading=section.get("heading") or "",
        status=status,
        sentences=[SentenceChange(kind, **{side: text}) for text in _section_sentences(section)],
    )


def _diff_sections(old: dict, new: dict) -> list[SectionDiff]:
    """New sections in their order; a removed section follows the section it followed
    in the old version (or comes first)."""
    old_keyed, new_keyed = _keyed_sections(old), _keyed_sections(new)
    new_by_key = dict(new_keyed)
    old_by_key = dict(old_keyed)
    removed_after: dict[str | None, list[SectionDiff]] = {}
    previous = None
    for key, section in old_keyed:
        if key in new_by_key:
            previous = key
        else:
            removed_after.setdefault(previous, []).append(_one_sided(section, "removed"))
    diffs = list(removed_after.get(None, []))
    for key, section in new_keyed:
        before = old_by_key.get(key)
        diffs.append(
            _one_sided(section, "added") if before is None else _diff_section(before, section)
        )
        diffs.extend(removed_after.get(key, []))
    return diffs


def _diff_section(old: dict, new: dict) -> SectionDiff:
    old_heading, heading = old.get("heading") or "", new.get("heading") or ""
    changes = _diff_sentences(_section_sentences(old), _section_sentences(new))
    renamed = old_heading != heading
    changed = renamed or any(change.kind != "equal" for change in changes)
    return SectionDiff(
        anchor=new.get("anchor") or "",
        heading=heading,
        status="changed" if changed else "unchanged",
        sentences=changes,
        old_heading=old_heading if renamed else None,
    )


def _diff_sentences(old: list[str], new: list[str]) -> list[SentenceChange]:
    if old == new:
        return [SentenceChange("equal", text, text) for text in new]
    if len(old) > MAX_DIFF_SENTENCES or len(new) > MAX_DIFF_SENTENCES:
        return [SentenceChange("replace", " ".join(old), " ".join(new))]
    changes: list[SentenceChange] = []
    matcher = SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            changes.extend(SentenceChange("equal", text, text) for text in new[j1:j2])
        elif tag == "delete":
            changes.extend(SentenceChange("delete", old=text) for text in old[i1:i2])
        elif tag == "insert":
            changes.extend(SentenceChange("insert", new=text) for text in new[j1:j2])
        else:
            changes.extend(_pair_sentences(old[i1:i2], new[j1:j2]))
    return changes


def _similarity(old: str, new: str) -> float:
    return SequenceMatcher(None, old.lower().split(), new.lower().split(), autojunk=False).ratio()


def _pair_sentences(old: list[str], new: list[str]) -> list[SentenceChange]:
    """A run of changed sentences as replacements, deletions and insertions: pairs are
    chosen, in order, to be similar enough and as similar as possible in total."""
    if len(old) * len(new) > _MAX_PAIRING_CELLS:
        paired = min(len(old), len(new))
        return [
            *(SentenceChange("replace", a, b) for a, b in zip(old, new, strict=False)),
            *(SentenceChange("delete", old=text) for text in old[paired:]),
            *(SentenceChange("insert", new=text) for text in new[paired:]),
        ]
    rows, cols = len(old), len(new)
    similar = [[_similarity(a, b) for b in new] for a in old]
    # best[i][j]: the best total similarity pairing old[i:] with new[j:]
    best = [[0.0] * (cols + 1) for _ in range(rows + 1)]
    for i in range(rows - 1, -1, -1):
        for j in range(cols - 1, -1, -1):
            score = max(best[i + 1][j], best[i][j + 1])
            if similar[i][j] >= _SIMILAR:
                score = max(score, similar[i][j] + best[i + 1][j + 1])
            best[i][j] = score
    changes, i, j = [], 0, 0
    while i < rows or j < cols:
        if (
            i < rows
            and j < cols
            and similar[i][j] >= _SIMILAR
            and (best[i][j] == similar[i][j] + best[i + 1][j + 1])
        ):
            changes.append(SentenceChange("replace", old[i], new[j]))
            i, j = i + 1, j + 1
        elif i < rows and (j == cols or best[i][j] == best[i + 1][j]):
            changes.append(SentenceChange("delete", old=old[i]))
            i += 1
        else:
            changes.append(SentenceChange("insert", new=new[j]))
            j += 1
    return changes


# --- claims and citations ---


def _dois(bibliography: dict) -> dict[str, str]:
    """Normalised DOI of each item that has one (an unreadable DOI compares as text)."""
    dois = {}
    for key, item in bibliography.items():
        value = (item or {}).get("DOI") or (item or {}).get("doi")
        if not isinstance(value, str) or not value.strip():
            continue
        try:
            dois[key] = citations.normalize_doi(value)
        except citations.IdentifierError:
            dois[key] = value.strip().lower()
    return dois


def _unmatched(keys, dois: dict[str, str], other_keys, other_dois: dict[str, str]) -> list[str]:
    """Keys (in order) with no counterpart among `other_keys`: the same DOI when both
    items have one, else the same key."""
    other_keys = set(other_keys)
    other_doi_values = {other_dois[key] for key in other_keys if key in other_dois}
    unmatched = []
    for key in dict.fromkeys(keys):
        doi = dois.get(key)
        if doi and doi in other_doi_values:
            continue
        if key in other_keys and not (doi and other_dois.get(key)):
            continue
        unmatched.append(key)
    return unmatched


def _support_keys(claim: dict) -> list[str]:
    return [ref["key"] for ref in claim.get("supports") or [] if ref.get("key")]


def _diff_claims(
    old_claims: list[dict], new_claims: list[dict], old_dois: dict, new_dois: dict
) -> tuple[list[dict], list[dict], list[ClaimChange]]:
    old_by_id = {claim["id"]: claim for claim in old_claims}
    new_ids = {claim["id"] for claim in new_claims}
    added = [claim for claim in new_claims if claim["id"] not in old_by_id]
    removed = [claim for claim in old_claims if claim["id"] not in new_ids]
    changed = []
    for claim in new_claims:
        before = old_by_id.get(claim["id"])
        if before is None:
            continue
        old_supports, new_supports = _support_keys(before), _support_keys(claim)
        old_against = list(before.get("contradicts") or [])
        new_against = list(claim.get("contradicts") or [])
        change = ClaimChange(
            id=claim["id"],
            old_statement=before.get("statement") or "",
            new_statement=claim.get("statement") or "",
            old_certainty=before.get("certainty") or "",
            new_certainty=claim.get("certainty") or "",
            supports_added=_unmatched(new_supports, new_dois, old_supports, old_dois),
            supports_removed=_unmatched(old_supports, old_dois, new_supports, new_dois),
            contradicts_added=_unmatched(new_against, new_dois, old_against, old_dois),
            contradicts_removed=_unmatched(old_against, old_dois, new_against, new_dois),
        )
        if (
            change.statement_changed
            or change.certainty_changed
            or change.supports_added
            or change.supports_removed
            or change.contradicts_added
            or change.contradicts_removed
        ):
            changed.append(change)
    return added, removed, changed


# --- HTML -----------------------------------------------------------------------------


def inline_html(change: SentenceChange) -> SafeString:
    """One sentence change as HTML: a replacement marked word by word with `<del>` and
    `<ins>`, an insertion as `<ins>`, a deletion as `<del>`, an equal sentence as text.
    All snapshot text is escaped; the result is marked safe for templates."""
    if change.kind == "equal":
        return escape(change.new)
    if change.kind == "insert" or not change.old:
        return format_html("<ins>{}</ins>", change.new)
    if change.kind == "delete" or not change.new:
        return format_html("<del>{}</del>", change.old)
    old_tokens, new_tokens = _TOKEN_RE.findall(change.old), _TOKEN_RE.findall(change.new)
    if len(old_tokens) > MAX_INLINE_TOKENS or len(new_tokens) > MAX_INLINE_TOKENS:
        segments = [("replace", change.old, change.new)]
    else:
        segments = _word_segments(old_tokens, new_tokens)
    html = []
    for tag, old, new in segments:
        if tag == "equal":
            html.append(escape(old))
            continue
        if old:
            html.append(format_html("<del>{}</del>", old))
        if new:
            html.append(format_html("<ins>{}</ins>", new))
    return mark_safe("".join(html))  # noqa: S308 - every piece is escaped above


def _word_segments(old: list[str], new: list[str]) -> list[tuple[str, str, str]]:
    """(tag, old text, new text) runs of a word-level diff, where a space between two
    changes joins them, so "a b" -> "c d" is one deletion and one insertion rather
    than two of each."""
    segments: list[list[str]] = []
    matcher = SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        old_text, new_text = "".join(old[i1:i2]), "".join(new[j1:j2])
        kind = "equal" if tag == "equal" else "change"
        segments.append([kind, old_text, new_text])
    merged: list[list[str]] = []
    for index, segment in enumerate(segments):
        is_gap = (
            segment[0] == "equal"
            and not segment[1].strip()
            and 0 < index < len(segments) - 1
            and merged
            and merged[-1][0] == "change"
            and segments[index + 1][0] == "change"
        )
        if is_gap:
            segment = ["change", segment[1], segment[2]]
        if merged and merged[-1][0] == "change" and segment[0] == "change":
            merged[-1][1] += segment[1]
            merged[-1][2] += segment[2]
        else:
            merged.append(list(segment))
    return [(tag, old_text, new_text) for tag, old_text, new_text in merged]
