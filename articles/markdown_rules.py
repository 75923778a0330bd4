"""The project's Markdown: markdown-it-py (CommonMark, tables, strikethrough, no raw
HTML) with our own rules for Pandoc citations, claim spans, heading ids, and the
rendering of links, images and code. `MD` is the renderer's one parser instance.
Pure: no database."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.rules_inline import StateInline

from articles.markup import (
    ANCHOR_RE,
    CERTAINTIES,
    CERTAINTY_LABELS,
    CITATION_KEY,
    CLAIM_ID_RE,
    MAX_ATTRIBUTE_CHARS,
    MAX_CITATION_CHARS,
    CiteRef,
    SpanAttrs,
    contradicts_keys,
    normalise_certainty,
)
from articles.mdit_compat import parse_link_destination, parse_link_label

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
# Keys of markdown-it's per-parse `env`: the render context, and a per-paragraph cache.
CONTEXT_KEY, _LAST_INDEX = "ptsdinfo_context", "ptsdinfo_last_index"


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


def _parse_span_attrs(inner: str) -> SpanAttrs:
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
    return SpanAttrs(span_id, tuple(classes), values, tuple(unreadable))


def _span(state: StateInline) -> bool:
    """`[text]{...}` spans, the claim syntax, tried before links (Pandoc reads `[a]{.x}`
    as a span even when `[a]` is a defined reference). Like mdit-py-plugins' attrs span
    rule, but the attribute block must close within MAX_ATTRIBUTE_CHARS."""
    src, start, maximum = state.src, state.pos, state.posMax
    if _last_index(state, "]{") < start:
        return False
    label_end = parse_link_label(state, start)
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
class RenderContext:
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
        number = env[CONTEXT_KEY].number(ref.key)
        if number is None:
            missing.append(_missing(ref.key))
            continue
        prefix = f"{escapeHtml(ref.prefix)} " if ref.prefix else ""
        locator = f", {escapeHtml(ref.locator)}" if ref.locator else ""
        parts.append(f'{prefix}<a class="citation" href="#ref-{number}">{number}</a>{locator}')
    separator = "; " if any(ref.locator or ref.prefix for ref in refs) else ", "
    group = f'<sup class="citations">[{separator.join(parts)}]</sup>' if parts else ""
    return group + "".join(missing)


def _render_span_open(self, tokens, idx, options, env) -> str:
    """A claim renders its hooks; any other span renders its content only, so no
    author-written attribute (style, on*, class, id) ever reaches the page."""
    ctx, attrs = env[CONTEXT_KEY], tokens[idx].meta["attrs"]
    if "claim" not in attrs.classes:
        ctx.open_spans.append(None)
        return ""
    certainty = normalise_certainty(attrs.values.get("certainty", ""))
    certainty = certainty if certainty in CERTAINTIES else ""
    ctx.open_spans.append((certainty, contradicts_keys(attrs.values.get("contradicts", ""))))
    id_attr = ""
    if attrs.id and CLAIM_ID_RE.fullmatch(attrs.id) and attrs.id not in ctx.claim_ids:
        ctx.claim_ids.add(attrs.id)
        id_attr = f' id="claim-{attrs.id}"'
    return f'<span{id_attr} class="claim" data-certainty="{certainty or "unrated"}">'


def _render_span_close(self, tokens, idx, options, env) -> str:
    ctx = env[CONTEXT_KEY]
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
    env[CONTEXT_KEY].open_links.append(scheme in _LINK_SCHEMES)
    if scheme not in _LINK_SCHEMES:
        return ""
    html = f'<a href="{escapeHtml(href)}"'
    if attrs.get("title"):
        html += f' title="{escapeHtml(str(attrs["title"]))}"'
    if scheme in ("http", "https") or href.startswith("//"):
        html += ' rel="noopener noreferrer nofollow"'
    return html + ">"


def _render_link_close(self, tokens, idx, options, env) -> str:
    open_links = env[CONTEXT_KEY].open_links
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


def _build_markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "xhtmlOut": False})
    md.enable(["table", "strikethrough"])
    md.disable(["html_inline", "html_block"])
    md.validateLink = _accept_link
    md.helpers = SimpleNamespace(  # this instance only: markdown_it.helpers is shared
        parseLinkDestination=parse_link_destination,
        parseLinkLabel=parse_link_label,
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


MD = _build_markdown()
