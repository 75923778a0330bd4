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
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace

import nh3
from markdown_it import MarkdownIt
from markdown_it import helpers as _md_helpers
from markdown_it.common.utils import escapeHtml, unescapeAll
from markdown_it.rules_inline import StateInline

from evidence import citations

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
_MARKUP_RE = re.compile(r"[\[\]()*_|#>`{}!<~\\]")

_CITE_PART_RE = re.compile(
    rf"\s*(?:(?P<prefix>[^@]*?)\s+)?-?@(?P<key>{CITATION_KEY})(?P<suffix>.*)", re.DOTALL
)
_ATTR_TOKEN_RE = re.compile(
    r'\s*(?:(?P<sigil>[.#])(?P<name>[^\s.#="]+)'
    r'|(?P<key>[A-Za-z][\w:-]*)=(?:"(?P<quoted>[^"]*)"|(?P<bare>[^\s"]*))|(?P<junk>\S+))'
)
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_URL_IGNORED_RE = re.compile(r"[\t\n\r]")
_C0_AND_SPACE = "".join(chr(i) for i in range(0x21))
_ALIGN_RE = re.compile(r"text-align:(left|center|right)")
_LINK_SCHEMES = ("", "http", "https", "mailto")  # "": a relative URL
_IMAGE_SCHEMES = ("", "http", "https")
_BRACKET_RUN_RE = re.compile(r"[\[!]+")
_CTX, _LAST_INDEX, _LABELS = "ptsdinfo_context", "ptsdinfo_last_index", "ptsdinfo_labels"


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
class _SpanAttrs:
    """What a `{...}` block after a bracketed span says, before any validation."""

    id: str | None
    classes: tuple[str, ...]
    values: dict[str, str]
    unreadable: tuple[str, ...]


# --- inline rules -------------------------------------------------------------------


def _url_scheme(url: str) -> str:
    """The scheme a browser would see ("" when relative): browsers drop tabs and
    newlines anywhere, and control characters and spaces around a URL."""
    match = _SCHEME_RE.match(_URL_IGNORED_RE.sub("", url).strip(_C0_AND_SPACE))
    return match.group(1).lower() if match else ""


def _accept_link(url: str) -> bool:
    """markdown-it parses every link destination; the renderer then shows a link whose
    scheme is not allowed as its text only, where markdown-it would print the raw
    `[text](javascript:...)` source. Entities are already decoded by then, so
    `jav&#x61;script:` is seen as `javascript:`."""
    return True


def _last_index(state: StateInline, needle: str) -> int:
    """Last position of `needle` in this paragraph, found once per paragraph."""
    cache = state.env.setdefault(_LAST_INDEX, {})
    cached = cache.get(needle)
    if cached is None or cached[0] is not state.src:
        cached = cache[needle] = (state.src, state.src.rfind(needle))
    return cached[1]


def _parse_link_label(state: StateInline, start: int, disableNested: bool = False) -> int:
    """markdown-it's `parseLinkLabel` step for step, with savings that matter on
    bracket-heavy input: skipToken's cache is read inline; a scan stops once it would
    need more `]` than the paragraph has; and a scan that failed with nested
    brackets allowed (the span and image rules scan first) is remembered, so the link
    rule does not scan that `[` again: it cannot succeed where that scan failed."""
    memo = state.env.get(_LABELS)
    if memo is None or memo[0] is not state.src:
        memo = state.env[_LABELS] = (state.src, {}, state.src.count("]"))
    key = (start, state.posMax, state.level)
    found = memo[1].get(key)
    if found is not None and (found < 0 or not disableNested):
        return found
    src, cache, skip_token, closes = state.src, state.cache, state.md.inline.skipToken, memo[2]
    old_pos, level, found = state.pos, 1, -1
    state.pos = start + 1
    while state.pos < state.posMax:
        marker = src[state.pos]
        if marker == "[" and level >= closes:
            break  # text `[` or a nested link or span: either needs one more `]`
        if marker == "]":
            level -= 1
            if level == 0:
                found = state.pos
                break
        prev_pos = state.pos
        cached = cache.get(prev_pos)
        if cached is None:
            skip_token(state)
        else:
            state.pos = cached
        if marker == "[":
            if prev_pos == state.pos - 1:
                level += 1
            elif disableNested:
                state.pos = old_pos
                return -1
    state.pos = old_pos
    if not disableNested:
        memo[1][key] = found
    return found


