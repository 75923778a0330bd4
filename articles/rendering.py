"""The one Markdown renderer for the article format (shared/spec/article-format.md).

Text in, data or HTML out: no database, so the importer, the draft services, the
approval step and the admin preview all read an article the same way. `parse_body`
splits a body into sections, claims and citations and is strict (it raises
`ArticleFormatError` with a line number); `render_sections` turns stored sections
into the public HTML and is lenient (stored text was validated when it was saved,
and a page must never fail to render).

Why markdown-it-py: it parses in linear time, where Python-Markdown is quadratic on
hostile input. The project's own inline rules look at bounded windows, so they keep
it linear. Raw HTML is escaped, links are allow-listed, and nh3 sanitises the final
HTML as defence in depth.

Only ATX `## Heading` lines at the top level start a section. A setext heading
(`Heading` underlined with `---`) stays inside its section as an `<h2>`, so an
underline that looks like a horizontal rule never silently re-sections an article.

The renderer is five modules: `markup` (the format's vocabulary and error),
`markdown_rules` (the markdown-it instance with our citation, span and heading rules),
`mdit_compat` (the two markdown-it internals we replace, fingerprinted by a test),
`sanitize` (nh3) and this one (parsing, rendering, the editor preview), which is
what the rest of the site imports.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Mapping, Sequence

from markdown_it.common.utils import escapeHtml

from articles.markdown_rules import CONTEXT_KEY, MD, RenderContext
from articles.markup import (
    ANCHOR_RE,
    CERTAINTIES,
    CERTAINTY_LABELS,
    CITATION_KEY,
    CITATION_KEY_RE,
    CLAIM_ID_RE,
    LEAD_ANCHOR,
    MARKUP_CHARS_RE,
    MAX_ATTRIBUTE_CHARS,
    MAX_BODY_CHARS,
    MAX_CITATION_CHARS,
    MAX_MARKUP_CHARS,
    RESERVED_ANCHOR_RE,
    SLUG_MAX,
    ArticleFormatError,
    CiteRef,
    ClaimSource,
    Rendered,
    SectionSource,
    contradicts_keys,
    normalise_certainty,
)
from articles.sanitize import sanitize_html
from evidence import citations

# --- parsing ------------------------------------------------------------------------


def slugify_heading(text: str, fallback: str = "section") -> str:
    """Lowercase ASCII words joined by single hyphens ("Straße & Co." -> "strasse-co");
    `fallback` when the text has no letter or digit that has an ASCII form."""
    ascii_text = unicodedata.normalize("NFKD", text.casefold()).encode("ascii", "ignore")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.decode()).strip("-")
    return slug[:SLUG_MAX].rstrip("-") or fallback


class _LineCounter:
    """Line of a position in an inline token's text, counting forward, so a paragraph
    with many citations is scanned once."""

    def __init__(self, content: str, first_line: int):
        self.content, self.first_line, self.pos, self.line = content, first_line, 0, first_line

    def at(self, pos: int) -> int:
        if pos < self.pos:
            self.pos, self.line = 0, self.first_line
        self.line += self.content.count("\n", self.pos, pos)
        self.pos = pos
        return self.line


def _statement(parts: list[str]) -> str:
    """Plain claim text: citations (\\x00) removed, no space left before punctuation."""
    text = re.sub(r" ?\x00+ ?(?=[.,;:!?)]|$)", "", " ".join("".join(parts).split()))
    return " ".join(text.replace("\x00", " ").split())


def _claim_source(claim: dict, seen: dict[str, int]) -> ClaimSource:
    """Validate one claim span strictly: a typo in its attributes must not silently
    publish a claim as ungraded or without its contradicting evidence."""
    attrs, line, name = claim["attrs"], claim["line"], claim["attrs"].id
    certainty = normalise_certainty(attrs.values.get("certainty", ""))
    contradicts = contradicts_keys(attrs.values.get("contradicts", ""))
    unknown = sorted(set(attrs.values) - {"certainty", "contradicts"})
    bad_keys = [key for key in contradicts if not CITATION_KEY_RE.fullmatch(key)]
    if not name:
        problem = "claim has no id: write it as [statement [@key]]{.claim #some-id}"
    elif not CLAIM_ID_RE.fullmatch(name):
        problem = (
            f"claim id {name!r} must start with a letter or digit and use only letters, "
            "digits, '-' and '_' (at most 80 characters)"
        )
    elif name in seen:
        problem = f"claim id {name!r} is used twice (first on line {seen[name]})"
    elif attrs.unreadable:
        problem = f"claim {name!r}: cannot read {attrs.unreadable[0]!r} in its {{...}}"
    elif unknown:
        problem = f"claim {name!r}: unknown attribute {unknown[0]!r} (use certainty=, contradicts=)"
    elif certainty and certainty not in CERTAINTIES:
        problem = (
            f"claim {name!r}: certainty {attrs.values['certainty']!r} is not one of "
            f"{', '.join(CERTAINTIES)}"
        )
    elif bad_keys:
        problem = f"claim {name!r}: {bad_keys[0]!r} in contradicts= is not a citation key"
    else:
        seen[name] = line
        return ClaimSource(
            id=name,
            statement=_statement(claim["parts"]),
            certainty=certainty,
            supports=tuple(claim["supports"]),
            contradicts=tuple(dict.fromkeys(contradicts)),
            line=line,
        )
    raise ArticleFormatError(problem, line)


def _claims_and_citations(tokens, seen: dict[str, int]):
    """Every citation of a section in order, and each claim with the citations and
    plain text inside it (markdown-it tokens: code spans and fences never count)."""
    claims, citations = [], []
    for token in tokens:
        if token.type != "inline" or not token.children:
            continue
        lines = _LineCounter(token.content, token.map[0] + 1 if token.map else 1)
        stack: list = []  # per open span: a claim being collected, or None
        for child in token.children:
            claim = next((entry for entry in reversed(stack) if entry), None) if stack else None
            if child.type == "span_open":
                attrs, line = child.meta["attrs"], lines.at(child.meta["pos"])
                if "claim" not in attrs.classes:
                    stack.append(None)
                elif claim is not None:
                    raise ArticleFormatError("a claim cannot contain another claim", line)
                else:
                    stack.append({"attrs": attrs, "line": line, "parts": [], "supports": []})
            elif child.type == "span_close":
                if done := stack.pop():
                    claims.append(_claim_source(done, seen))
            elif child.type == "citation":
                first = lines.at(child.meta["pos"])
                refs = [
                    dataclasses.replace(ref, line=first + ref.line) for ref in child.meta["refs"]
                ]
                citations.extend(refs)
                if claim:
                    claim["supports"].extend(refs)
                    claim["parts"].append("\x00")
            elif claim and child.type in ("text", "code_inline"):
                claim["parts"].append(child.content)
            elif claim and child.type in ("softbreak", "hardbreak"):
                claim["parts"].append(" ")
    return claims, citations


def _explicit_anchors(tokens) -> dict[str, int]:
    """`{#id}` on any heading: valid, not reserved for the page, and unique."""
    taken: dict[str, int] = {}
    for token in tokens:
        if token.type != "heading_open":
            continue
        line = token.map[0] + 1
        if "anchor_error" in token.meta:
            raise ArticleFormatError(
                f"anchor {{#{token.meta['anchor_error']}}} must be letters, digits, '-' and "
                "'_', starting with a letter or digit (at most 120 characters)",
                line,
            )
        if not (anchor := token.meta.get("anchor")):
            continue
        if RESERVED_ANCHOR_RE.fullmatch(anchor):
            raise ArticleFormatError(f"anchor {{#{anchor}}} is reserved for the page", line)
        if anchor in taken:
            raise ArticleFormatError(
                f"anchor {{#{anchor}}} is used twice (first on line {taken[anchor]})", line
            )
        taken[anchor] = line
    return taken


def _strip_blank_lines(lines: list[str]) -> str:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return "\n".join(lines[start:end])


def check_complexity(text: str) -> None:
    """Refuse, before parsing, a body too large or too dense in markup to render fast."""
    if len(text) > MAX_BODY_CHARS:
        raise ArticleFormatError(
            f"the text is {len(text):,} characters long; at most {MAX_BODY_CHARS:,} are "
            "allowed: split it into several articles"
        )
    markup = len(MARKUP_CHARS_RE.findall(text))
    if markup > MAX_MARKUP_CHARS:
        raise ArticleFormatError(
            f"the text has {markup:,} markup characters (brackets, asterisks, pipes, "
            f"hashes...); at most {MAX_MARKUP_CHARS:,} are allowed"
        )


def _parse(text: str) -> list[tuple[SectionSource, object, list]]:
    """One markdown-it parse of the whole body, split at top-level ATX `##` headings
    (so `## x` in a fenced block, a list or a quote never splits). Returns each
    section with its heading's inline token (None for the lead) and body tokens."""
    check_complexity(text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    tokens, lines = MD.parse(text.removesuffix("\n") + "\n", {}), text.split("\n")
    breaks = [
        index
        for index, token in enumerate(tokens)
        if token.type == "heading_open" and token.level == 0 and token.markup == "##"
    ]
    taken = _explicit_anchors(tokens)
    next_suffix: dict[str, int] = {}
    seen_claims: dict[str, int] = {}
    line_ends = [tokens[index].map[0] for index in breaks] + [len(lines)]
    token_ends = [*breaks, len(tokens)]
    body = _strip_blank_lines(lines[: line_ends[0]])
    parsed = []
    if body.strip():
        claims, citations = _claims_and_citations(tokens[: token_ends[0]], seen_claims)
        lead = SectionSource("", LEAD_ANCHOR, body, 1, tuple(claims), tuple(citations))
        parsed.append((lead, None, tokens[: token_ends[0]]))
    for number, start in enumerate(breaks):
        heading_open, inline = tokens[start], tokens[start + 1]
        line = heading_open.map[0] + 1
        if not (heading := inline.content.strip()):
            raise ArticleFormatError("a section heading cannot be empty", line)
        if not (anchor := heading_open.meta.get("anchor")):
            base = slugify_heading(heading)
            base = f"section-{base}" if RESERVED_ANCHOR_RE.fullmatch(base) else base
            anchor = base
            while anchor in taken:  # -2, -3, ...: each base's counter only moves forward
                next_suffix[base] = next_suffix.get(base, 1) + 1
                anchor = f"{base}-{next_suffix[base]}"
            taken[anchor] = line
        end = token_ends[number + 1]
        claims, citations = _claims_and_citations(tokens[start + 1 : end], seen_claims)
        body = _strip_blank_lines(lines[line : line_ends[number + 1]])
        source = SectionSource(heading, anchor, body, line, tuple(claims), tuple(citations))
        parsed.append((source, inline, tokens[start + 3 : end]))
    return parsed


def parse_body(text: str) -> list[SectionSource]:
    """Sections, claims and citations of an article body, validated strictly."""
    return [source for source, _, _ in _parse(text)]


# --- rendering ----------------------------------------------------------------------


def _render_section(heading: str, anchor: str, heading_inline, tokens, env: dict) -> str:
    body = MD.renderer.render(tokens, MD.options, env)
    if not heading:
        return f'<section id="{escapeHtml(anchor)}" class="lead">\n{body}</section>\n'
    if heading_inline is None:
        heading_inline = MD.parseInline(heading, env)[0]
    title = MD.renderer.renderInline(heading_inline.children or [], MD.options, env)
    return f'<section id="{escapeHtml(anchor)}">\n<h2>{title}</h2>\n{body}</section>\n'


def _finish(parts: list[str], ctx: RenderContext) -> Rendered:
    if ctx.numbers:
        items = "".join(
            f'<li id="ref-{number}">{citations.format_reference_html(ctx.bibliography[key])}</li>\n'
            for key, number in ctx.numbers.items()
        )
        parts.append(
            '<section id="references-section" class="references">\n<h2>References</h2>\n'
            f'<ol id="references">\n{items}</ol>\n</section>\n'
        )
    return Rendered(sanitize_html("".join(parts)), tuple(ctx.numbers), tuple(ctx.unknown))


def render_sections(
    sections: Sequence[tuple[str, str, str]], bibliography: Mapping[str, dict]
) -> Rendered:
    """Render stored (heading, anchor, body) sections, then the reference list.

    Lenient: a claim whose id is missing, invalid or repeated renders without an id,
    an unknown certainty as unrated. Each body is parsed on its own (a stray fence in
    one section cannot swallow the next); reference-style link definitions carry
    forward from one section to the next. A body is read as if it ended in a newline,
    as it does inside a whole article."""
    check_complexity("\n".join(f"{heading}\n{body}" for heading, _, body in sections))
    ctx = RenderContext(bibliography)
    env: dict = {CONTEXT_KEY: ctx}
    parts = [
        _render_section(heading, anchor, None, MD.parse(f"{body}\n", env), env)
        for heading, anchor, body in sections
    ]
    return _finish(parts, ctx)


def render_body(text: str, bibliography: Mapping[str, dict]) -> Rendered:
    """`render_sections` of `parse_body(text)`, rendering the tokens of that one parse;
    raises ArticleFormatError as parse_body does."""
    ctx = RenderContext(bibliography)
    env: dict = {CONTEXT_KEY: ctx}
    parts = [
        _render_section(source.heading, source.anchor, inline, tokens, env)
        for source, inline, tokens in _parse(text)
    ]
    return _finish(parts, ctx)


def markdownify(text: str, bibliography: Mapping[str, dict] | None = None) -> str:
    """The editor's live preview: exactly the reader's rendering, with the given
    bibliography (unknown keys show as `[?key]`). A format error is shown above a
    lenient render rather than failing the preview while the author is still typing."""
    bibliography = bibliography or {}
    try:
        rendered = render_body(text, bibliography)
        if rendered.unknown_keys:
            missing = ", ".join(rendered.unknown_keys)
            notice = f'<p class="format-error">Unknown citation keys: {escapeHtml(missing)}</p>\n'
            return sanitize_html(notice) + rendered.html
        return rendered.html
    except ArticleFormatError as exc:
        where = f"Line {exc.line}: " if exc.line else ""
        notice = sanitize_html(f'<p class="format-error">{escapeHtml(where + exc.message)}</p>\n')
        try:
            return notice + render_sections([("", LEAD_ANCHOR, text)], bibliography).html
        except ArticleFormatError:  # too large or too dense to render at all
            return notice


# The renderer's public face: what the rest of the site imports from here.
__all__ = [
    "ANCHOR_RE",
    "CERTAINTIES",
    "CERTAINTY_LABELS",
    "CITATION_KEY",
    "CITATION_KEY_RE",
    "CLAIM_ID_RE",
    "LEAD_ANCHOR",
    "MAX_ATTRIBUTE_CHARS",
    "MAX_BODY_CHARS",
    "MAX_CITATION_CHARS",
    "MAX_MARKUP_CHARS",
    "ArticleFormatError",
    "CiteRef",
    "ClaimSource",
    "Rendered",
    "SectionSource",
    "check_complexity",
    "markdownify",
    "parse_body",
    "render_body",
    "render_sections",
    "sanitize_html",
    "slugify_heading",
]
