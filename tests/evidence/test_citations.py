"""evidence.citations: identifiers, bibliography files, study design, NLM/Vancouver references.

Pure functions: no database.
"""

import html
import json
import re
import time
from pathlib import Path

import pytest

from evidence.citations import (
    FORMATS,
    PRIMARY_DESIGNS,
    STUDY_DESIGNS,
    BibliographyError,
    IdentifierError,
    doi_url,
    dump_csl_json,
    format_for_path,
    format_reference_html,
    format_reference_text,
    guess_study_design,
    item_identifiers,
    normalize_doi,
    normalize_pmcid,
    normalize_pmid,
    pmc_url,
    pubmed_url,
    read_bibliography,
)

DATA = Path(__file__).parents[1] / "data" / "bib"
# A copy of shared/content/ketamine-for-ptsd/citations.csl.json: the first article's
# real references, as stored (titles keep their case, notes say the study type).
KETAMINE = DATA / "ketamine-for-ptsd.csl.json"


def read(name: str) -> list[dict]:
    path = DATA / name
    return read_bibliography(path.read_text(encoding="utf-8"), format_for_path(path))


def parse_error(text: str, fmt: str) -> BibliographyError:
    with pytest.raises(BibliographyError) as caught:
        read_bibliography(text, fmt)
    return caught.value


@pytest.fixture(scope="module")
def real_items() -> dict[str, dict]:
    return {item["id"]: item for item in json.loads(KETAMINE.read_text(encoding="utf-8"))}


def test_the_real_bibliography_parses_with_every_key_and_identifier(real_items):
    items = read(KETAMINE.name)
    assert [item["id"] for item in items] == list(real_items)
    schnurr = next(item for item in items if item["id"] == "schnurr2024")
    assert (schnurr["DOI"], schnurr["PMID"]) == ("10.7326/m23-2757", "38408360")


# --- Identifiers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10.1001/jamapsychiatry.2014.62", "10.1001/jamapsychiatry.2014.62"),
        ("10.7326/M23-2757", "10.7326/m23-2757"),
        ("  10.1001/x\n", "10.1001/x"),
        ("doi:10.1001/x", "10.1001/x"),
        ("DOI: 10.1001/x", "10.1001/x"),
        ("https://doi.org/10.1001/x", "10.1001/x"),
        ("http://doi.org/10.1001/x", "10.1001/x"),
        ("http://dx.doi.org/10.1001/X", "10.1001/x"),
        ("https://doi.org/10.1002/%28SICI%291097-4571", "10.1002/(sici)1097-4571"),
        ("10.1000.10/abc", "10.1000.10/abc"),
        ("10.31887/DCNS.2011.13.4/mdavis", "10.31887/dcns.2011.13.4/mdavis"),
    ],
)
def test_normalize_doi_accepts_bare_prefixed_and_url_forms(value, expected):
    assert normalize_doi(value) == expected


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("10.1001", "expected 10.<registrant>/<suffix>"),
        ("jamapsychiatry.2014.62", "expected 10.<registrant>/<suffix>"),
        ("", "expected 10.<registrant>/<suffix>"),
        ("javascript:alert(1)", "expected 10.<registrant>/<suffix>"),
        ("https://example.org/10.1001/x", "expected 10.<registrant>/<suffix>"),
        ("ftp://doi.org/10.1001/x", "expected 10.<registrant>/<suffix>"),
        ("10.12/x", "registrant '10.12' must be '10.' followed by 4 or more digits"),
        ("10.abcd/x", "registrant '10.abcd'"),
        ("10.1001/", "the suffix after '/' is empty"),
        ("10.1001/a b", "whitespace or control characters"),
        ("doi:10.1001/x\ty", "whitespace or control characters"),
        ("10.1001/x\x00", "whitespace or control characters"),
        ("10.1001/" + "x" * 300, "at most 300"),
    ],
)
def test_normalize_doi_rejects_bad_values_naming_value_and_problem(value, problem):
    with pytest.raises(IdentifierError) as caught:
        normalize_doi(value)
    assert str(caught.value).startswith(f"{value!r} is not a valid DOI: ")
    assert problem in str(caught.value)


def test_doi_error_message_matches_the_documented_form():
    with pytest.raises(IdentifierError, match=r"^'10\.1001' is not a valid DOI: expected 10\."):
        normalize_doi("10.1001")


@pytest.mark.parametrize("value", [None, 101001, ["10.1001/x"]])
def test_normalize_doi_rejects_non_text(value):
    with pytest.raises(IdentifierError, match="not a valid DOI"):
        normalize_doi(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("24740528", "24740528"),
        (24740528, "24740528"),
        ("PMID: 24740528", "24740528"),
        ("pmid 1", "1"),
        (" 38559428 ", "38559428"),
        ("https://pubmed.ncbi.nlm.nih.gov/38559428/", "38559428"),
        ("99999999", "99999999"),
    ],
)
def test_normalize_pmid_accepts_digits_and_prefixes(value, expected):
    assert normalize_pmid(value) == expected


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("2474O528", "expected 1-8 digits"),
        ("abc", "expected 1-8 digits"),
        ("", "expected 1-8 digits"),
        ("-1", "expected 1-8 digits"),
        ("\uff11\uff12\uff13", "expected 1-8 digits"),  # full-width digits
        ("0123", "must not start with 0"),
        (0, "must not start with 0"),
        ("123456789", "more than 8 digits"),
        (True, "expected digits"),
        (1.5, "expected digits"),
    ],
)
def test_normalize_pmid_rejects_bad_values_naming_them(value, problem):
    with pytest.raises(IdentifierError) as caught:
        normalize_pmid(value)
    assert str(caught.value).startswith(f"{value!r} is not a valid PMID: ")
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("PMC10979792", "PMC10979792"),
        ("pmc10979792", "PMC10979792"),
        ("10979792", "PMC10979792"),
        (10979792, "PMC10979792"),
        ("PMCID: PMC5904792", "PMC5904792"),
        ("https://pmc.ncbi.nlm.nih.gov/articles/PMC5904792/", "PMC5904792"),
        ("https://www.ncbi.nlm.nih.gov/pmc/articles/PMC5904792/", "PMC5904792"),
        ("PMC123456789", "PMC123456789"),
    ],
)
def test_normalize_pmcid_accepts_prefix_case_and_bare_digits(value, expected):
    assert normalize_pmcid(value) == expected


@pytest.mark.parametrize(
    "value", ["PMC", "PMC12a", "PMC1234567890", "PMID123", "PMC0123", "", "PMC 123", None]
)
def test_normalize_pmcid_rejects_bad_values_naming_them(value):
    with pytest.raises(IdentifierError) as caught:
        normalize_pmcid(value)
    assert str(caught.value).startswith(f"{value!r} is not a valid PMCID: ")


def test_identifier_urls():
    assert doi_url("doi:10.1001/JAMAPsychiatry.2014.62") == (
        "https://doi.org/10.1001/jamapsychiatry.2014.62"
    )
    assert pubmed_url(38559428) == "https://pubmed.ncbi.nlm.nih.gov/38559428/"
    assert pmc_url("pmc10979792") == "https://pmc.ncbi.nlm.nih.gov/articles/PMC10979792/"