def _parse_citation_group(inner: str) -> list[CiteRef] | None:
    """`see @a, p. 3; @b` -> CiteRefs (line = newlines before the key), or None when
    any part is not a citation (`[see chapter 3]`, `[mail a@b.org]`)."""
    refs, offset = [], 0
    for part in inner.split(";"):
        match = _CITE_PART_RE.fullmatch(part)
        if match is None:
            return None
        locator = " ".join(match["suffix"].split()).removeprefix(",").strip()
        prefix = " ".join((match["prefix"] or "").split())
        line = inner.count("\n", 0, offset + match.start("key"))
        refs.append(CiteRef(match["key"], locator, prefix, line))
        offset += len(part) + 1
    return refs


def _bracket_rule(state: StateInline, silent: bool) -> bool:
    """The project's syntax at `[`, tried before markdown-it's `link`: a citation, else a
    span. A run of `[` / `!` with no `]` after it in the paragraph is plain text: without
    that shortcut each such bracket costs a nested label scan (maxNesting deep).

    In validation mode (markdown-it's label scans) only the shortcut applies: citations
    and spans balance their brackets, so a scan stepping over them character by
    character ends in the same place."""
    src, pos = state.src, state.pos
    if src[pos] not in "[!":
        return False
    if _last_index(state, "]") < pos:
        end = _BRACKET_RUN_RE.match(src, pos, state.posMax).end()
        if not silent:
            state.append_pending(src[pos:end])
        state.pos = end
        return True
    return not silent and src[pos] == "[" and (_citation(state) or _span(state))


def _citation(state: StateInline) -> bool:
    """Pandoc citations `[@a]`, `[@a; @b]`, `[see @a, pp. 4-5]`, `[-@a]`. Linear: looks at
    most MAX_CITATION_CHARS ahead and gives up at a nested `[`. A bracket followed by
    `(` or `{` is a link or a span; inside a link it is text (no link in a link)."""
    src, start = state.src, state.pos
    if state.linkLevel > 0:
        return False
    end = src.find("]", start + 1, min(state.posMax, start + MAX_CITATION_CHARS))
    if end < 0 or (end + 1 < state.posMax and src[end + 1] in "({"):
        return False
    inner = src[start + 1 : end]
    if "@" not in inner or "[" in inner or (refs := _parse_citation_group(inner)) is None:
        return False
    state.push("citation", "", 0).meta = {"refs": refs, "pos": start}
    state.pos = end + 1
    return True


def _parse_span_attrs(inner: str) -> _SpanAttrs:
    """Read `.class #id key=value key="value"` without judging it. Unlike the attrs
    plugin's parser it accepts the spec's `contradicts=key1,key2`, and `certainty=very
    low`, where the bare word `low` can only continue the value."""
    span_id, classes, values, unreadable = None, [], {}, []
    inner, pos, last_key = inner.strip(), 0, None
    while pos < len(inner):
        match = _ATTR_TOKEN_RE.match(inner, pos)
        pos = match.end()
        if match["sigil"] == "#":
            span_id = match["name"]
        elif match["sigil"] == ".":
            classes.append(match["name"])
        elif match["key"]:
            last_key = match["key"]
            values[last_key] = match["bare"] if match["quoted"] is None else match["quoted"]
            continue
        elif last_key == "certainty" and f"{values[last_key]} {match['junk']}".lower() == (
            "very low"
        ):
            values["certainty"] = "very low"
        else:
            unreadable.append(match["junk"])
        last_key = None
    return _SpanAttrs(span_id, tuple(classes), values, tuple(unreadable))


def _span(state: StateInline) -> bool:
    """`[text]{...}` spans, the claim syntax, tried before links (Pandoc reads `[a]{.x}`
    as a span even when `[a]` is a defined reference). Like mdit-py-plugins' attrs span
    rule, but the attribute block must close within MAX_ATTRIBUTE_CHARS."""
    src, start, maximum = state.src, state.pos, state.posMax
    if _last_index(state, "]{") < start:
        return False
    label_end = _parse_link_label(state, start)
    if label_end < 0 or label_end + 1 >= maximum or src[label_end + 1] != "{":
        return False
    attrs_end = src.find("}", label_end + 2, min(maximum, label_end + 2 + MAX_ATTRIBUTE_CHARS))
    if attrs_end < 0 or "{" in src[label_end + 2 : attrs_end]:
        return False
    token = state.push("span_open", "span", 1)
    token.meta = {"attrs": _parse_span_attrs(src[label_end + 2 : attrs_end]), "pos": start}
    state.pos, state.posMax = start + 1, label_end
    state.md.inline.tokenize(state)
    state.push("span_close", "span", -1)
    state.pos, state.posMax = attrs_end + 1, maximum
    return True


