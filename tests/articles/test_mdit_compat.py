"""articles/mdit_compat.py copies two markdown-it-py functions step for step. These
tests fail when a markdown-it-py upgrade changes either original (or the private
result type the copy builds), so the copies are compared with the new code again
instead of silently drifting from it."""

import hashlib
import inspect

from markdown_it import helpers
from markdown_it.helpers import parse_link_destination

from articles import mdit_compat

# sha256 of inspect.getsource() of each original, as of markdown-it-py 4.3.0.
ORIGINALS = {
    "parseLinkLabel": "0ede8bbe96747b5ec0d9646292c49f4e35b4047576b1b7767133062998ef63a0",
    "parseLinkDestination": "02de122ba7ba67ed834d9ea9d95c8087b8cfc2b9ed0f53dd46cdbd34f339fc46",
}


def fingerprint(function) -> str:
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()


def test_the_copied_markdown_it_functions_are_unchanged_upstream():
    changed = [
        name for name, digest in ORIGINALS.items() if fingerprint(getattr(helpers, name)) != digest
    ]
    assert not changed, (
        f"markdown-it-py changed {changed}: compare articles/mdit_compat.py with the new "
        "code, then update ORIGINALS"
    )


def test_the_private_result_type_the_copy_builds_still_exists():
    result = parse_link_destination._Result()
    assert (result.ok, result.pos, result.str) == (False, 0, "")


def test_the_copy_parses_destinations_as_markdown_it_does():
    for text in ["(a)", "a b", "a(b)c)", "a\\ b", "<a b>", "((((x))))", "a\\", ")", "a\tb"]:
        ours = mdit_compat.parse_link_destination(text, 0, len(text))
        theirs = helpers.parseLinkDestination(text, 0, len(text))
        assert (ours.ok, ours.pos, ours.str) == (theirs.ok, theirs.pos, theirs.str), text
