"""Titles and references as sources give them become plain text in one place."""

import pytest

from evidence.text import plain_text


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("<i>In vitro</i> ketamine &amp; PTSD", "In vitro ketamine & PTSD"),
        ("<jats:title>Sleep\n  and   trauma</jats:title>", "Sleep and trauma"),
        ("A <sup>2</sup> trial", "A 2 trial"),
        ("Dose < 0.5 mg/kg and > 0.2", "Dose < 0.5 mg/kg and > 0.2"),
        ("x" * 5 + "<" + "y" * 300, "xxxxx<" + "y" * 300),  # a stray "<" keeps the rest
    ],
)
def test_markup_is_dropped_and_text_kept(given, expected):
    assert plain_text(given) == expected