def _block_attrs_rule(state) -> None:
    """Core rule, before inline parsing: `{#id}` ending a heading becomes its anchor,
    and table alignment becomes a class (the page allows no style attribute)."""
    for index, token in enumerate(state.tokens):
        if token.type == "heading_open":
            inline = state.tokens[index + 1]
            text = inline.content.rstrip()
            start = text.rfind("{#") if text.endswith("}") else -1
            if start < 0 or "{" in text[start + 1 :] or "}" in text[start:-1]:
                continue
            if ANCHOR_RE.fullmatch(value := text[start + 2 : -1]):
                token.meta["anchor"] = value
                inline.content = text[:start].rstrip()
            else:
                token.meta["anchor_error"] = value
        elif (style := token.attrs.pop("style", None)) and (match := _ALIGN_RE.search(str(style))):
            token.attrs["class"] = f"align-{match[1]}"


# --- rendering rules ----------------------------------------------------------------


@dataclass
class _Context:
    """One article's render state: Vancouver numbers by first appearance."""

    bibliography: Mapping[str, dict]
    numbers: dict[str, int] = field(default_factory=dict)
    unknown: dict[str, None] = field(default_factory=dict)
    claim_ids: set[str] = field(default_factory=set)
    open_spans: list = field(default_factory=list)
    open_links: list = field(default_factory=list)

    def number(self, key: str) -> int | None:
        if key not in self.bibliography:
            self.unknown.setdefault(key)
            return None
        return self.numbers.setdefault(key, len(self.numbers) + 1)


def _missing(key: str) -> str:
    return f'<span class="citation-missing">[?{escapeHtml(key)}]</span>'


def _render_citation(self, tokens, idx, options, env) -> str:
    """`[1, 2]`; with a locator or prefix, `[see 1, pp. 4-5; 2]`. Unknown keys follow
    as `[?key]`, so the author sees them in the preview."""
    refs, parts, missing = tokens[idx].meta["refs"], [], []
    for ref in refs:
        number = env[_CTX].number(ref.key)
        if number is None:
            missing.append(_missing(ref.key))
            continue
        prefix = f"{escapeHtml(ref.prefix)} " if ref.prefix else ""
        locator = f", {escapeHtml(ref.locator)}" if ref.locator else ""
        parts.append(f'{prefix}<a class="citation" href="#ref-{number}">{number}</a>{locator}')
    separator = "; " if any(ref.locator or ref.prefix for ref in refs) else ", "
    group = f'<sup class="citations">[{separator.join(parts)}]</sup>' if parts else ""
    return group + "".join(missing)


def _normalise_certainty(value: str) -> str:
    return "-".join(value.lower().replace("_", " ").replace("-", " ").split())


def _contradicts(value: str) -> list[str]:
    return [key.strip().removeprefix("@") for key in value.split(",") if key.strip()]


def _render_span_open(self, tokens, idx, options, env) -> str:
    """A claim renders its hooks; any other span renders its content only, so no
    author-written attribute (style, on*, class, id) ever reaches the page."""
    ctx, attrs = env[_CTX], tokens[idx].meta["attrs"]
    if "claim" not in attrs.classes:
        ctx.open_spans.append(None)
        return ""
    certainty = _normalise_certainty(attrs.values.get("certainty", ""))
    certainty = certainty if certainty in CERTAINTIES else ""
    ctx.open_spans.append((certainty, _contradicts(attrs.values.get("contradicts", ""))))
    id_attr = ""
    if attrs.id and CLAIM_ID_RE.fullmatch(attrs.id) and attrs.id not in ctx.claim_ids:
        ctx.claim_ids.add(attrs.id)
        id_attr = f' id="claim-{attrs.id}"'
    return f'<span{id_attr} class="claim" data-certainty="{certainty or "unrated"}">'


