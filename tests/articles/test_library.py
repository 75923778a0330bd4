"""articles.services.library: adding citations by paste or identifier, and their usage.

Fetches go to the local HTTPS server of tests/evidence/test_fetching.py on 127.0.0.1, serving
the hand-recorded replies in tests/data/recorded/.
"""

import json
import re
from pathlib import Path

import pytest

from articles.models import Citation
from articles.services.library import (
    EXPECTED_ERRORS,
    DuplicateCitationError,
    citation_add,
    citation_add_by_identifier,
    citation_usage,
    citations_add_from_text,
    detect_format,
    report_rows,
    suggest_key,
)
from evidence.citations import BibliographyError, IdentifierError
from evidence.fetching import NotFound
from tests.evidence.test_fetching import RecordedServer, make_certificate
from tests.factories import import_article, write_article

pytestmark = pytest.mark.django_db

BIB = Path(__file__).parents[1] / "data" / "bib"
KETAMINE = json.loads((BIB / "ketamine-for-ptsd.csl.json").read_text(encoding="utf-8"))
FEDER = next(item for item in KETAMINE if item["id"] == "feder2014")
SCHNURR = next(item for item in KETAMINE if item["id"] == "schnurr2024")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = RecordedServer(*make_certificate(tmp_path_factory.mktemp("tls")))
    yield running
    running.close()


# --- citation_add ----------------------------------------------------------------------


def test_adding_an_item_stores_normalised_identifiers_and_guesses_the_design():
    citation = citation_add(item={**SCHNURR, "DOI": "https://doi.org/10.7326/M23-2757"})
    assert (citation.key, citation.doi, citation.pmid) == (
        "schnurr2024",
        "10.7326/m23-2757",
        "38408360",
    )
    assert citation.csl["DOI"] == "10.7326/m23-2757"
    assert citation.year == 2024
    assert citation.study_design == Citation.StudyDesign.GUIDELINE
    assert citation.retraction_status == Citation.Retraction.NONE


@pytest.mark.parametrize(
    ("second", "named"),
    [
        ({"DOI": "HTTPS://DOI.ORG/10.1001/JAMAPSYCHIATRY.2014.62"}, "DOI 10.1001/jama"),
        ({"PMID": "PMID: 24740528"}, "PMID 24740528"),
        ({"PMCID": "pmc1234567"}, "PMCID PMC1234567"),
    ],
)
def test_a_duplicate_identifier_is_refused_with_the_existing_record(second, named):
    first = citation_add(
        item={**FEDER, "PMID": "24740528", "PMCID": "PMC1234567"},
    )
    item = {"id": "other", "title": "Another record of the same work", **second}
    with pytest.raises(DuplicateCitationError) as caught:
        citation_add(item=item)
    assert caught.value.existing == first
    assert named in str(caught.value)
    assert f"citation #{first.pk}" in str(caught.value)
    assert Citation.objects.count() == 1


def test_a_duplicate_url_is_refused_only_for_works_without_identifiers():
    page = {"id": "va", "title": "Medications for PTSD", "URL": "https://www.ptsd.va.gov/x"}
    existing = citation_add(item=page)
    with pytest.raises(DuplicateCitationError, match=re.escape("URL https://www.ptsd.va.gov/x")):
        citation_add(item={**page, "id": "va2"})
    with_doi = citation_add(item={**page, "id": "va3", "DOI": "10.5555/va"})
    assert with_doi.pk != existing.pk


def test_an_invalid_identifier_is_refused_naming_the_value():
    with pytest.raises(IdentifierError, match=re.escape("'10.1/x' is not a valid DOI")):
        citation_add(item={"id": "bad", "title": "Bad", "DOI": "10.1/x"})
    with pytest.raises(IdentifierError, match="'12a' is not a valid PMID"):
        citation_add(item={"id": "bad", "title": "Bad", "PMID": "12a"})
    assert not Citation.objects.exists()


