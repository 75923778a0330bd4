"""How hard an article is to read: Flesch-Kincaid and SMOG grades of its prose.

Text in, numbers out; no database. `plain_text` turns the article format
(shared/spec/article-format.md) into the prose a reader sees, so citation keys, claim
attributes and heading anchors never count as words. It reads the body with the
renderer's own markdown-it parser, so what counts as a citation, a claim or a code
block here is exactly what the page shows.

The grades are estimates, as every readability formula is: syllables come from a
spelling heuristic (`count_syllables`), not a pronouncing dictionary, and sentences
from punctuation (`sentences`). They are meant for comparing versions and sections of
our own articles, not as a precise school grade.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

from articles.markdown_rules import MD  # the renderer's one parser

# McLaughlin's SMOG samples 30 sentences (10 each from the start, middle and end).
SMOG_MIN_SENTENCES = 30

_APOSTROPHES = "'\u2019"
_WORD_RE = re.compile(rf"[^\W_]+(?:[{_APOSTROPHES}.\-][^\W_]+)*")
_PARAGRAPH_BREAK_RE = re.compile(r"\n[ \t]*\n")
_SPACE_BEFORE_PUNCTUATION_RE = re.compile(r"[ \t]+(?=[.,;:!?)\]])")
_SPACE_AFTER_OPENING_RE = re.compile(r"(?<=[(\[])[ \t]+")
_HEADING_ANCHOR_RE = re.compile(r"\s*\{#[^{}]*\}\s*$")
# A candidate sentence end: terminators, closing quotes or brackets, then a space.
_CLOSERS = "\"'\u2019\u201d)]"
_SENTENCE_END_RE = re.compile(rf"[.!?\u2026]+[{re.escape(_CLOSERS)}]*\s+")
_WORD_BEFORE_RE = re.compile(r"[\w.]+$")
_OPENERS = "\"'\u201c\u2018([\u00bf\u00a1"
# Words that end in a full stop without ending the sentence ("et al. 2019", "Dr. Feder").
_ABBREVIATIONS = frozenset(
    {"al", "approx", "ca", "cf", "dr", "fig", "figs", "jr", "mr", "mrs", "ms", "prof", "sr"}
    | {"st", "vol", "vs"}
)

# --- plain text ---------------------------------------------------------------------


def plain_text(markdown: str) -> str:
    """The prose a reader sees, one block (paragraph, heading, list item, table row,
    quote) per paragraph, blocks separated by a blank line.

    Removed: citations `[@key, p. 3]`, claim and span syntax (`[text]{...}` keeps its
    text), heading anchors `{#id}`, emphasis and link markup (link text stays), images,
    table pipes, list markers and heading `#`s. Fenced and indented code blocks are
    left out whole: code is not prose. Inline code keeps its text.
    """
    tokens = MD.parse(markdown.replace("\r\n", "\n").replace("\r", "\n"), {})
    blocks: list[str] = []
    row: list[str] | None = None
    in_heading = False
    for token in tokens:
        if token.type == "tr_open":
            row = []
        elif token.type == "tr_close":
            blocks.append(" ".join(cell for cell in row or [] if cell))
            row = None
        elif token.type == "heading_open":
            in_heading = True
        elif token.type == "heading_close":
            in_heading = False
        elif token.type == "inline":
            text = _inline_text(token.children or [])
            if in_heading:  # an anchor the parser rejected is still not prose
                text = _HEADING_ANCHOR_RE.sub("", text)
            if row is not None:
                row.append(text)
            else:
                blocks.append(text)
    return "\n\n".join(block for block in blocks if block)


def _inline_text(children) -> str:
    parts = []
    for child in children:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        # citation, span, link, emphasis and image tokens add no visible prose
    text = " ".join("".join(parts).split())
    text = _SPACE_BEFORE_PUNCTUATION_RE.sub("", text)  # "receptor [@a]." -> "receptor."
    return _SPACE_AFTER_OPENING_RE.sub("", text)


# --- sentences and words ------------------------------------------------------------


def sentences(text: str) -> list[str]:
    """Split prose into sentences.

    A blank line always ends a sentence (so a heading or a list item without a full stop
    is a sentence of its own). Otherwise a sentence ends at `.`, `!`, `?` or `…`
    followed by a space and a capital letter, a digit or an opening quote or bracket;
    not after a common abbreviation ("e.g.", "et al.", "vs.") or a single letter
    ("J. Smith", "U.S."). So "approved in the U.S. Then ..." stays one sentence: a
    rare miss that costs one sentence in the count.
    """
    found = []
    for paragraph in _PARAGRAPH_BREAK_RE.split(text):
        paragraph = " ".join(paragraph.split())
        start = 0
        for match in _SENTENCE_END_RE.finditer(paragraph):
            following = paragraph[match.end() : match.end() + 1]
            if not (following.isupper() or following.isdigit() or following in _OPENERS):
                continue
            if match.group().rstrip(_CLOSERS + " ") == "." and _is_abbreviation(
                paragraph[max(start, match.start() - 40) : match.start()]
            ):
                continue
            found.append(paragraph[start : match.end()].strip())
            start = match.end()
        if rest := paragraph[start:].strip():
            found.append(rest)
    return found


def _is_abbreviation(before: str) -> bool:
    """Whether the word ending `before` (the text up to a full stop) is an abbreviation."""
    match = _WORD_BEFORE_RE.search(before)
    if match is None:
        return False
    word = match.group().lower()
    if len(word) == 1 and word.isalpha():
        return True  # an initial
    if re.fullmatch(r"(?:[a-z]\.)+[a-z]", word):
        return True  # U.S, e.g, i.e
    return word in _ABBREVIATIONS


def words(text: str) -> list[str]:
    """Words as the formulas count them: letters and digits, with inner apostrophes,
    hyphens and dots kept ("person's", "treatment-resistant", "27.5", "U.S")."""
    return _WORD_RE.findall(text)


# --- syllables ----------------------------------------------------------------------

# Common words the spelling rules below get wrong.
_SYLLABLE_EXCEPTIONS = {
    "anyone": 3,
    "area": 3,
    "areas": 3,
    "create": 2,
    "created": 3,
    "creates": 2,
    "creating": 3,
    "everyone": 3,
    "element": 3,
    "elements": 3,
    "eye": 1,
    "eyes": 1,
    "idea": 3,
    "ideas": 3,
    "someone": 2,
    "these": 1,
    "those": 1,
    "whose": 1,
}
_VOWELS = "aeiou"
_CONSONANTS = "bcdfghjklmnpqrstvwxz"
_LE_CONSONANTS = "bcdfgkptz"  # table, simple, little: the final -le is a syllable
_SYLLABIC_BEFORE_E = frozenset({c + "l" for c in _LE_CONSONANTS} | {"br", "tr"})  # centre
_VOWEL_GROUP_RE = re.compile(r"(?:[aeiou]|y(?![aeiou]))+")  # y before a vowel: consonant
# Vowel pairs that are two syllables (each match adds one), with the usual exceptions.
_EXTRA_SYLLABLE_RES = tuple(
    re.compile(pattern)
    for pattern in (
        r"(?<![ctgs])(?<!il)ia|[ct]iat",  # media, diagnosis, association; not social, civilian
        r"(?<![tscxgvn])io(?!n)|(?<=[vn])io(?!n|u?r)",  # period, opioid, previous, prior;
        # not action, religious, million, behavior, behaviour, senior
        r"(?<!q)iu",  # medium, delirium
        r"(?<![pg])eo(?!u)|^geo",  # video, theory, geography; not people, surgeon, gorgeous
        r"ea(?=ct|tion|tiv)",  # reaction, recreational, ideation
        r"(?<![qg])ua",  # actual, usually; not quality, language
        r"(?<![qg])ue[nlt]",  # influence, fluent, cruel; not question, frequent
        r"(?<![tcn])ien(?!d)|(?<=sc)ien",  # experience, audience, science; not patient,
        # convenient, friend
        r"uou",  # ambiguous, continuous
        r"iet",  # anxiety, society, quiet
        r"sui(?=c)",  # suicide, suicidal
        r"[^aeiouy]ying|oing|eing$",  # trying, studying, ongoing, seeing
        r"isms?$|thms?$",  # mechanism, algorithm, rhythm
        r"i(?:er|ers|est)$",  # earlier, easiest
    )
)
# A silent e inside the word, before a suffix: likely, careful, statement, safety,
# guideline, something; the silent -ue of fatigue, dialogue and unique (not of argue);
# the -ally of clinically.
_SILENT_INNER_E_RE = re.compile(
    r"[aeiouy][^aeiouy]{1,2}e(?:ly|ful|fully|ness|ment|ments|less|ty|lines?|things?|times?)$"
    r"|[aeiou][gq]ues?$|ically$"
)


def count_syllables(word: str) -> int:
    """Estimated syllables of one English word: at least 1 (0 for a string with no
    letter or digit).

    Vowel groups (y is a vowel except before a vowel), less a silent final e (but not
    the -le of "table"), a silent -ed ("jumped", not "wanted") and a silent -es
    ("makes", not "boxes"), plus vowel pairs that are two syllables ("media", "video",
    "actual", "anxiety"). Hyphenated or dotted words are the sum of their parts. An
    all-capitals word of 2-4 letters is read as an initialism, letter by letter (PTSD 4,
    FDA 3; W is 3), so a word written in capitals for emphasis ("NOT") is overcounted.
    A number counts as one syllable, as in most readability tools.

    Checked against the CMU Pronouncing Dictionary on the demo articles' words, it
    agrees on about 97 % of them; tests/editorial/test_readability.py lists the known misses.
    """
    parts = [part for part in re.split(rf"[^\w{_APOSTROPHES}]+|_", word) if part]
    if len(parts) != 1:
        return sum(count_syllables(part) for part in parts)
    word = parts[0]
    letters = "".join(c for c in unicodedata.normalize("NFKD", word) if c.isalpha())
    if not letters:
        return 1  # a number
    if letters.isascii() and letters.isupper() and 2 <= len(letters) <= 4:
        return sum(3 if letter == "W" else 1 for letter in letters)
    if word.endswith(("'s", "\u2019s")):
        letters = letters[:-1]  # person's: as "person"
    return _word_syllables(letters.lower())


def _word_syllables(word: str) -> int:
    if word in _SYLLABLE_EXCEPTIONS:
        return _SYLLABLE_EXCEPTIONS[word]
    count = len(_VOWEL_GROUP_RE.findall(word))
    if count > 1:
        count -= _silent_ending(word)
    count += sum(1 for pattern in _EXTRA_SYLLABLE_RES if pattern.search(word))
    if _SILENT_INNER_E_RE.search(word):
        count -= 1
    return max(count, 1)


def _silent_ending(word: str) -> int:
    """1 when the word (of two or more vowel groups) ends in a silent e, -ed or -es."""
    if word.endswith("e"):
        last_two = word[-3:-1]
        syllabic = last_two in _SYLLABIC_BEFORE_E  # table, simple, centre
        return int(word[-2] in _CONSONANTS and not syllabic)
    if len(word) < 4 or not word.endswith(("ed", "es")):
        return 0
    before = word[-3]  # the letter before -ed or -es
    if before not in _CONSONANTS + "y" or (before == "l" and word[-4] in _LE_CONSONANTS):
        return 0  # agreed, studied, troubled, tables
    if word.endswith("ed"):
        return int(before not in "td")  # jumped, not wanted
    return int(before not in "sxz" and not word.endswith(("ches", "shes", "ces", "ges")))


# --- grades ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Counts:
    words: int
    sentences: int
    syllables: int
    polysyllables: int


def _counts(text: str) -> _Counts:
    word_count = sentence_count = syllables = polysyllables = 0
    for sentence in sentences(text):
        found = words(sentence)
        if not found:
            continue  # "..." or a lone symbol is not a sentence
        sentence_count += 1
        word_count += len(found)
        for word in found:
            count = count_syllables(word)
            syllables += count
            polysyllables += count >= 3
    return _Counts(word_count, sentence_count, syllables, polysyllables)


def _flesch_kincaid(counts: _Counts) -> float:
    if not counts.words:
        return 0.0
    words_per_sentence = counts.words / counts.sentences
    return 0.39 * words_per_sentence + 11.8 * (counts.syllables / counts.words) - 15.59


def _smog(counts: _Counts) -> float:
    if not counts.sentences:
        return 0.0
    return 1.0430 * math.sqrt(counts.polysyllables * 30 / counts.sentences) + 3.1291


def flesch_kincaid_grade(text: str) -> float:
    """Flesch-Kincaid grade level of plain text:
    0.39 * words per sentence + 11.8 * syllables per word - 15.59.

    Not clamped: very short, simple sentences score below zero. 0.0 for no words."""
    return _flesch_kincaid(_counts(text))


def smog_grade(text: str) -> float:
    """SMOG grade of plain text: 1.0430 * sqrt(polysyllables * 30 / sentences) + 3.1291,
    where a polysyllable is a word of 3 or more syllables. 0.0 for no sentences.

    SMOG was calibrated on samples of 30 sentences (SMOG_MIN_SENTENCES). For a shorter
    text we still apply the formula, whose `30 / sentences` scales the polysyllable
    count up to 30 sentences, rather than report nothing: an editor wants a figure for a
    short section. It is then a rough figure (one polysyllable more or less moves it
    a lot); `Readability.sentences` says how many sentences it rests on. A text with no
    polysyllable scores the formula's floor, 3.1291."""
    return _smog(_counts(text))


@dataclass(frozen=True)
class Readability:
    words: int
    sentences: int
    flesch_kincaid: float
    smog: float

    @property
    def grade(self) -> float:
        """The higher (harder) of the two grades: the cautious reading for patients."""
        return max(self.flesch_kincaid, self.smog)


def measure(markdown: str) -> Readability:
    """Readability of an article body (or any text in the article format); all zeros
    when it has no words."""
    counts = _counts(plain_text(markdown))
    if not counts.words:
        return Readability(words=0, sentences=0, flesch_kincaid=0.0, smog=0.0)
    return Readability(
        words=counts.words,
        sentences=counts.sentences,
        flesch_kincaid=_flesch_kincaid(counts),
        smog=_smog(counts),
    )