def test_doi_url_percent_encodes_characters_that_would_change_the_url():
    assert doi_url("10.1002/a#b?c<d>%") == "https://doi.org/10.1002/a%23b%3Fc%3Cd%3E%25"
    assert doi_url("10.1002/(sici)1097;2-0") == "https://doi.org/10.1002/(sici)1097;2-0"


@pytest.mark.parametrize("call", [doi_url, pubmed_url, pmc_url])
def test_identifier_urls_refuse_invalid_identifiers(call):
    with pytest.raises(IdentifierError):
        call("javascript:alert(1)")


def test_item_identifiers_normalises_and_defaults_to_empty():
    item = {"DOI": "https://doi.org/10.1001/X", "PMID": 24740528, "PMCID": "pmc1"}
    assert item_identifiers(item) == ("10.1001/x", "24740528", "PMC1")
    assert item_identifiers({"id": "x"}) == ("", "", "")
    assert item_identifiers({"doi": "10.1001/x", "PMID": "", "pmcid": " "}) == ("10.1001/x", "", "")


def test_item_identifiers_raises_on_an_invalid_value():
    with pytest.raises(IdentifierError, match="'12345678901' is not a valid PMID"):
        item_identifiers({"PMID": "12345678901"})


# --- Bibliography files --------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "fmt"),
    [
        ("refs.json", "csl-json"),
        ("refs.yaml", "csl-yaml"),
        ("refs.yml", "csl-yaml"),
        ("refs.bib", "bibtex"),
        ("dir/My Library.BIB", "bibtex"),
        ("refs.ris", "ris"),
        (Path("pubmed-export.nbib"), "nbib"),
    ],
)
def test_format_for_path_reads_the_extension(path, fmt):
    assert format_for_path(path) == fmt


@pytest.mark.parametrize("path", ["refs.txt", "refs", "refs.bib.bak"])
def test_format_for_path_rejects_unknown_extensions(path):
    with pytest.raises(BibliographyError) as caught:
        format_for_path(path)
    assert repr(path) in caught.value.message
    assert all(extension in caught.value.message for extension in FORMATS)
    assert caught.value.line is None


def test_unknown_format_name_is_an_error():
    error = parse_error("[]", "endnote-xml")
    assert "unknown bibliography format 'endnote-xml'" in error.message


def _key_fields(item: dict) -> tuple:
    words = re.sub(r"\W+", " ", item["title"]).strip().casefold()
    first = item["author"][0]
    return (
        item["DOI"],
        item.get("PMID", ""),
        item.get("PMCID", ""),
        words,
        item["volume"],
        item["issue"],
        item["page"],
        item["issued"]["date-parts"][0][0],
        first["family"],
        first["given"][:1],
        len(item["author"]),
        item["type"],
    )


@pytest.mark.parametrize(
    "name",
    ["ketamine.yaml", "zotero.bib", "better-biblatex.bib", "ketamine.ris", "pubmed.nbib"],
)
def test_every_format_yields_the_same_key_fields_as_csl_json(name):
    expected = {item["DOI"]: _key_fields(item) for item in read("ketamine.json")}
    assert len(expected) == 3
    assert {item["DOI"]: _key_fields(item) for item in read(name)} == expected


@pytest.mark.parametrize(
    ("name", "keys"),
    [
        ("ketamine.json", ["almeida2024", "krystal2019neuron", "krystal2017cpr"]),
        ("ketamine.yaml", ["almeida2024", "krystal2019neuron", "krystal2017cpr"]),
        (
            "zotero.bib",
            ["almeida_effectiveness_2024", "krystal_ketamine_2019", "krystal_synaptic_2017"],
        ),
        ("better-biblatex.bib", ["almeida2024", "krystal2019neuron", "krystal2017cpr"]),
        # RIS: the ID tag, else the (normalised) DO tag, else AN
        ("ketamine.ris", ["almeida2024", "10.1016/j.neuron.2019.02.005", "krystal2017cpr"]),
        ("pubmed.nbib", ["38559428", "30844397", "28844076"]),
    ],
)
def test_citation_keys_follow_the_spec_table(name, keys):
    assert [item["id"] for item in read(name)] == keys


def test_ris_key_falls_back_to_accession_number():
    items = read_bibliography("TY  - JOUR\nTI  - Only an AN\nAN  - WOS:000123\nER  - \n", "ris")
    assert items[0]["id"] == "WOS:000123"
    assert "PMID" not in items[0]  # AN is a PMID only when the record says it came from PubMed


def test_csl_json_keeps_titles_and_other_fields_as_stored():
    almeida = read("ketamine.json")[0]
    assert almeida["title"].startswith("Effectiveness of Ketamine for the Treatment")
    assert almeida["note"].startswith("Study type: systematic review")
    assert almeida["issued"] == {"date-parts": [[2024, 2]]}


def test_csl_yaml_normalises_dates_numbers_and_identifiers():
    almeida, krystal2019, krystal2017 = read("ketamine.yaml")
    assert almeida["issued"] == {"date-parts": [[2024, 2]]}
    assert (almeida["volume"], almeida["issue"]) == ("21", "1")
    assert krystal2019["issued"] == {"date-parts": [[2019, 3, 6]]}  # YAML date 2019-03-06
    assert krystal2019["DOI"] == "10.1016/j.neuron.2019.02.005"  # was a doi.org URL
    assert krystal2017["PMCID"] == "PMC5904792"  # was "pmc5904792"
    assert krystal2017["container-title-short"] == "Curr Psychiatry Rep"
    json.loads(dump_csl_json([almeida, krystal2019, krystal2017]))  # JSON-ready


def test_csl_yaml_accepts_a_top_level_list_and_empty_files():
    items = read_bibliography(
        "- id: a\n  title: A\n  issued: {date-parts: [['2020', '6']]}\n", "csl-yaml"
    )
    assert items == [{"id": "a", "title": "A", "issued": {"date-parts": [[2020, 6]]}}]
    assert read_bibliography("", "csl-yaml") == []
    assert read_bibliography("references:\n", "csl-yaml") == []


def test_csl_numeric_ids_become_text_and_byte_order_mark_is_ignored():
    items = read_bibliography('\ufeff[{"id": 42, "PMID": 24740528}]', "csl-json")
    assert items == [{"id": "42", "PMID": "24740528"}]


def test_zotero_bibtex_export_reads_unchanged():
    almeida, krystal2019, _ = read("zotero.bib")
    assert almeida["title"] == (
        "Effectiveness of Ketamine for the Treatment of Post-Traumatic Stress Disorder "
        "\u2013 A Systematic Review and Meta-Analysis"
    )
    assert almeida["author"][1] == {"family": "da Silva", "given": "Ursula Raianny Lacerda"}
    assert almeida["page"] == "22-31"
    assert almeida["issued"] == {"date-parts": [[2024, 2]]}  # month = feb
    assert almeida["accessed"] == {"date-parts": [[2025, 1, 14]]}
    assert almeida["URL"] == "https://www.ncbi.nlm.nih.gov/pmc/articles/PMC10979792/"
    assert (almeida["PMID"], almeida["PMCID"]) == ("38559428", "PMC10979792")
    assert krystal2019["container-title"] == "Neuron"
    assert krystal2019["type"] == "article-journal"