def test_an_item_without_a_title_is_refused():
    with pytest.raises(BibliographyError, match="has no title"):
        citation_add(item={"id": "untitled", "DOI": "10.5555/untitled"})


def test_a_taken_key_gets_a_suffix():
    first = citation_add(item={"id": "smith2020", "title": "One", "DOI": "10.5555/one"})
    second = citation_add(item={"id": "smith2020", "title": "Two", "DOI": "10.5555/two"})
    third = citation_add(item={"id": "smith2020", "title": "Three", "DOI": "10.5555/three"})
    assert [first.key, second.key, third.key] == ["smith2020", "smith2020b", "smith2020c"]


def test_an_unusable_key_is_replaced_by_an_author_year_key():
    for unusable in ("has spaces", "-leading-dash", "x" * 201, 42):
        Citation.objects.all().delete()
        assert citation_add(item={**FEDER, "id": unusable}).key == "feder2014"


def test_suggested_keys_are_plain_author_year():
    d_souza = {"author": [{"family": "D\u2019Souza"}], "issued": {"date-parts": [[2022]]}}
    assert suggest_key(d_souza) == "dsouza2022"
    assert suggest_key(FEDER) == "feder2014"
    assert suggest_key({"author": [{"family": "López-Roca"}]}) == "lopezroca"
    assert suggest_key({"author": [{"literal": "The Editors"}], "title": "x"}) == "the"
    assert suggest_key({"title": "Medications for PTSD", "issued": {"date-parts": [[2023]]}}) == (
        "medications2023"
    )
    assert suggest_key({}) == "ref"


# --- citations_add_from_text -----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("ketamine.json", "csl-json"),
        ("ketamine.yaml", "csl-yaml"),
        ("zotero.bib", "bibtex"),
        ("ketamine.ris", "ris"),
        ("pubmed.nbib", "nbib"),
    ],
)
def test_pasted_bibliographies_are_added_in_every_format(name, fmt):
    text = (BIB / name).read_text(encoding="utf-8")
    for given in (fmt, "auto"):
        Citation.objects.all().delete()
        result = citations_add_from_text(text=text, fmt=given)
        assert result.fmt == fmt
        assert [item.outcome for item in result.items] == ["created"] * 3
        assert set(Citation.objects.values_list("doi", flat=True)) == {
            "10.36131/cnfioritieditore20240102",
            "10.1016/j.neuron.2019.02.005",
            "10.1007/s11920-017-0829-z",
        }
    keys = set(Citation.objects.values_list("key", flat=True))
    # PubMed's record numbers and RIS's DOI stand-ins are not kept as citation keys.
    assert not keys & {"38559428", "30844397", "10.1016/j.neuron.2019.02.005"}


def test_a_paste_reports_each_item_created_or_duplicate_of_the_existing_record():
    existing = citation_add(item={**KETAMINE[4]})  # almeida2024
    text = (BIB / "ketamine.yaml").read_text(encoding="utf-8")
    result = citations_add_from_text(text=text, fmt="csl-yaml")
    assert [(item.key, item.outcome) for item in result.items] == [
        ("almeida2024", "duplicate"),
        ("krystal2019neuron", "created"),
        ("krystal2017cpr", "created"),
    ]
    assert result.duplicates[0].citation == existing
    assert f"#{existing.pk}" in result.duplicates[0].message
    rows = report_rows(result)
    assert rows[0] == {
        "status": "duplicate",
        "citation": existing,
        "message": result.duplicates[0].message,
        "key": "almeida2024",
    }
    assert [row["status"] for row in rows[1:]] == ["created", "created"]
    again = citations_add_from_text(text=text, fmt="auto")
    assert [item.outcome for item in again.items] == ["duplicate"] * 3
    assert Citation.objects.count() == 3


