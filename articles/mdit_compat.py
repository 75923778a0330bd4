"""The two markdown-it-py internals the renderer replaces, contained here.

markdown-it's `parseLinkLabel` and `parseLinkDestination` give the same results as
these, but step through every character in Python; on bracket- and link-heavy hostile
input they were the cost of a render. These copies keep markdown-it's behaviour step
for step with savings (see each docstring) and are installed on the renderer's own
MarkdownIt instance only (`md.helpers`), never on the shared module.

Because they copy library code, tests/articles/test_mdit_compat.py pins a fingerprint of the
originals: a markdown-it-py upgrade that changes either function fails that test,
and these copies must then be compared with the new originals again.
"""

from __future__ import annotations

import re

from markdown_it import helpers as _md_helpers
from markdown_it.common.utils import unescapeAll
from markdown_it.rules_inline import StateInline

_LABELS = "ptsdinfo_labels"


def parse_link_label(state: StateInline, start: int, disableNested: bool = False) -> int:
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


_DEST_STOP_RE = re.compile(r"[\\()\x00-\x20\x7f]")


def parse_link_destination(string: str, pos: int, maximum: int):
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