def test_better_bibtex_biblatex_export_reads_unchanged():
    almeida, krystal2019, krystal2017 = read("better-biblatex.bib")
    assert almeida["author"][1] == {"family": "da Silva", "given": "Ursula Raianny Lacerda"}
    assert almeida["container-title-short"] == "Clin Neuropsychiatry"
    assert almeida["PMID"] == "38559428"  # eprint + eprinttype = pmid
    assert krystal2019["issued"] == {"date-parts": [[2019, 3, 6]]}  # date = 2019-03-06
    assert krystal2017["author"][4] == {"family": "Harpaz-Rotem", "given": "Ilan"}


BIBTEX_SAMPLER = r"""
@string{ajp = "American Journal of Psychiatry"}
@comment{Exported by hand}

@Article{latex2020,
  Title = {{\"U}ber {PTSD} \& the \emph{in vivo} {M}odel --- a {L}{\'o}pez 681--688 test},
  Author = {L{\'o}pez-Roca, Argelio L. and {World Health Organization} and Marije aan het Rot
            and King, Jr, Martin Luther and {de Graaf}, Robin A. and Doe, J. and others},
  Journal = ajp,
  Year = {2020},
  Month = {6},
  Pages = {681--688},
  eprint = {24740528}, eprinttype = {pubmed},
  DOI = {https://doi.org/10.1000/ABC\_1},
}

@techreport{report2001,
  title = {Health hazard evaluation report},
  author = {Page, E. and Harney, J. M.},
  institution = {National Institute for Occupational Safety and Health (US)},
  address = {Cincinnati (OH)},
  number = {HETA2000-0139-2824},
  year = 2001,
  month = feb,
}

@incollection{chapter2002,
  title = {Chromosome alterations in human solid tumors},
  author = {Meltzer, P. S. and Kallioniemi, A. and Trent, J. M.},
  editor = {Vogelstein, B. and Kinzler, K. W.},
  booktitle = {The genetic basis of human cancer},
  publisher = {McGraw-Hill}, address = {New York},
  pages = {93--113}, year = {2002},
}

@online{web2019, title = {Medications for PTSD}, url = {https://www.ptsd.va.gov/x},
  urldate = {2024-01-05}, organization = {National Center for PTSD}}
@misc{misc2019, title = {A web page exported as misc}, howpublished = {\url{https://x.org}},
  url = {https://x.org/page}}
@misc{misc2020, title = {Just misc}}
@book{book2002, title = {Medical microbiology}, edition = {4}, publisher = {Mosby}, year = 2002}
@inproceedings{conf2010, title = {A talk}, booktitle = {Proceedings}, year = 2010}
@phdthesis{thesis2011, title = {A thesis}, school = {Some University}, year = 2011}
"""


def test_bibtex_latex_names_strings_and_months():
    items = {item["id"]: item for item in read_bibliography(BIBTEX_SAMPLER, "bibtex")}
    latex = items["latex2020"]
    assert latex["title"] == "Über PTSD & the in vivo Model \u2014 a López 681\u2013688 test"
    assert latex["author"] == [
        {"family": "López-Roca", "given": "Argelio L."},
        {"literal": "World Health Organization"},
        {"family": "aan het Rot", "given": "Marije"},
        {"family": "King", "given": "Martin Luther", "suffix": "Jr"},
        {"family": "de Graaf", "given": "Robin A."},
        {"family": "Doe", "given": "J."},
    ]
    assert latex["container-title"] == "American Journal of Psychiatry"
    assert latex["issued"] == {"date-parts": [[2020, 6]]}
    assert latex["page"] == "681-688"
    assert latex["PMID"] == "24740528"
    assert latex["DOI"] == "10.1000/abc_1"


@pytest.mark.parametrize(
    ("key", "csl_type"),
    [
        ("latex2020", "article-journal"),
        ("report2001", "report"),
        ("chapter2002", "chapter"),
        ("web2019", "webpage"),
        ("misc2019", "webpage"),
        ("misc2020", "document"),
        ("book2002", "book"),
        ("conf2010", "paper-conference"),
        ("thesis2011", "thesis"),
    ],
)
def test_bibtex_entry_types_map_to_csl_types(key, csl_type):
    items = {item["id"]: item for item in read_bibliography(BIBTEX_SAMPLER, "bibtex")}
    assert items[key]["type"] == csl_type


def test_bibtex_report_and_chapter_fields_format_as_citing_medicine():
    items = {item["id"]: item for item in read_bibliography(BIBTEX_SAMPLER, "bibtex")}
    assert format_reference_text(items["report2001"]) == (
        "Page E, Harney JM. Health hazard evaluation report. Cincinnati (OH): National Institute "
        "for Occupational Safety and Health (US); 2001 Feb. Report No.: HETA2000-0139-2824."
    )
    assert format_reference_text(items["chapter2002"]) == (
        "Meltzer PS, Kallioniemi A, Trent JM. Chromosome alterations in human solid tumors. "
        "In: Vogelstein B, Kinzler KW, editors. The genetic basis of human cancer. "
        "New York: McGraw-Hill; 2002. p. 93-113."
    )
    assert items["web2019"]["accessed"] == {"date-parts": [[2024, 1, 5]]}
    assert items["thesis2011"]["genre"] == "dissertation"


@pytest.mark.parametrize(
    ("ris_type", "csl_type"),
    [
        ("JOUR", "article-journal"),
        ("BOOK", "book"),
        ("RPRT", "report"),
        ("ELEC", "webpage"),
        ("WEB", "webpage"),
        ("CHAP", "chapter"),
        ("GEN", "article"),
        ("ABST", "article"),
    ],
)
def test_ris_types_map_to_csl_types(ris_type, csl_type):
    items = read_bibliography(f"TY  - {ris_type}\nID  - x\nER  - \n", "ris")
    assert items[0]["type"] == csl_type


def test_ris_fields_authors_dates_pages_and_urls():
    text = (
        "TY  - ELEC\r\n"
        "ID  - va\r\n"
        "A1  - U.S. Department of Veterans Affairs\r\n"
        "A1  - Smith, John, Jr\r\n"
        "TI  - Medications for PTSD\r\n"
        "Y1  - 2023///\r\n"
        "Y2  - 2024/01/05/\r\n"
        "UR  - ftp://old.example.org/x; https://www.ptsd.va.gov/understand_tx/meds.asp\r\n"
        "N1  - Study type: patient information.\r\n"
        "SP  - 12\r\n"
        "ER  - \r\n"
    )
    (item,) = read_bibliography(text, "ris")
    assert item["author"] == [
        {"literal": "U.S. Department of Veterans Affairs"},
        {"family": "Smith", "given": "John", "suffix": "Jr"},
    ]
    assert item["issued"] == {"date-parts": [[2023]]}
    assert item["accessed"] == {"date-parts": [[2024, 1, 5]]}
    assert item["URL"] == "https://www.ptsd.va.gov/understand_tx/meds.asp"
    assert item["page"] == "12"
    assert item["note"] == "Study type: patient information."


