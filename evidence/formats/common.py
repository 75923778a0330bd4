"""What every bibliography reader shares: the error, CSL dates and CSL-JSON output."""

import datetime
import json
import re


class BibliographyError(ValueError):
    """A bibliography that cannot be read; `line` is 1-based where known."""

    def __init__(self, message: str, line: int | None = None):
        self.message = message
        self.line = line
        super().__init__(f"line {line}: {message}" if line else message)


_DATE_VARIABLES = ("issued", "accessed", "original-date", "event-date", "submitted")
_NUMBER_VARIABLES = (
    "volume",
    "issue",
    "page",
    "number",
    "edition",
    "number-of-pages",
    "number-of-volumes",
    "collection-number",
)


def csl_item(value, line: int | None) -> dict:
    """A CSL item as read from JSON or YAML, with dates as date-parts and numbers as text."""
    if not isinstance(value, dict):
        raise BibliographyError(f"each item must be a mapping, not {type(value).__name__}", line)
    item = plain(value)
    for name in _DATE_VARIABLES:
        if name in item:
            item[name] = csl_date(item[name])
    for name in _NUMBER_VARIABLES:
        if isinstance(item.get(name), int) and not isinstance(item[name], bool):
            item[name] = str(item[name])
    return item


def plain(value):
    """JSON-ready copy: YAML dates become ISO text."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def csl_date(value) -> dict:
    """Normalise a CSL date (date-parts, raw, EDTF-like text or a year) to date-parts."""
    if isinstance(value, int):
        return {"date-parts": [[value]]}
    if isinstance(value, str):
        parts = date_from_text(value)
        return {"date-parts": [parts]} if parts else {"literal": value}
    if not isinstance(value, dict):
        return {"literal": str(value)}
    date = dict(value)
    ranges = []
    for parts in date.get("date-parts") or []:
        numbers = []
        for part in parts if isinstance(parts, list) else [parts]:
            try:
                numbers.append(int(part))
            except (TypeError, ValueError):
                break
        if numbers:
            ranges.append(numbers)
    if ranges:
        date["date-parts"] = ranges
    else:
        date.pop("date-parts", None)
        if parts := date_from_text(str(date.get("raw", ""))):
            date["date-parts"] = [parts]
    return date


MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}
_ISO_DATE = re.compile(r"\s*([0-9]{4})(?:[-/.]([0-9]{1,2}))?(?:[-/.]([0-9]{1,2}))?(?![0-9])")
_WORD_DATE = re.compile(r"\s*([0-9]{4})\s+([A-Za-z]{3,9})\.?(?:\s+([0-9]{1,2}))?(?![0-9])")
_COMPACT_DATE = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})")
_YEAR = re.compile(r"(?<![0-9])([0-9]{4})(?![0-9])")


def date_from_text(text: str) -> list[int]:
    """[year, month, day] (as far as known) from "2014-06-01", "2014/06//", "2014 Jun 5",
    "20140605"; [] when there is no year."""
    if match := _COMPACT_DATE.fullmatch(text.strip()):
        parts = list(match.groups())
    elif match := _WORD_DATE.match(text):
        parts = [match.group(1), MONTHS.get(match.group(2).lower()), match.group(3)]
    elif match := _ISO_DATE.match(text):
        parts = [match.group(1), match.group(2), match.group(3)]
    elif match := _YEAR.search(text):
        parts = [match.group(1)]
    else:
        return []
    result = [int(parts[0])]
    for value, limit in zip(parts[1:], (12, 31), strict=False):
        if value is None or not 1 <= int(value) <= limit:
            break
        result.append(int(value))
    return result


def dump_csl_json(items: list[dict]) -> str:
    """CSL-JSON text that diffs well: indented, sorted keys, UTF-8, trailing newline."""
    return json.dumps(items, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
