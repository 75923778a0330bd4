"""RIS bibliographies (EndNote, Zotero, Mendeley exports), read with rispy."""

import re

import rispy
from rispy.config import TAG_KEY_MAPPING

from evidence.formats.common import BibliographyError, date_from_text
from evidence.identifiers import IdentifierError, http_url, normalize_doi

_RIS_TYPES = {
    "JOUR": "article-journal",
    "JFULL": "article-journal",
    "EJOUR": "article-journal",
    "BOOK": "book",
    "EBOOK": "book",
    "EDBOOK": "book",
    "CHAP": "chapter",
    "ECHAP": "chapter",
    "CONF": "paper-conference",
    "CPAPER": "paper-conference",
    "RPRT": "report",
    "GOVDOC": "report",
    "ELEC": "webpage",
    "WEB": "webpage",
    "THES": "thesis",
    "NEWS": "article-newspaper",
    "MGZN": "article-magazine",
}
_RIS_LIST_TAGS = ["AU", "A1", "A2", "A3", "A4", "ED", "KW", "N1", "UR", "AD"]
# Keep RIS tags as keys: rispy's own tag names, plus the ED and BT tags it lacks.
_RIS_MAPPING = {tag: tag for tag in [*TAG_KEY_MAPPING, "ED", "BT"]}
_RIS_LINE = re.compile(r"([A-Z][A-Z0-9])  -(?: |$)")


def read(text: str) -> list[tuple[dict, int | None]]:
    starts, start = [], None
    for number, line in enumerate(text.splitlines(), start=1):
        tag = match.group(1) if (match := _RIS_LINE.match(line)) else None
        if tag == "TY":
            if start is not None:
                raise BibliographyError(
                    f"RIS record starting at line {start} has no 'ER  -' end tag", number
                )
            start = number
        elif tag == "ER":
            if start is None:
                raise BibliographyError("'ER  -' without a 'TY  -' record start", number)
            starts.append(start)
            start = None
        elif start is None and line.strip():
            raise BibliographyError(
                "text outside a RIS record (records start with 'TY  -')", number
            )
    if start is not None:
        raise BibliographyError("RIS record has no 'ER  -' end tag", start)
    records = rispy.loads(
        text.replace("\r\n", "\n"),
        mapping=_RIS_MAPPING,
        list_tags=_RIS_LIST_TAGS,
        delimiter_tags_mapping={},
        skip_unknown_tags=True,
    )
    return [(_ris_item(record, line), line) for record, line in zip(records, starts, strict=True)]


def _ris_names(values) -> list[dict]:
    names = []
    for value in values or []:
        family, _, rest = value.partition(",")
        given, _, suffix = rest.partition(",")
        if not rest.strip():
            names.append({"literal": value.strip()})
            continue
        name = {"family": family.strip(), "given": given.strip(), "suffix": suffix.strip()}
        names.append({key: text for key, text in name.items() if text})
    return names


def _ris_item(record: dict, line: int) -> dict:
    def get(*tags: str) -> str:
        for tag in tags:
            value = record.get(tag)
            value = value[0] if isinstance(value, list) and value else value
            if isinstance(value, str) and value.strip():
                return " ".join(value.split())
        return ""

    ris_type = get("TY").upper()
    kind = _RIS_TYPES.get(ris_type, "article")
    key = get("ID")
    if not key and (doi := get("DO")):
        try:
            key = normalize_doi(doi)
        except IdentifierError as error:
            raise BibliographyError(f"RIS record: {error}", line) from error
    key = key or get("AN")
    if not key:
        raise BibliographyError("RIS record has no usable key: add an ID, DO or AN tag", line)

    item = {"id": key, "type": kind}
    fields = {
        "title": get("TI", "T1") or (get("BT") if kind == "book" else ""),
        "volume": get("VL"),
        "issue": get("IS"),
        "publisher": get("PB"),
        "publisher-place": get("CY"),
        "edition": get("ET"),
        "abstract": get("AB"),
        "language": get("LA"),
        "DOI": get("DO"),
        "note": "\n".join(v.strip() for v in record.get("N1", []) if v.strip()),
    }
    if kind in ("book", "report"):
        fields["collection-title"] = get("T2", "T3")
    else:
        fields["container-title"] = get("T2", "JF", "JO", "BT", "JA", "J2")
        fields["container-title-short"] = get("J2", "JA")
    first, last = get("SP"), get("EP")
    fields["page"] = f"{first}-{last}" if first and last and first != last else first or last
    item.update((name, value) for name, value in fields.items() if value)

    if authors := _ris_names(record.get("AU") or record.get("A1")):
        item["author"] = authors
    if editors := _ris_names(
        record.get("ED") or (record.get("A2") if kind in ("chapter", "paper-conference") else None)
    ):
        item["editor"] = editors
    dates = [date_from_text(get(tag)) for tag in ("DA", "PY", "Y1")]
    if best := max(dates, key=len):
        item["issued"] = {"date-parts": [best]}
    if accessed := date_from_text(get("Y2")):
        item["accessed"] = {"date-parts": [accessed]}
    urls = [url for value in record.get("UR", []) for url in re.split(r"[\s;]+", value)]
    if url := next((url for url in urls if http_url(url)), ""):
        item["URL"] = url
    # EndNote/PubMed exports keep the PMID in AN (with DB/DP naming PubMed) and the PMCID in C2.
    source = f"{get('DB')} {get('DP')}".lower()
    if any(name in source for name in ("pubmed", "medline", "nlm")) and get("AN").isdigit():
        item["PMID"] = get("AN")
    if re.fullmatch(r"PMC[0-9]+", get("C2"), re.IGNORECASE):
        item["PMCID"] = get("C2")
    return item