def _render_span_close(self, tokens, idx, options, env) -> str:
    ctx = env[_CTX]
    if (claim := ctx.open_spans.pop() if ctx.open_spans else None) is None:
        return ""
    certainty, contradicts = claim
    html = ""
    if contradicts:
        numbers = [(key, ctx.number(key)) for key in contradicts]
        links = [_missing(k) if n is None else f'<a href="#ref-{n}">{n}</a>' for k, n in numbers]
        html += f' <span class="contradicted-by">Contradicting evidence: {", ".join(links)}</span>'
    badge = f"certainty-badge certainty-{certainty or 'unrated'}"
    return f'{html} <span class="{badge}">{CERTAINTY_LABELS[certainty]}</span></span>'


def _heading_tag(token) -> str:
    """`#` in a body is demoted to h2: the page title is the page's only h1."""
    return "h2" if token.tag == "h1" else token.tag


def _render_heading_open(self, tokens, idx, options, env) -> str:
    anchor = tokens[idx].meta.get("anchor")  # validated by ANCHOR_RE: nothing to escape
    id_attr = f' id="{anchor}"' if anchor else ""
    return f"<{_heading_tag(tokens[idx])}{id_attr}>"


def _render_link_open(self, tokens, idx, options, env) -> str:
    """Only http(s), mailto and relative links; anything else renders as its text."""
    attrs = tokens[idx].attrs
    href = str(attrs.get("href", ""))
    scheme = _url_scheme(href)
    env[_CTX].open_links.append(scheme in _LINK_SCHEMES)
    if scheme not in _LINK_SCHEMES:
        return ""
    html = f'<a href="{escapeHtml(href)}"'
    if attrs.get("title"):
        html += f' title="{escapeHtml(str(attrs["title"]))}"'
    if scheme in ("http", "https") or href.startswith("//"):
        html += ' rel="noopener noreferrer nofollow"'
    return html + ">"


def _render_link_close(self, tokens, idx, options, env) -> str:
    open_links = env[_CTX].open_links
    return "</a>" if not open_links or open_links.pop() else ""


def _render_image(self, tokens, idx, options, env) -> str:
    """Images from http(s) or relative URLs only; anything else shows its alt text."""
    token = tokens[idx]
    alt = escapeHtml(self.renderInlineAsText(token.children or [], options, env))
    src = str(token.attrs.get("src", ""))
    if _url_scheme(src) not in _IMAGE_SCHEMES:
        return alt
    title = token.attrs.get("title")
    title_attr = f' title="{escapeHtml(str(title))}"' if title else ""
    return f'<img src="{escapeHtml(src)}" alt="{alt}"{title_attr}>'


_DEST_STOP_RE = re.compile(r"[\\()\x00-\x20\x7f]")


def _parse_link_destination(string: str, pos: int, maximum: int):
    """markdown-it's parseLinkDestination with the same results, but the bare form
    jumps between the characters that matter with a regex instead of stepping through
    every character in Python: it runs once per "](" and was the cost of hostile input."""
    if string.startswith("<", pos):
        return _md_helpers.parseLinkDestination(string, pos, maximum)
    result = _md_helpers.parse_link_destination._Result()
    start, level = pos, 0
    while pos < maximum:
        match = _DEST_STOP_RE.search(string, pos, maximum)
        if match is None:
            pos = maximum
            break
        index, char = match.start(), match.group()
        if char == "\\":
            if index + 1 < maximum:
                if string[index + 1] == " ":
                    pos = index
                    break
                pos = index + 2
            else:
                pos = index + 1
            continue
        if char == "(":
            level += 1
            if level > 32:
                return result
            pos = index + 1
            continue
        if char == ")" and level:
            level -= 1
            pos = index + 1
            continue
        pos = index  # ")" at level 0, a space or a control character ends it
        break
    if start == pos or level != 0:
        return result
    result.str = unescapeAll(string[start:pos])
    result.pos = pos
    result.ok = True
    return result


