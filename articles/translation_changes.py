"""Which claims of a translation no longer say what the English says (issue 18).

Pure functions on two source snapshots, used by the editors' side
(editorial/services/translation_staleness.py: the staleness gate, the admin's side by
side view) and by the public Spanish page (publicsite: the notice on each stale claim).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StaleClaim:
    """A claim of a published translation that no longer says what the English says."""

    id: str
    reasons: tuple[str, ...]  # of "text", "grade", "citations", "added", "removed"
    source_statement: str  # the live English statement ("" when removed)


def _facts(claim: dict) -> tuple:
    supports = [(ref["key"], ref.get("locator", "")) for ref in claim.get("supports") or []]
    return supports, list(claim.get("contradicts") or [])


def claims_changed_between(old: dict, new: dict) -> list[StaleClaim]:
    """The claims whose text, grade or citations differ between two source snapshots,
    plus those added or removed, in the new version's order (removed ones last).

    Not `editorial.diffing`'s claim diff: that matches citations by DOI and ignores
    locators, as a reviewer reads a change; a translation carries the keys and locators
    verbatim, so any change to them means the translation must change too."""
    before = {claim["id"]: claim for claim in old.get("claims") or []}
    stale = []
    for claim in new.get("claims") or []:
        was = before.pop(claim["id"], None)
        if was is None:
            stale.append(StaleClaim(claim["id"], ("added",), claim["statement"]))
            continue
        reasons = []
        if was["statement"] != claim["statement"]:
            reasons.append("text")
        if (was.get("certainty") or "") != (claim.get("certainty") or ""):
            reasons.append("grade")
        if _facts(was) != _facts(claim):
            reasons.append("citations")
        if reasons:
            stale.append(StaleClaim(claim["id"], tuple(reasons), claim["statement"]))
    stale += [StaleClaim(key, ("removed",), "") for key in before]
    return stale