def test_a_paste_with_the_same_work_twice_adds_it_once():
    item = {"id": "a", "title": "Same work", "DOI": "10.5555/same"}
    text = json.dumps([item, {**item, "id": "b", "DOI": "https://doi.org/10.5555/SAME"}])
    result = citations_add_from_text(text=text, fmt="csl-json")
    assert [item.outcome for item in result.items] == ["created", "duplicate"]
    assert result.duplicates[0].citation == result.created[0].citation


def test_one_bad_item_is_reported_and_the_others_are_added():
    text = json.dumps(
        [
            {"id": "good", "title": "A good one", "DOI": "10.5555/good"},
            {"id": "untitled", "DOI": "10.5555/untitled"},
            {"id": "badurl", "title": "Bad URL", "URL": "https://exa mple.org/" + "x" * 600},
        ]
    )
    result = citations_add_from_text(text=text, fmt="csl-json")
    assert [(item.key, item.outcome) for item in result.items] == [
        ("good", "created"),
        ("untitled", "error"),
        ("badurl", "error"),
    ]
    assert "has no title" in result.errors[0].message
    assert list(Citation.objects.values_list("key", flat=True)) == ["good"]


def test_one_csl_json_object_without_an_id_is_accepted():
    text = json.dumps({k: v for k, v in FEDER.items() if k != "id"})
    result = citations_add_from_text(text=text, fmt="auto")
    assert result.created[0].citation.key == "feder2014"


def test_an_unreadable_paste_adds_nothing_and_names_the_problem():
    text = json.dumps([{"id": "ok", "title": "Fine", "DOI": "10.5555/fine"}, {"id": "x"}])
    text = text.replace('"10.5555/fine"', '"10.1/not-a-doi"')
    with pytest.raises(BibliographyError, match=r"could not read the pasted CSL-JSON.*line 1"):
        citations_add_from_text(text=text, fmt="csl-json")
    assert not Citation.objects.exists()


GARBAGE = [
    "",
    "   \n",
    "hello, this is not a bibliography",
    "[" * 50_000,
    "{" * 5_000,
    "- " * 5_000,
    "@article{x, title={unclosed",
    "@@@@",
    "TY  - JOUR\nTI  - no end tag\n",
    "PMID- abc\nTI  - x\n",
    "- id: x\n  issued: 2020-13-45\n",
    "references: 5",
    "\x00\x01\x02",
    "[1, 2, 3]",
    '{"id": 5, "title": ["a"]}',
    "null",
    "<script>alert(1)</script>",
]


@pytest.mark.parametrize("text", GARBAGE)
@pytest.mark.parametrize("fmt", ["auto", "bibtex", "ris", "csl-json", "csl-yaml", "nbib"])
def test_garbage_paste_is_a_bibliography_error_never_a_crash(text, fmt):
    try:
        result = citations_add_from_text(text=text, fmt=fmt)
    except BibliographyError as error:
        assert str(error)
    else:  # read as something after all: then only as reported items
        assert all(item.outcome in ("created", "error") for item in result.items)
    assert not Citation.objects.exists()


def test_an_unknown_format_and_an_oversized_paste_are_refused():
    with pytest.raises(BibliographyError, match="unknown format 'docx'"):
        citations_add_from_text(text="x", fmt="docx")
    with pytest.raises(BibliographyError, match="at most 2,000,000"):
        citations_add_from_text(text="x" * 2_000_001, fmt="auto")


def test_format_detection():
    assert detect_format('\ufeff  [{"id": "a"}]') == "csl-json"
    assert detect_format("% a comment\n@Article{key,\n title={x}}") == "bibtex"
    assert detect_format("TY  - JOUR\nER  - \n") == "ris"
    assert detect_format("PMID- 123\nTI  - x\n") == "nbib"
    assert detect_format("---\nreferences:\n- id: a\n") == "csl-yaml"
    assert detect_format("- id: a\n  title: x\n") == "csl-yaml"
    with pytest.raises(BibliographyError, match="could not tell"):
        detect_format("plain words")


# --- citation_add_by_identifier --------------------------------------------------------


