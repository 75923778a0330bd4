"""The invariant every draft write keeps: the stored sections and claim rows are exactly
what parsing the draft's Markdown gives (issue 11). `claim_links` is the one derivation
of a claim's citation links that writing a draft, merging duplicate citations and
`draft_verify` share; `draft_verify` raises inside the write that broke the invariant,
so that write rolls back.
"""

from __future__ import annotations

from collections.abc import Mapping

from articles.articlefile import ArticleFileError, write_body_text
from articles.models import Article, ClaimCitation
from articles.rendering import ArticleFormatError, ClaimSource, SectionSource, parse_body
from articles.services.snapshots import DraftRows, draft_rows

SUPPORTS, CONTRADICTS = ClaimCitation.Relation.SUPPORTS, ClaimCitation.Relation.CONTRADICTS
LOCATOR_MAX = ClaimCitation._meta.get_field("locator").max_length


def claim_links[T](
    claim: ClaimSource, citations_by_key: Mapping[str, T]
) -> list[tuple[T, str, str]]:
    """The (citation, relation, locator) links a claim's Markdown gives, in the order the
    claim rows store them: supporting citations as first cited, then contradicting ones.
    One link per citation and relation: a work cited twice (or under two keys) keeps the
    place of its first mention and the first locator given for it. The one derivation
    `_write_sections`, the merge of duplicate citations and `draft_verify` share."""
    links: dict[tuple[T, str], str] = {}
    supports = [(ref.key, SUPPORTS, ref.locator[:LOCATOR_MAX]) for ref in claim.supports]
    contradicts = [(key, CONTRADICTS, "") for key in claim.contradicts]
    for key, relation, locator in supports + contradicts:
        link = (citations_by_key[key], relation)
        links[link] = links.get(link) or locator
    return [(citation, relation, locator) for (citation, relation), locator in links.items()]


def claim_keys_known(claim: ClaimSource, citation_ids: Mapping[str, int]) -> bool:
    return all(
        key in citation_ids for key in (*(r.key for r in claim.supports), *claim.contradicts)
    )


class DraftIntegrityError(ArticleFileError):
    """The stored sections and claim rows differ from what parsing the draft's Markdown
    gives. Raised inside the write that caused it, so that write is rolled back."""

    def __init__(self, article: Article, problems: list[str]):
        self.article = article
        self.problems = problems
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(
            f"the stored claims of {article.slug} would not match its text: "
            f"{problems[0]}{more}; nothing was saved",
            path="article text",
        )


def draft_problems(
    article: Article,
    *,
    rows: DraftRows | None = None,
    parsed: tuple[str, list[SectionSource]] | None = None,
) -> list[str]:
    """How the stored draft differs from its own Markdown; empty when it does not.

    Parsing the sections' text (the whole body, as an export writes it) must give the
    same sections and exactly the stored Claim rows: keys, order, section, statement,
    certainty, and the supporting and contradicting citations with their locators and
    order. Five queries (`draft_rows`) and one parse. `rows`: the article's draft rows
    already read in this transaction (then no query); `parsed`: a text and what
    `parse_body` gave for it, reused only when the stored sections' text is exactly that
    text (an import that just parsed it), else the text is parsed again."""
    if rows is None:
        rows = draft_rows([article])[article.pk]
    stored_sections = [(heading, anchor, body) for _, heading, anchor, body in rows.sections]
    text = write_body_text(stored_sections)
    if parsed is not None and parsed[0] == text:
        sections = parsed[1]
    else:
        try:
            sections = parse_body(text)
        except ArticleFormatError as exc:
            return [f"the text no longer parses ({exc})"]
    problems = []
    if stored_sections != [(s.heading, s.anchor, s.body) for s in sections]:
        problems.append("the sections read back from the text differ from the stored ones")
    citation_ids = {link.key: link.citation_id for link in rows.bibliography}
    expected = []
    for section in sections:
        for claim in section.claims:
            if not claim_keys_known(claim, citation_ids):
                problems.append(f"claim {claim.id!r} cites a key missing from the bibliography")
                continue
            expected.append(
                (section.anchor, claim.id, claim.statement, claim.certainty,
                 tuple(claim_links(claim, citation_ids)))
            )  # fmt: skip
    anchors = {pk: anchor for pk, _, anchor, _ in rows.sections}
    stored = [
        (
            anchors.get(section_id),
            key,
            statement,
            certainty,
            tuple(
                (citation_id, relation, locator)
                for citation_id, relation, locator, _, _ in sorted(
                    rows.links[pk],
                    key=lambda link: (link[1] != SUPPORTS, link[3], link[4]),
                )
            ),
        )
        for pk, _, section_id, key, statement, certainty in rows.claims
    ]
    if expected != stored:
        problems.extend(_claim_differences(expected, stored))
    return problems


def _claim_differences(expected: list[tuple], stored: list[tuple]) -> list[str]:
    fields = ("section", "key", "statement", "certainty", "citations")
    if [row[1] for row in expected] != [row[1] for row in stored]:
        return [
            f"the text has claims {[row[1] for row in expected]} but the rows are "
            f"{[row[1] for row in stored]}"
        ]
    return [
        f"claim {want[1]!r}: its {name} in the text is {a!r}, stored {b!r}"
        for want, got in zip(expected, stored, strict=True)
        for name, a, b in zip(fields, want, got, strict=True)
        if a != b
    ]


def draft_verify(
    *,
    article: Article,
    rows: DraftRows | None = None,
    parsed: tuple[str, list[SectionSource]] | None = None,
) -> None:
    """Raise DraftIntegrityError unless the stored claims are exactly what the draft's
    text says. Every write path that touches a draft calls this last, inside its
    transaction, so a write that breaks the invariant is rolled back whole. `rows` and
    `parsed`: as for `draft_problems`."""
    if problems := draft_problems(article, rows=rows, parsed=parsed):
        raise DraftIntegrityError(article, problems)
