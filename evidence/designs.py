"""The study design of a work, guessed from its CSL item (title, type, publication
types): what the evidence gates weigh. Text in, a StudyDesign value out."""

import re

STUDY_DESIGNS = (
    "guideline",
    "systematic-review",
    "rct",
    "observational",
    "case-series",
    "review",
    "regulatory",
    "reference",
    "other",
)
PRIMARY_DESIGNS = frozenset({"rct", "observational", "case-series"})

# Checked in this order: the first design whose words occur wins, so "a systematic
# review of randomized trials" is a systematic review, not an RCT.
_DESIGN_WORDS = [
    (
        "systematic-review",
        r"systematic(?:ally)? review|meta-?analy[sz][ie]s|umbrella review|cochrane review",
    ),
    ("guideline", r"guideline|consensus statement|practice parameter"),
    ("review", r"(?<!chart )(?<!record )(?<!peer )(?<!peer-)\breview\b|\boverview\b"),
    (
        "rct",
        r"randomi[sz]ed|\brcts?\b|controlled (?:clinical )?trial|placebo-controlled"
        r"|double-blind|crossover trial",
    ),
    (
        "observational",
        r"cohort|case-control|case control|cross-sectional|observational|registry"
        r"|population-based|longitudinal|retrospective|chart review|record review",
    ),
    ("case-series", r"case series|case reports?\b|\bcase study"),
    (
        "regulatory",
        r"regulatory|\bfda\b|food and drug administration|drug enforcement"
        r"|federal register|prescribing information",
    ),
    ("reference", r"manual|handbook|textbook|encyclop|dictionary"),
]
_DESIGN_PATTERNS = [(name, re.compile(words, re.IGNORECASE)) for name, words in _DESIGN_WORDS]
_NOTE_TYPE = re.compile(r"\s*(?:study |publication )?types?:\s*(.*?)(?:\.\s|\n|$)", re.I | re.S)
_TYPE_DESIGNS = {
    "legislation": "regulatory",
    "bill": "regulatory",
    "regulation": "regulatory",
    "legal_case": "regulatory",
    "book": "reference",
    "entry-dictionary": "reference",
    "entry-encyclopedia": "reference",
}


def _design_in(text) -> str:
    if isinstance(text, str):
        for name, pattern in _DESIGN_PATTERNS:
            if pattern.search(text):
                return name
    return ""


def guess_study_design(item: dict) -> str:
    """One of STUDY_DESIGNS, from (in order) a "Study type: ..." / "Type: ..." note,
    the genre, the title words and the CSL type; "other" when nothing says."""
    note = item.get("note")
    stated = _NOTE_TYPE.match(note) if isinstance(note, str) else None
    return (
        (stated and _design_in(stated.group(1)))
        or _design_in(item.get("genre"))
        or _design_in(item.get("title"))
        or _TYPE_DESIGNS.get(str(item.get("type")), "other")
    )