def test_ris_record_keeps_continuation_lines_and_journal_abbreviation():
    krystal2017 = read("ketamine.ris")[2]
    assert krystal2017["title"].endswith("as a Prototype Novel Therapeutic")
    assert krystal2017["container-title"] == "Current Psychiatry Reports"
    assert krystal2017["container-title-short"] == "Curr Psychiatry Rep"
    assert krystal2017["issued"] == {"date-parts": [[2017, 8, 26]]}


def test_nbib_reads_a_pubmed_record():
    almeida, krystal2019, _ = read("pubmed.nbib")
    assert almeida["title"] == (
        "Effectiveness of Ketamine for the Treatment of Post-Traumatic Stress Disorder - "
        "A Systematic Review and Meta-Analysis"
    )  # continuation line joined, MEDLINE's closing period dropped
    assert almeida["container-title"] == "Clinical neuropsychiatry"
    assert almeida["container-title-short"] == "Clin Neuropsychiatry"
    assert almeida["issued"] == {"date-parts": [[2024, 2]]}
    assert almeida["author"][1] == {"family": "da Silva", "given": "Ursula Raianny Lacerda"}
    assert almeida["PMCID"] == "PMC10979792"
    assert almeida["note"].startswith("Publication type: Journal Article; Review")
    assert guess_study_design(almeida) == "systematic-review"
    assert krystal2019["DOI"] == "10.1016/j.neuron.2019.02.005"  # the [doi] LID, not the [pii]
    assert krystal2019["issued"] == {"date-parts": [[2019, 3, 6]]}
    assert "Research Support" not in krystal2019["note"]


def test_nbib_short_names_corporate_authors_and_abbreviated_pages():
    text = (
        "PMID- 24740528\n"
        "TI  - Efficacy of intravenous ketamine for treatment of chronic posttraumatic stress\n"
        "      disorder: a randomized clinical trial.\n"
        "PG  - 681-8\n"
        "DP  - 2014 Jun\n"
        "AU  - Feder A\n"
        "AU  - Parides MK\n"
        "CN  - Ketamine Study Group\n"
        "TA  - JAMA Psychiatry\n"
        "PT  - Journal Article\n"
        "PT  - Randomized Controlled Trial\n"
        "AID - 10.1001/jamapsychiatry.2014.62 [doi]\n"
    )
    (item,) = read_bibliography(text, "nbib")
    assert item["page"] == "681-688"
    assert item["author"] == [
        {"family": "Feder", "given": "A"},
        {"family": "Parides", "given": "MK"},
        {"literal": "Ketamine Study Group"},
    ]
    assert guess_study_design(item) == "rct"
    assert format_reference_text(item) == (
        "Feder A, Parides MK, Ketamine Study Group. Efficacy of intravenous ketamine for "
        "treatment of chronic posttraumatic stress disorder: a randomized clinical trial. "
        "JAMA Psychiatry. 2014 Jun:681-8. doi:10.1001/jamapsychiatry.2014.62. PMID: 24740528."
    )


def test_dump_csl_json_is_stable_and_round_trips():
    items = read("better-biblatex.bib")
    text = dump_csl_json(items)
    assert text.endswith("}\n]\n")
    assert "\n  {\n    " in text  # indent=2
    assert "\u2013" in text  # ensure_ascii=False
    first = json.loads(text)[0]
    assert list(first) == sorted(first)
    assert dump_csl_json(read_bibliography(text, "csl-json")) == text


# --- Bibliography errors name the problem and the line --------------------------------


def test_bibliography_error_carries_message_and_line():
    error = BibliographyError("duplicate citation key 'a'", 7)
    assert (error.message, error.line, str(error)) == (
        "duplicate citation key 'a'",
        7,
        "line 7: duplicate citation key 'a'",
    )
    assert str(BibliographyError("no line")) == "no line"
    assert isinstance(error, ValueError)


@pytest.mark.parametrize(
    ("name", "message", "line"),
    [
        ("malformed.json", "invalid JSON: Illegal trailing comma", 8),
        ("malformed.yaml", "invalid YAML", 6),
        ("malformed.bib", "unparseable BibTeX entry 'broken2021'", 6),
        ("malformed.ris", "RIS record has no usable key: add an ID, DO or AN tag", 6),
        ("malformed.nbib", "PubMed record has no PMID", 5),
    ],
)
def test_malformed_fixture_files_name_problem_and_line(name, message, line):
    with pytest.raises(BibliographyError) as caught:
        read(name)
    assert message in caught.value.message
    assert caught.value.line == line