def test_adding_by_doi_link_fetches_from_crossref(server):
    citation = citation_add_by_identifier(
        identifier="https://doi.org/10.1001/JAMAPSYCHIATRY.2014.62", client=server.client()
    )
    assert citation.key == "feder2014"
    assert citation.doi == "10.1001/jamapsychiatry.2014.62"
    assert citation.title.endswith("Posttraumatic Stress Disorder: A Randomized Clinical Trial")
    assert citation.year == 2014
    assert citation.study_design == Citation.StudyDesign.RCT
    assert citation.csl["author"][0] == {"family": "Feder", "given": "Adriana"}
    assert citation.retraction_status == Citation.Retraction.NONE
    assert citation.retraction_checked_at is not None


def test_adding_by_pmid_fetches_from_pubmed(server):
    citation = citation_add_by_identifier(identifier="38408360", client=server.client())
    assert (citation.key, citation.pmid, citation.doi) == (
        "schnurr2024",
        "38408360",
        "10.7326/m23-2757",
    )
    assert citation.study_design == Citation.StudyDesign.GUIDELINE


def test_adding_a_retracted_work_records_its_retraction(server):
    citation = citation_add_by_identifier(
        identifier="10.1016/S0140-6736(97)11096-0", client=server.client()
    )
    assert citation.retraction_status == Citation.Retraction.RETRACTED
    assert citation.is_retracted
    assert citation.key == "wakefield1998"


def test_a_duplicate_identifier_is_refused_before_fetching(server):
    existing = citation_add(item=FEDER)
    requests_before = len(server.requests)
    with pytest.raises(DuplicateCitationError) as caught:
        citation_add_by_identifier(
            identifier="doi:10.1001/jamapsychiatry.2014.62", client=server.client()
        )
    assert caught.value.existing == existing
    assert len(server.requests) == requests_before


def test_a_fetched_record_matching_another_identifier_is_refused(server):
    existing = citation_add(
        item={"id": "krystal", "title": "Ketamine", "DOI": "10.1016/j.neuron.2019.02.005"}
    )
    with pytest.raises(
        DuplicateCitationError, match=re.escape("DOI 10.1016/j.neuron.2019.02.005")
    ) as caught:
        citation_add_by_identifier(identifier="PMID: 30844397", client=server.client())
    assert caught.value.existing == existing
    assert Citation.objects.count() == 1


def test_fetch_failures_and_bad_identifiers_are_expected_errors(server):
    with pytest.raises(NotFound) as caught:
        citation_add_by_identifier(identifier="10.5555/unknown", client=server.client())
    assert isinstance(caught.value, EXPECTED_ERRORS)
    with pytest.raises(IdentifierError) as caught:
        citation_add_by_identifier(identifier="ketamine", client=server.client())
    assert isinstance(caught.value, EXPECTED_ERRORS)
    assert not Citation.objects.exists()


# --- citation_usage --------------------------------------------------------------------


def test_usage_lists_each_article_with_the_claims_citing_the_work(
    tmp_path, django_assert_num_queries
):
    first = import_article(write_article(tmp_path / "a", slug="first-article")).article
    second = import_article(
        write_article(tmp_path / "b", slug="second-article", title="Second article")
    ).article
    feder = Citation.objects.get(doi="10.1001/jamapsychiatry.2014.62")
    with django_assert_num_queries(2):
        usage = citation_usage(citation=feder)
    # Ordered by article title: "Second article" before "Test article".
    assert [(u.article, u.claim_keys, u.keys) for u in usage] == [
        (second, ["lead-claim", "rapid-onset"], ["feder2014"]),
        (first, ["lead-claim", "rapid-onset"], ["feder2014"]),
    ]
    article, claim_keys = usage[0]
    assert (article, claim_keys) == (second, ["lead-claim", "rapid-onset"])


def test_an_unused_citation_has_no_usage():
    citation = citation_add(item=FEDER)
    assert citation_usage(citation=citation) == []
