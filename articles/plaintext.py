"""The prose of a rendered version as plain text: what search matches and quotes.

Computed once, when a version is created (`ArticleVersion.search_text`). Pure: HTML in,
text out.
"""

import re
import unicodedata
from html.parser import HTMLParser

# Parts of the rendered page that are apparatus, not prose: citation markers, the
# certainty badges, "contradicting evidence" notes and the reference list.
_SKIP_CLASSES = {"citations", "certainty-badge", "contradicted-by", "citation-missing"}
_SKIP_IDS = {"references-section"}
_BLOCK_TAGS = {
    "p", "li", "ul", "ol", "section", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
    "pre", "table", "tr", "td", "th", "div", "dt", "dd", "br", "hr", "figure", "figcaption",
}  # fmt: skip
_SPACE_BEFORE_PUNCTUATION = re.compile(r" ([.,;:!?)])")


class _PlainSpaces(dict):
    """A `str.translate` table, filled as characters are met: control, format and
    private-use characters (Unicode category C) and spaces (Z) map to a plain space,
    except the newline; everything else to itself."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        self[code] = value = " " if ch != "\n" and unicodedata.category(ch)[0] in "CZ" else ch
        return value


_PLAIN_SPACES = _PlainSpaces()
_VOID_TAGS = {"br", "hr", "img", "wbr", "input", "meta", "link", "col", "area", "source"}


class _TextExtractor(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag, attrs):
        if tag in _VOID_TAGS:
            if tag in _BLOCK_TAGS and not self._skip_depth:
                self.parts.append("\n")
            return
        attributes = dict(attrs)
        classes = set((attributes.get("class") or "").split())
        if self._skip_depth or classes & _SKIP_CLASSES or attributes.get("id") in _SKIP_IDS:
            self._skip_depth += 1
            return
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in _VOID_TAGS:
            return
        if self._skip_depth:
            self._skip_depth -= 1
            return
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self._skip_depth:
            self.parts.append(data)


def document_text(rendered_html: str) -> str:
    """The prose of a rendered version (headings and body) as plain text, one block per
    line: what search matches and quotes. Reference lists and badges are left out so a
    search for "moderate" or an author's name finds articles about it, not citations."""
    parser = _TextExtractor()
    parser.feed(rendered_html)
    parser.close()
    text = "".join(parser.parts)
    # Control, format and private-use characters (and odd spaces) become plain spaces.
    text = text.translate(_PLAIN_SPACES)
    # Removed citation markers and badges leave a space before punctuation: drop it.
    lines = (
        _SPACE_BEFORE_PUNCTUATION.sub(r"\1", " ".join(line.split())) for line in text.splitlines()
    )
    return "\n".join(line for line in lines if line)