def _build_markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "xhtmlOut": False})
    md.enable(["table", "strikethrough"])
    md.disable(["html_inline", "html_block"])
    md.validateLink = _accept_link
    md.helpers = SimpleNamespace(  # this instance only: markdown_it.helpers is shared
        parseLinkDestination=_parse_link_destination,
        parseLinkLabel=_parse_link_label,
        parseLinkTitle=md.helpers.parseLinkTitle,
    )
    md.inline.ruler.before("link", "bracket", _bracket_rule)
    md.core.ruler.after("block", "block_attrs", _block_attrs_rule)
    rules = {
        "citation": _render_citation,
        "span_open": _render_span_open,
        "span_close": _render_span_close,
        "heading_open": _render_heading_open,
        "heading_close": lambda self, tokens, idx, *_: f"</{_heading_tag(tokens[idx])}>\n",
        "link_open": _render_link_open,
        "link_close": _render_link_close,
        "image": _render_image,
        # No language-* class: the page has no highlighter.
        "fence": lambda self, tokens, idx, *_: (
            f"<pre><code>{escapeHtml(tokens[idx].content)}</code></pre>\n"
        ),
        "s_open": lambda *_: "<del>",
        "s_close": lambda *_: "</del>",
    }
    for name, rule in rules.items():
        md.add_render_rule(name, rule)
    return md


_MD = _build_markdown()


# --- parsing ------------------------------------------------------------------------


def slugify_heading(text: str) -> str:
    """Lowercase ASCII words joined by single hyphens ("Straße & Co." -> "strasse-co")."""
    ascii_text = unicodedata.normalize("NFKD", text.casefold()).encode("ascii", "ignore")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.decode()).strip("-")
    return slug[:SLUG_MAX].rstrip("-") or "section"


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
    certainty = _normalise_certainty(attrs.values.get("certainty", ""))
    contradicts = _contradicts(attrs.values.get("contradicts", ""))
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
    markup = len(_MARKUP_RE.findall(text))
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
    tokens, lines = _MD.parse(text.removesuffix("\n") + "\n", {}), text.split("\n")
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
    body = _MD.renderer.render(tokens, _MD.options, env)
    if not heading:
        return f'<section id="{escapeHtml(anchor)}" class="lead">\n{body}</section>\n'
    if heading_inline is None:
        heading_inline = _MD.parseInline(heading, env)[0]
    title = _MD.renderer.renderInline(heading_inline.children or [], _MD.options, env)
    return f'<section id="{escapeHtml(anchor)}">\n<h2>{title}</h2>\n{body}</section>\n'


def _finish(parts: list[str], ctx: _Context) -> Rendered:
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
    ctx = _Context(bibliography)
    env: dict = {_CTX: ctx}
    parts = [
        _render_section(heading, anchor, None, _MD.parse(f"{body}\n", env), env)
        for heading, anchor, body in sections
    ]
    return _finish(parts, ctx)


def render_body(text: str, bibliography: Mapping[str, dict]) -> Rendered:
    """`render_sections` of `parse_body(text)`, rendering the tokens of that one parse;
    raises ArticleFormatError as parse_body does."""
    ctx = _Context(bibliography)
    env: dict = {_CTX: ctx}
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


# --- sanitising ---------------------------------------------------------------------

_HEADINGS = {f"h{level}" for level in range(2, 7)}
_ALIGN_CLASSES = {"align-left", "align-center", "align-right"}
_CLEANER = nh3.Cleaner(
    tags={
        *("p", "a", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li", "section"),
        *("span", "sup", "sub", "hr", "br", "img", "del", "abbr", "cite", "i", "b", "table"),
        *("thead", "tbody", "tr", "th", "td", *_HEADINGS),
    },
    attributes={
        "a": {"href", "title", "rel", "aria-label"},
        "img": {"src", "alt", "title"},
        "abbr": {"title"},
        "ol": {"id", "start"},
        "li": {"id"},
        "section": {"id", "aria-label"},
        "span": {"id", "aria-label"},
        "th": {"colspan", "rowspan"},
        "td": {"colspan", "rowspan"},
        **{tag: {"id"} for tag in _HEADINGS},
    },
    tag_attribute_values={"span": {"data-certainty": {*CERTAINTIES, "unrated"}}},
    allowed_classes={
        "section": {"lead", "references"},
        "span": {"claim", "certainty-badge", "citation-missing", "contradicted-by"}
        | {f"certainty-{name}" for name in (*CERTAINTIES, "unrated")},
        "sup": {"citations"},
        "a": {"citation"},
        "p": {"format-error"},
        "th": _ALIGN_CLASSES,
        "td": _ALIGN_CLASSES,
    },
    url_schemes={"http", "https", "mailto"},
    link_rel=None,  # the renderer adds rel to absolute links only; #ref-n stays bare
)


def sanitize_html(html: str) -> str:
    """nh3 with allow-lists: the renderer's own tags, attributes and classes, and
    http(s), mailto and relative URLs. No style attribute or script survives."""
    return _CLEANER.clean(html)