@pytest.mark.parametrize(
    ("fmt", "text", "message", "line"),
    [
        ("csl-json", '{"id": "a"}', "CSL-JSON must be an array of items, not dict", 1),
        ("csl-json", "[\n 1\n]", "each item must be a mapping, not int", 2),
        ("csl-json", '[\n {"id": "a"},\n {"title": "x"}\n]', "item has no id", 3),
        ("csl-json", '[\n {"id": " "}\n]', "item has no id", 2),
        ("csl-json", '[{"id": ["a"]}]', "item id must be text", 1),
        (
            "csl-json",
            '[\n {"id": "a"},\n\n {"id": "a"}\n]',
            "duplicate citation key 'a' (first at line 2)",
            4,
        ),
        (
            "csl-json",
            '[\n {"id": "a",\n  "DOI": "10.12/x"}\n]',
            "item 'a': '10.12/x' is not a valid DOI: registrant '10.12'",
            2,
        ),
        (
            "csl-json",
            '[{"id": "a", "PMID": "PMID: 012"}]',
            "item 'a': 'PMID: 012' is not a valid PMID",
            1,
        ),
        ("csl-json", '[{"id": "a", "PMCID": "PMCX"}]', "'PMCX' is not a valid PMCID", 1),
        ("csl-yaml", "title: x\n", "CSL-YAML must be a list of items or a mapping", 1),
        ("csl-yaml", "- id: a\n- title: b\n", "item has no id", 2),
        ("csl-yaml", "references:\n- id: a\n- id: a\n", "duplicate citation key 'a'", 3),
        ("csl-yaml", "---\n- id: a\n---\n- id: b\n", "invalid YAML", 3),
        ("bibtex", "@article{,\n title={x}}\n", "BibTeX entry has no citation key", 1),
        (
            "bibtex",
            "@article{a, title={x}}\n@book{a, title={y}}\n",
            "duplicate citation key 'a' (first at line 1)",
            2,
        ),
        (
            "bibtex",
            "@article{a,\n journal = undefinedjournal,\n title = {x}}\n",
            "undefined BibTeX string 'undefinedjournal'",
            2,
        ),
        (
            "bibtex",
            "\n@article{a,\n doi = {javascript:alert(1)}}\n",
            "item 'a': 'javascript:alert(1)' is not a valid DOI",
            2,
        ),
        ("ris", "TY  - JOUR\nID  - a\nTI  - x\n", "RIS record has no 'ER  -' end tag", 1),
        (
            "ris",
            "TY  - JOUR\nID  - a\n\nTY  - JOUR\nER  - \n",
            "RIS record starting at line 1 has no 'ER  -' end tag",
            4,
        ),
        ("ris", "ER  - \n", "'ER  -' without a 'TY  -' record start", 1),
        ("ris", "Provider: Zotero\nTY  - JOUR\nER  - \n", "text outside a RIS record", 1),
        (
            "ris",
            "TY  - JOUR\nID  - a\nER  - \n\nTY  - JOUR\nDO  - 10.12/x\nER  - \n",
            "'10.12/x' is not a valid DOI",
            5,
        ),
        (
            "ris",
            "TY  - JOUR\nID  - a\nER  - \nTY  - JOUR\nID  - a\nER  - \n",
            "duplicate citation key 'a'",
            4,
        ),
        ("nbib", "PMID- 1\nnot a tag line\n", "expected a MEDLINE line 'TAG - value'", 2),
        ("nbib", "      continuation first\n", "expected a MEDLINE line", 1),
        ("nbib", "PMID- 123456789\n", "'123456789' is not a valid PMID: more than 8 digits", 1),
        (
            "nbib",
            "PMID- 1\n\nPMID- 2\nAID - 10.1/x [doi]\n",
            "item '2': '10.1/x' is not a valid DOI",
            3,
        ),
        ("nbib", "PMID- 1\n\nPMID- 1\n", "duplicate citation key '1'", 3),
    ],
)
def test_malformed_input_names_problem_and_line(fmt, text, message, line):
    error = parse_error(text, fmt)
    assert message in error.message
    assert error.line == line
    assert str(error).startswith(f"line {line}: ")


def test_unparseable_bibtex_without_a_line_still_names_the_problem():
    error = parse_error("@article{a, title = {x}, note = {y}}\n@article{b", "bibtex")
    assert "'b'" in error.message and "braces" in error.message


# --- Study design --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "design"),
    [
        ("feder2014", "rct"),  # "Study type: RCT (double-blind crossover, n=41)"
        ("abdallah2022", "rct"),
        ("borgogna2024", "systematic-review"),
        ("almeida2024", "systematic-review"),
        ("hoskins2021", "systematic-review"),  # "Type: systematic review and meta-analysis"
        ("ragnhildstveit2023", "review"),
        ("focus2023review", "review"),  # no Type prefix: from the title
        ("krystal2019neuron", "review"),
        ("schnurr2024", "guideline"),
        ("nice2018ng116", "guideline"),
        ("holmes2017", "observational"),  # "Type: case-control PET + postmortem"
        ("averill2022", "observational"),
        ("glue2020anxiety", "rct"),  # note says nothing known; title says double-blind
        ("fda2019spravato", "regulatory"),
        ("dea1999ketamine", "regulatory"),
        ("dea2023ketamine", "regulatory"),
        ("apa2013dsm5", "reference"),
        ("va_ncptsd_meds", "other"),
    ],
)
def test_study_design_of_the_real_ketamine_items(real_items, key, design):
    assert guess_study_design(real_items[key]) == design


@pytest.mark.parametrize(
    ("item", "design"),
    [
        ({"title": "Ketamine for PTSD: A Randomised Clinical Trial"}, "rct"),
        ({"title": "A prospective cohort study of veterans"}, "observational"),
        ({"title": "Retrospective chart review of ketamine clinics"}, "observational"),
        ({"title": "Ketamine-induced cystitis: a case series"}, "case-series"),
        ({"title": "Network meta-analysis of PTSD drugs"}, "systematic-review"),
        ({"title": "A review of randomized trials of ketamine"}, "review"),
        ({"title": "Clinical practice guideline for PTSD"}, "guideline"),
        ({"title": "Ketamine", "genre": "Practice Guideline"}, "guideline"),
        ({"title": "Ketamine", "note": "Type: cohort study."}, "observational"),
        ({"title": "Ketamine", "note": "Verified on PubMed. Type: review."}, "other"),
        ({"title": "Controlled Substances Act", "type": "legislation"}, "regulatory"),
        ({"title": "Ketamine"}, "other"),
        ({}, "other"),
    ],
)
def test_study_design_from_note_genre_title_and_type(item, design):
    assert guess_study_design(item) == design


def test_study_design_values_are_the_declared_ones(real_items):
    assert set(PRIMARY_DESIGNS) <= set(STUDY_DESIGNS)
    assert "other" in STUDY_DESIGNS
    assert {guess_study_design(item) for item in real_items.values()} <= set(STUDY_DESIGNS)


# --- NLM / Vancouver references ------------------------------------------------------


