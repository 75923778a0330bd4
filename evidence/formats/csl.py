"""CSL-JSON and CSL-YAML bibliographies (the items are already CSL)."""

import json
import re

import yaml

from evidence.formats.common import BibliographyError, csl_item


def read_json(text: str) -> list[tuple[dict, int | None]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise BibliographyError(f"invalid JSON: {error.msg}", error.lineno) from error
    if not isinstance(data, list):
        raise BibliographyError(f"CSL-JSON must be an array of items, not {type(data).__name__}", 1)
    lines = _json_item_lines(text, len(data))
    return [(csl_item(value, line), line) for value, line in zip(data, lines, strict=True)]


def _json_item_lines(text: str, count: int) -> list[int]:
    """Line where each element of the (already valid) top-level JSON array starts."""
    decoder, lines = json.JSONDecoder(), []
    position, line = text.index("[") + 1, text.count("\n", 0, text.index("[")) + 1
    skip = re.compile(r"[\s,]*")
    for _ in range(count):
        start = skip.match(text, position).end()
        line += text.count("\n", position, start)
        lines.append(line)
        _, position = decoder.raw_decode(text, start)
        line += text.count("\n", start, position)
    return lines


def read_yaml(text: str) -> list[tuple[dict, int | None]]:
    # One pass that keeps the node tree, for the line of each item.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        line = mark.line + 1 if mark else None
        raise BibliographyError(f"invalid YAML: {problem}", line) from error
    finally:
        loader.dispose()
    if data is None:
        return []
    if isinstance(data, dict) and "references" in data:
        data = data["references"] or []
        root = next(v for k, v in root.value if getattr(k, "value", None) == "references")
    if not isinstance(data, list):
        raise BibliographyError(
            "CSL-YAML must be a list of items or a mapping with 'references:'",
            root.start_mark.line + 1,
        )
    lines = [node.start_mark.line + 1 for node in root.value] if data else []
    return [(csl_item(value, line), line) for value, line in zip(data, lines, strict=True)]
