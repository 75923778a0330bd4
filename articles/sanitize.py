"""The last step of every render: nh3 with the renderer's own allow-lists."""

from __future__ import annotations

import nh3

from articles.markup import CERTAINTIES

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
        "a": {"citation", "url"},  # "url": a reference link whose text is its address
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