def test_feder2014_formats_exactly_as_nlm(real_items):
    assert format_reference_text(real_items["feder2014"]) == (
        "Feder A, Parides MK, Murrough JW, Perez AM, Morgan JE, Saxena S, et al. Efficacy of "
        "Intravenous Ketamine for Treatment of Chronic Posttraumatic Stress Disorder: A "
        "Randomized Clinical Trial. JAMA Psychiatry. 2014;71(6):681-8. "
        "doi:10.1001/jamapsychiatry.2014.62"
    )


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (
            "almeida2024",
            "Almeida TM, da Silva URL, Pires JP, Borges IN, Martins CRM, Cordeiro Q, et al. "
            "Effectiveness of Ketamine for the Treatment of Post-Traumatic Stress Disorder "
            "\u2013 A Systematic Review and Meta-Analysis. Clinical Neuropsychiatry. "
            "2024 Feb;21(1):22-31. doi:10.36131/cnfioritieditore20240102. PMID: 38559428. "
            "PMCID: PMC10979792.",
        ),
        (
            "ragnhildstveit2023",  # no volume, issue or pages
            "Ragnhildstveit A, Roscoe J, Bass LC, Averill CL, Abdallah CG, Averill LA. The "
            "potential of ketamine for posttraumatic stress disorder: a review of clinical "
            "evidence. Therapeutic Advances in Psychopharmacology. 2023. "
            "doi:10.1177/20451253231154125. PMID: 36895431. PMCID: PMC9989422.",
        ),
        (
            "focus2023review",  # no author: starts with the title
            "[Title UNVERIFIED] Review of ketamine as a potential treatment for PTSD. Focus "
            "(American Psychiatric Publishing). 2023. doi:10.1176/appi.focus.20230006. "
            "PMCID: PMC10316217.",
        ),
        (
            "abdallah2018pharmther",  # title ends with "?"
            "Abdallah CG, Sanacora G, Duman RS, Krystal JH. The neurobiology of depression, "
            "ketamine and rapid-acting antidepressants: Is it glutamate inhibition or "
            "activation? Pharmacology & Therapeutics. 2018. doi:10.1016/j.pharmthera.2018.05.010",
        ),
        (
            "matveychuk2020",  # volume without issue
            "Matveychuk D, Thomas RK, Swainson J, Khullar A, MacKay MA, Baker GB, et al. "
            "Ketamine as an antidepressant: overview of its mechanisms of action and potential "
            "predictive biomarkers. Therapeutic Advances in Psychopharmacology. 2020 May 11;"
            "10:2045125320916657. doi:10.1177/2045125320916657. PMID: 32440333. "
            "PMCID: PMC7225830.",
        ),
        (
            "ajp2013ketaminetrd",
            "Antidepressant efficacy of ketamine in treatment-resistant major depression: a "
            "two-site randomized controlled trial. American Journal of Psychiatry. "
            "2013;170(10):1134-42. doi:10.1176/appi.ajp.2013.13030392",
        ),
        (
            "glue2020anxiety",  # no issued date
            "Glue P, Neehoff S, Sabadel A, Broughton L, Le Nedelec M, Shadli S, et al. Effects "
            "of ketamine in patients with treatment-refractory generalized anxiety and social "
            "anxiety disorders: Exploratory double-blind psychoactive-controlled replication "
            "study. Journal of Psychopharmacology. 34(3):267-72.",
        ),
        (
            "nice2018ng116",  # report with URL
            "National Institute for Health and Care Excellence. Post-traumatic stress disorder "
            "(NICE guideline NG116) [Internet]. National Institute for Health and Care "
            "Excellence; 2018 Dec. Report No.: NG116. Available from: "
            "https://www.nice.org.uk/guidance/ng116",
        ),
        (
            "dea2023ketamine",  # report without URL
            "U.S. Drug Enforcement Administration, Diversion Control Division. Ketamine (Drug "
            "& Chemical Evaluation Section fact sheet). 2023 Apr.",
        ),
        (
            "apa2013dsm5",  # book with DOI
            "American Psychiatric Association. Diagnostic and Statistical Manual of Mental "
            "Disorders, Fifth Edition (DSM-5). American Psychiatric Publishing; 2013. "
            "doi:10.1176/appi.books.9780890425596",
        ),
        (
            "sg2016facingaddiction",  # book with URL, two corporate authors
            "Substance Abuse and Mental Health Services Administration (US), Office of the "
            "Surgeon General (US). Facing Addiction in America: The Surgeon General's Report "
            "on Alcohol, Drugs, and Health [Internet]. Washington (DC): US Department of "
            "Health and Human Services; 2016. Available from: "
            "https://www.ncbi.nlm.nih.gov/books/NBK424847/",
        ),
        (
            "fda2019spravato",  # webpage without URL, with genre
            "U.S. Food and Drug Administration. FDA approves new nasal spray medication for "
            "treatment-resistant depression; available only at a certified doctor's office or "
            "clinic [News release]. 2019 Mar 5.",
        ),
        (
            "beckers2025spravato",  # page of a website: cited under the site (CM ch. 25)
            "Becker's Hospital Review [Internet]. 2025. FDA approves 1st monotherapy drug for "
            "treatment-resistant depression. Available from: https://www.beckershospitalreview"
            ".com/pharmacy/j-j-approves-1st-monotherapy-for-treatment-resistant-depression.html",
        ),
        (
            "va_ncptsd_meds",  # webpage without date
            "U.S. Department of Veterans Affairs, National Center for PTSD. Medications for "
            "PTSD [Internet]. Available from: https://www.ptsd.va.gov/understand_tx/"
            "meds_for_ptsd.asp",
        ),
    ],
)
def test_real_items_format_as_nlm(real_items, key, expected):
    assert format_reference_text(real_items[key]) == expected


def test_real_items_have_no_empty_or_doubled_punctuation(real_items):
    for item in real_items.values():
        text = format_reference_text(item)
        for bad in ("()", "[]", "..", ";;", ";.", ":.", " .", ",.", ". .", "  "):
            assert bad not in text, (item["id"], bad, text)


