"""Text as citation sources give it: the one place that drops inline markup (JATS,
HTML) from a title or a reference, decodes entities and collapses whitespace."""

import html
import re

# A tag: "<" then a name, "/" or "!"; bounded, so "dose < 0.5 and > 0.2" or a stray "<"
# in a title keeps its text.
_MARKUP = re.compile(r"<[A-Za-z/!?][^<>]{0,200}>")


def plain_text(value: str) -> str:
    """`<i>In vitro</i> &amp; more  ` -> `In vitro & more`."""
    return " ".join(html.unescape(_MARKUP.sub("", value)).split())