# Samples of formatted references from NLM (Citing Medicine / ICMJE "Samples of
# Formatted References for Authors of Journal Articles"), as CSL items.
CITING_MEDICINE = [
    (
        {
            "type": "article-journal",
            "author": [
                {"family": "Halpern", "given": "Scott D."},
                {"family": "Ubel", "given": "Peter A."},
                {"family": "Caplan", "given": "Arthur L."},
            ],
            "title": "Solid-organ transplantation in HIV-infected patients",
            "container-title": "The New England Journal of Medicine",
            "container-title-short": "N. Engl. J. Med.",
            "issued": {"date-parts": [[2002, 7, 25]]},
            "volume": "347",
            "issue": "4",
            "page": "284-287",
        },
        "Halpern SD, Ubel PA, Caplan AL. Solid-organ transplantation in HIV-infected "
        "patients. N Engl J Med. 2002 Jul 25;347(4):284-7.",
    ),
    (
        {
            "type": "article-journal",
            "author": [
                {"family": "Rose", "given": "M E"},
                {"family": "Huerbin", "given": "M B"},
                {"family": "Melick", "given": "J"},
                {"family": "Marion", "given": "D W"},
                {"family": "Palmer", "given": "A M"},
                {"family": "Schiding", "given": "J K"},
                {"family": "Kochanek", "given": "P M"},
                {"family": "Graham", "given": "S H"},
            ],
            "title": "Regulation of interstitial excitatory amino acid concentrations after "
            "cortical contusion injury",
            "container-title-short": "Brain Res",
            "issued": {"date-parts": [[2002]]},
            "volume": "935",
            "issue": "1-2",
            "page": "40\u201346",
        },
        "Rose ME, Huerbin MB, Melick J, Marion DW, Palmer AM, Schiding JK, et al. Regulation "
        "of interstitial excitatory amino acid concentrations after cortical contusion injury. "
        "Brain Res. 2002;935(1-2):40-6.",
    ),
    (
        {
            "type": "article-journal",
            "author": [{"literal": "Diabetes Prevention Program Research Group"}],
            "title": "Hypertension, insulin, and proinsulin in participants with impaired "
            "glucose tolerance",
            "container-title": "Hypertension",
            "issued": {"date-parts": [[2002]]},
            "volume": "40",
            "issue": "5",
            "page": "679-686",
        },
        "Diabetes Prevention Program Research Group. Hypertension, insulin, and proinsulin in "
        "participants with impaired glucose tolerance. Hypertension. 2002;40(5):679-86.",
    ),
    (
        {
            "type": "article-journal",
            "author": [
                {"family": "Petitti", "given": "Diana B."},
                {"family": "Crooks", "given": "Valerie C."},
                {"family": "Buckwalter", "given": "J. Galen"},
                {"family": "Chiu", "given": "Virginia"},
            ],
            "title": "Blood pressure levels before dementia",
            "container-title": "Archives of Neurology",
            "container-title-short": "Arch Neurol",
            "issued": {"date-parts": [[2005, 1]]},
            "volume": "62",
            "issue": "1",
            "page": "112-116",
        },
        "Petitti DB, Crooks VC, Buckwalter JG, Chiu V. Blood pressure levels before dementia. "
        "Arch Neurol. 2005 Jan;62(1):112-6.",
    ),
    (
        {  # no author, no volume or issue: "Year Mon:pages"
            "type": "article-journal",
            "title": "Outreach: bringing HIV-positive individuals into care",
            "container-title": "HRSA Careaction",
            "issued": {"date-parts": [[2002, 6]]},
            "page": "1-6",
        },
        "Outreach: bringing HIV-positive individuals into care. HRSA Careaction. 2002 Jun:1-6.",
    ),
    (
        {  # journal article on the Internet
            "type": "article-journal",
            "author": [{"family": "Abood", "given": "Sheila"}],
            "title": "Quality improvement initiative in nursing homes: the ANA acts in an "
            "advisory role",
            "container-title-short": "Am J Nurs",
            "issued": {"date-parts": [[2002, 6]]},
            "accessed": {"date-parts": [[2002, 8, 12]]},
            "volume": "102",
            "issue": "6",
            "page": "[about 1 p.]",
            "URL": "http://www.nursingworld.org/AJN/2002/june/Wawatch.htmArticle",
        },
        "Abood S. Quality improvement initiative in nursing homes: the ANA acts in an advisory "
        "role. Am J Nurs [Internet]. 2002 Jun [cited 2002 Aug 12];102(6):[about 1 p.]. "
        "Available from: http://www.nursingworld.org/AJN/2002/june/Wawatch.htmArticle",
    ),
    (
        {
            "type": "book",
            "author": [
                {"family": "Murray", "given": "Patrick R."},
                {"family": "Rosenthal", "given": "Ken S."},
                {"family": "Kobayashi", "given": "George S."},
                {"family": "Pfaller", "given": "Michael A."},
            ],
            "title": "Medical microbiology",
            "edition": "4",
            "publisher-place": "St. Louis",
            "publisher": "Mosby",
            "issued": {"date-parts": [[2002]]},
        },
        "Murray PR, Rosenthal KS, Kobayashi GS, Pfaller MA. Medical microbiology. 4th ed. "
        "St. Louis: Mosby; 2002.",
    ),
    (
        {  # editors as authors
            "type": "book",
            "editor": [
                {"family": "Gilstrap", "given": "Larry C.", "suffix": "3rd"},
                {"family": "Cunningham", "given": "F. Gary"},
                {"family": "VanDorsten", "given": "J. Peter"},
            ],
            "title": "Operative obstetrics",
            "edition": 2,
            "publisher-place": "New York",
            "publisher": "McGraw-Hill",
            "issued": {"date-parts": [[2002]]},
        },
        "Gilstrap LC 3rd, Cunningham FG, VanDorsten JP, editors. Operative obstetrics. 2nd ed. "
        "New York: McGraw-Hill; 2002.",
    ),
    (
        {
            "type": "chapter",
            "author": [
                {"family": "Meltzer", "given": "Paul S."},
                {"family": "Kallioniemi", "given": "Anne"},
                {"family": "Trent", "given": "Jeffrey M."},
            ],
            "title": "Chromosome alterations in human solid tumors",
            "editor": [
                {"family": "Vogelstein", "given": "Bert"},
                {"family": "Kinzler", "given": "Kenneth W."},
            ],
            "container-title": "The genetic basis of human cancer",
            "publisher-place": "New York",
            "publisher": "McGraw-Hill",
            "issued": {"date-parts": [[2002]]},
            "page": "93-113",
        },
        "Meltzer PS, Kallioniemi A, Trent JM. Chromosome alterations in human solid tumors. "
        "In: Vogelstein B, Kinzler KW, editors. The genetic basis of human cancer. New York: "
        "McGraw-Hill; 2002. p. 93-113.",
    ),
    (
        {
            "type": "report",
            "author": [{"family": "Page", "given": "E"}, {"family": "Harney", "given": "J M"}],
            "title": "Health hazard evaluation report",
            "publisher-place": "Cincinnati (OH)",
            "publisher": "National Institute for Occupational Safety and Health (US)",
            "issued": {"date-parts": [[2001, 2]]},
            "number": "HETA2000-0139-2824",
        },
        "Page E, Harney JM. Health hazard evaluation report. Cincinnati (OH): National "
        "Institute for Occupational Safety and Health (US); 2001 Feb. Report No.: "
        "HETA2000-0139-2824.",
    ),
]


@pytest.mark.parametrize(("item", "expected"), CITING_MEDICINE)
def test_citing_medicine_examples(item, expected):
    assert format_reference_text(item) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ({"family": "Feder", "given": "Adriana"}, "Feder A"),
        ({"family": "Parides", "given": "Michael K."}, "Parides MK"),
        ({"family": "aan het Rot", "given": "Marije"}, "aan het Rot M"),
        ({"family": "Lapidus", "given": "Kyle A. B."}, "Lapidus KAB"),
        ({"family": "Wan", "given": "Le-Ben"}, "Wan LB"),
        ({"family": "Murrough", "given": "JW"}, "Murrough JW"),  # PubMed-style initials
        ({"family": "Gogh", "given": "Vincent", "non-dropping-particle": "van"}, "van Gogh V"),
        ({"family": "King", "given": "Martin Luther", "suffix": "Jr"}, "King ML Jr"),
        ({"family": "\u00c9mile", "given": "\u00c9douard"}, "\u00c9mile \u00c9"),
        ({"family": "Plato"}, "Plato"),
        ({"given": "Madonna"}, "Madonna"),
        ({"literal": "World Health Organization"}, "World Health Organization"),
    ],
)
def test_author_names_are_family_and_initials(name, expected):
    item = {"type": "article-journal", "title": "T", "author": [name]}
    assert format_reference_text(item) == f"{expected}. T."


@pytest.mark.parametrize(
    ("count", "expected_end"),
    [(6, "F6 A. T."), (7, "F6 A, et al. T.")],
)
def test_more_than_six_authors_become_et_al(count, expected_end):
    authors = [{"family": f"F{n}", "given": "Ann"} for n in range(1, count + 1)]
    text = format_reference_text({"type": "article-journal", "title": "T", "author": authors})
    assert text.startswith("F1 A, F2 A, F3 A, F4 A, F5 A, F6 A")
    assert text.endswith(expected_end)


@pytest.mark.parametrize(
    ("page", "shown"),
    [
        ("681-688", "681-8"),
        ("1134-1142", "1134-42"),
        ("193-202", "193-202"),
        ("22-31", "22-31"),
        ("12-19", "12-9"),
        ("99-101", "99-101"),
        ("681\u2013688", "681-8"),
        ("681 -- 688", "681-8"),
        ("e12-e19", "e12-e19"),
        ("S1-S5", "S1-S5"),
        ("12-15, 18-20", "12-5, 18-20"),
        ("2299124", "2299124"),
        ("681-8", "681-8"),
    ],
)
def test_page_ranges_use_nlm_minimal_form(page, shown):
    item = {"type": "article-journal", "title": "T", "container-title": "J", "page": page}
    item["issued"] = {"date-parts": [[2020]]}
    item["volume"] = "1"
    assert format_reference_text(item) == f"T. J. 2020;1:{shown}."


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, "T. J."),
        ({"issued": {"date-parts": [[2020]]}}, "T. J. 2020."),
        ({"volume": "10"}, "T. J. 10."),
        ({"issue": "3", "page": "5-9"}, "T. J. (3):5-9."),
        ({"issued": {"date-parts": [[2020]]}, "issue": "3"}, "T. J. 2020;(3)."),
        ({"issued": {"date-parts": [[2020, 5]]}, "page": "e5"}, "T. J. 2020 May:e5."),
        ({"issued": {"date-parts": [["2020", "13"]]}}, "T. J. 2020 Spring."),
        ({"issued": {"date-parts": [[2002, 7], [2002, 8]]}}, "T. J. 2002 Jul-Aug."),
        ({"issued": {"literal": "in press"}}, "T. J. in press."),
        ({"issued": "2019-03-05"}, "T. J. 2019 Mar 5."),
        ({"container-title-short": "J. Short."}, "T. J Short."),
    ],
)
def test_missing_journal_parts_degrade_without_stray_punctuation(fields, expected):
    item = {"type": "article-journal", "title": "T", "container-title": "J", **fields}
    assert format_reference_text(item) == expected


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Is it glutamate?", "Is it glutamate? J. 2020."),
        ("Stop!", "Stop! J. 2020."),
        ("Ends with a period.", "Ends with a period. J. 2020."),
        ("  Extra   spaces\n inside ", "Extra spaces inside. J. 2020."),
        ("<i>In vivo</i> imaging", "In vivo imaging. J. 2020."),
    ],
)
def test_title_punctuation_and_csl_markup(title, expected):
    item = {
        "type": "article-journal",
        "title": title,
        "container-title": "J",
        "issued": {"date-parts": [[2020]]},
    }
    assert format_reference_text(item) == expected


def test_webpage_and_report_show_cited_date_when_accessed():
    item = {
        "type": "webpage",
        "author": [{"literal": "National Center for PTSD"}],
        "title": "Medications for PTSD",
        "URL": "https://www.ptsd.va.gov/understand_tx/meds_for_ptsd.asp",
        "issued": {"date-parts": [[2023, 6, 1]]},
        "accessed": {"date-parts": [[2024, 1, 5]]},
    }
    assert format_reference_text(item) == (
        "National Center for PTSD. Medications for PTSD [Internet]. 2023 Jun 1 "
        "[cited 2024 Jan 5]. Available from: https://www.ptsd.va.gov/understand_tx/"
        "meds_for_ptsd.asp"
    )
    report = {**item, "type": "report", "publisher": "VA", "publisher-place": "Washington (DC)"}
    assert "Washington (DC): VA; 2023 Jun [cited 2024 Jan 5]. Available from:" in (
        format_reference_text(report)
    )


def test_invalid_identifiers_and_unsafe_urls_are_left_out_not_raised():
    item = {
        "type": "webpage",
        "title": "T",
        "DOI": "not a doi",
        "PMID": "0",
        "PMCID": "x",
        "URL": "javascript:alert(1)",
    }
    assert format_reference_text(item) == "T."
    assert format_reference_html(item) == "T."


def test_html_reference_links_doi_pubmed_and_pmc(real_items):
    assert format_reference_html(real_items["almeida2024"]).endswith(
        "Clinical Neuropsychiatry. 2024 Feb;21(1):22-31. "
        '<a href="https://doi.org/10.36131/cnfioritieditore20240102">'
        "doi:10.36131/cnfioritieditore20240102</a>. "
        'PubMed: <a href="https://pubmed.ncbi.nlm.nih.gov/38559428/">38559428</a>. '
        'PMCID: <a href="https://pmc.ncbi.nlm.nih.gov/articles/PMC10979792/">PMC10979792</a>.'
    )


def test_html_reference_links_url_of_webpages_and_reports_without_doi(real_items):
    assert format_reference_html(real_items["nice2018ng116"]).endswith(
        'Available from: <a href="https://www.nice.org.uk/guidance/ng116" class="url">'
        "https://www.nice.org.uk/guidance/ng116</a>"
    )  # class "url": its text is its address, which print does not add again
    # With a DOI, the DOI is the link and the URL is not repeated.
    with_doi = {**real_items["apa2013dsm5"], "URL": "https://psychiatryonline.org/x"}
    assert "psychiatryonline.org" not in format_reference_html(with_doi)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://example.org/file",
        "//example.org/no-scheme",
        "https://exa mple.org/space",
        "https:///no-host",
    ],
)
def test_only_http_urls_are_shown_or_linked(url):
    item = {"type": "webpage", "title": "Page", "URL": url}
    assert format_reference_html(item) == "Page."
    assert format_reference_text(item) == "Page."


def test_html_reference_escapes_every_item_value():
    item = {
        "type": "webpage",
        "author": [{"literal": "<b>Evil</b> & Co"}, {"family": '"><script>', "given": "x"}],
        "title": "<script>alert('t')</script>",
        "genre": "<img src=x onerror=alert(1)>",
        "publisher": "A & B",
        "URL": 'https://example.org/?a=1&b="><script>alert(1)</script>',
    }
    out = format_reference_html(item)
    assert "<script" not in out and "<img" not in out and "<b>" not in out
    assert "&lt;script&gt;alert(&#x27;t&#x27;)&lt;/script&gt;" in out
    assert "A &amp; B" in out
    assert 'href="https://example.org/?a=1&amp;b=&quot;&gt;&lt;script&gt;' in out
    assert out.count("<a ") == 1


def test_html_reference_reads_the_same_as_the_text_one(real_items):
    for item in [*real_items.values(), *(example for example, _ in CITING_MEDICINE)]:
        shown = html.unescape(re.sub(r"<[^>]+>", "", format_reference_html(item)))
        assert shown.replace("PubMed: ", "PMID: ") == format_reference_text(item)


def test_formatting_a_thousand_references_is_fast(real_items):
    items = (list(real_items.values()) * 40)[:1000]
    start = time.perf_counter()
    for item in items:
        format_reference_text(item)
        format_reference_html(item)
    elapsed = time.perf_counter() - start
    print(f"formatted 1,000 references as text and HTML in {elapsed * 1000:.0f} ms")
    assert elapsed < 5  # generous guard; measured ~0.1 s


def test_retraction_severity_order_names_every_citation_status():
    from articles.models import Citation
    from evidence.retractions import SEVERITY, severity

    assert set(SEVERITY) == set(Citation.Retraction.values)
    assert [severity(status) for status in SEVERITY] == [0, 1, 2, 3]
    assert severity("retracted") > severity("expression-of-concern") > severity("correction")
