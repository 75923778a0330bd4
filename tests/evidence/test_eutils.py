"""evidence.fetching.eutils: PubMed searches (esearch, esummary) for the evidence watch.

Network tests use the recorded HTTPS server of test_fetching on 127.0.0.1, serving
the synthetic records in tests/data/recorded/eutils/ (see its README).
"""

import datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from evidence.fetching import BadResponse, NotAllowed, Redirected
from evidence.fetching.eutils import (
    GUIDELINE,
    META_ANALYSIS,
    OTHER,
    RCT,
    SYSTEMATIC_REVIEW,
    Throttle,
    classify,
    default_query,
    esearch_url,
    esummary_url,
    parse_esearch,
    parse_esummary,
)
from tests.evidence.test_fetching import RECORDED, RecordedServer, make_certificate

JAN, DEC = datetime.date(2026, 1, 1), datetime.date(2026, 12, 31)
BASE = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/esearch.fcgi"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = RecordedServer(*make_certificate(tmp_path_factory.mktemp("tls")))
    yield running
    running.close()


def query_of(url: str) -> dict:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


# --- pure parts --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("types", "title", "kind"),
    [
        (["Journal Article", "Meta-Analysis", "Systematic Review"], "", META_ANALYSIS),
        (["Journal Article", "Systematic Review"], "", SYSTEMATIC_REVIEW),
        (["Randomized Controlled Trial"], "", RCT),
        (["Practice Guideline", "Systematic Review"], "", GUIDELINE),
        (["Journal Article"], "Clinical practice guideline for PTSD: 2026 update", GUIDELINE),
        (["Journal Article"], "Ketamine for PTSD: a meta-analysis", META_ANALYSIS),
        (["Journal Article"], "A randomised controlled trial of ketamine", RCT),
        ([], "Ketamine for PTSD: a systematic review", SYSTEMATIC_REVIEW),
        (["Letter", "Comment"], "Comment on: a systematic review", OTHER),
        (["Published Erratum"], "Erratum: a randomized controlled trial", OTHER),
        (["Journal Article", "Review"], "A systematic review in all but name", OTHER),
        (["Journal Article", "Observational Study"], "A cohort study", OTHER),
        (["Journal Article"], "Ketamine and the brain", OTHER),
    ],
)
def test_publication_types_decide_the_kind_and_the_title_only_when_untyped(types, title, kind):
    assert classify(types, title) == kind


def test_default_query_uses_the_title_words_and_any_topic():
    query = default_query("Ketamine for PTSD: what the research says", ["PTSD", "Treatments"])
    assert query == (
        "(ketamine[tiab] AND ptsd[tiab] AND research[tiab] AND says[tiab]) AND (treatments[tiab])"
    )
    assert default_query("Sleep", []) == "sleep[tiab]"
    assert '"[' not in default_query('Odd "quoted" [title] (here)', ["A b"])


def test_esearch_url_names_the_window_the_bound_and_the_tool():
    url = esearch_url(
        BASE, "ketamine[tiab]", mindate=JAN, maxdate=DEC, retmax=10_000,
        email="editors@example.org", api_key="k",
    )  # fmt: skip
    assert url.startswith(BASE + "?")
    assert query_of(url) == {
        "db": "pubmed",
        "term": "ketamine[tiab]",
        "datetype": "edat",
        "mindate": "2026/01/01",
        "maxdate": "2026/12/31",
        "retmax": "500",  # capped
        "sort": "pub_date",
        "retmode": "json",
        "tool": "ptsdinfo",
        "email": "editors@example.org",
        "api_key": "k",
    }


def test_an_empty_or_huge_query_is_refused_before_any_request():
    for query in ("  ", "x" * 1001):
        with pytest.raises(ValueError):
            esearch_url(BASE, query, mindate=JAN, maxdate=DEC)


def test_esummary_url_validates_each_pmid():
    url = esummary_url(BASE, ["PMID: 99000101", "99000102"])
    assert query_of(url)["id"] == "99000101,99000102"
    with pytest.raises(ValueError):
        esummary_url(BASE, ["99000101&db=x"])


def test_esearch_reply_is_parsed_and_errors_are_bad_responses():
    result = parse_esearch((RECORDED / "eutils" / "esearch-ketamine.json").read_bytes())
    assert (result.count, result.pmids[0], result.truncated) == (6, "99000101", False)
    with pytest.raises(BadResponse, match="refused the query"):
        parse_esearch((RECORDED / "eutils" / "esearch-error.json").read_bytes())
    for body in (b"<html>", b"[]", b'{"error": "API rate limit exceeded"}', b'{"x": 1}'):
        with pytest.raises(BadResponse):
            parse_esearch(body)
    with pytest.raises(BadResponse, match="malformed"):
        parse_esearch(b'{"esearchresult": {"count": "1", "idlist": ["1; drop"]}}')


def test_esummary_reply_gives_title_journal_dates_types_and_doi():
    works = parse_esummary((RECORDED / "eutils" / "esummary.json").read_bytes())
    assert [w.pmid for w in works] == [f"9900010{i}" for i in range(1, 7)]
    first = works[0]
    assert first.title.startswith("Ketamine and esketamine for post-traumatic stress disorder")
    assert first.journal == "Journal of Synthetic Test Records"
    assert (first.published_text, first.published_on) == ("2026 Jun", datetime.date(2026, 6, 1))
    assert first.entered_on == datetime.date(2026, 6, 10)
    assert first.publication_types == ("Journal Article", "Meta-Analysis", "Systematic Review")
    assert first.doi == "10.5555/synthetic.99000101"
    assert [w.kind for w in works] == [
        META_ANALYSIS,
        RCT,
        GUIDELINE,
        SYSTEMATIC_REVIEW,
        OTHER,
        OTHER,
    ]


def test_esummary_skips_records_pubmed_reports_as_errors():
    body = b'{"result": {"uids": ["1", "2"], "1": {"uid": "1", "error": "cannot get document summary"}, "2": {"uid": "2", "title": "T"}}}'  # noqa: E501
    assert [w.pmid for w in parse_esummary(body)] == ["2"]


def test_throttle_spaces_requests_to_the_rate_limit():
    now, slept = [100.0], []

    def sleep(seconds):
        slept.append(round(seconds, 3))
        now[0] += seconds

    throttle = Throttle(3, clock=lambda: now[0], sleep=sleep)
    for _ in range(4):
        throttle.wait()
    assert slept == [0.343, 0.343, 0.343]
    now[0] += 5  # a pause longer than the interval: no wait
    throttle.wait()
    assert len(slept) == 3


def test_ten_requests_a_second_with_an_api_key_three_without(settings):
    from evidence.fetching import LiteratureClient

    settings.PTSDINFO_NCBI_API_KEY = ""
    assert LiteratureClient().throttle.interval == pytest.approx(1 / 3 + 0.01)
    assert LiteratureClient(api_key="secret").throttle.interval == pytest.approx(1 / 10 + 0.01)


# --- through the recorded server -----------------------------------------------------------


def test_search_then_summaries_through_the_guarded_client(server):
    client = server.literature_client()
    found = client.search(
        "ketamine[tiab] AND ptsd[tiab]", mindate=datetime.date(2026, 4, 1), maxdate=DEC
    )
    assert found.pmids == ["99000105", "99000101", "99000102", "99000103"]
    query = parse_qs(urlsplit(server.requests[-1]["path"]).query)
    assert query["tool"] == ["ptsdinfo"] and query["email"] == ["editors@example.org"]
    assert query["datetype"] == ["edat"] and query["mindate"] == ["2026/04/01"]
    works = client.summaries(found.pmids[:2])
    assert [(w.pmid, w.kind) for w in works] == [("99000105", OTHER), ("99000101", META_ANALYSIS)]


def test_results_are_bounded_and_the_rest_counted(server):
    found = server.literature_client().search("ketamine", mindate=JAN, maxdate=DEC, retmax=2)
    assert (found.count, len(found.pmids), found.truncated) == (6, 2, True)


def test_a_refused_query_is_a_bad_response(server):
    with pytest.raises(BadResponse, match="refused the query"):
        server.literature_client().search("bad-query", mindate=JAN, maxdate=DEC)


def test_a_redirect_is_refused_and_nothing_is_followed(server):
    with pytest.raises(Redirected, match=r"evil\.example"):
        server.literature_client("redirect").search("ketamine", mindate=JAN, maxdate=DEC)
    assert not any("evil" in r["headers"].get("Host", "") for r in server.requests)


def test_a_host_off_the_allow_list_is_refused_without_connecting(server, monkeypatch):
    import socket

    def no_resolve(*args, **kwargs):  # pragma: no cover - must not be reached
        raise AssertionError("resolved a host that is not allowed")

    monkeypatch.setattr(socket, "getaddrinfo", no_resolve)
    client = server.literature_client(base_urls={"esearch": "https://evil.example/esearch"})
    with pytest.raises(NotAllowed, match=r"evil\.example"):
        client.search("ketamine", mindate=JAN, maxdate=DEC)


def test_the_default_endpoints_are_ncbi_over_https_and_refuse_private_addresses(monkeypatch):
    from evidence.fetching import LiteratureClient

    client = LiteratureClient(throttle=Throttle(3, sleep=lambda s: None))
    assert client.base_urls["esearch"].startswith("https://eutils.ncbi.nlm.nih.gov/")
    monkeypatch.setattr(
        "socket.getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("169.254.169.254", 443))]
    )
    with pytest.raises(NotAllowed, match="private or reserved"):
        client.search("ketamine", mindate=JAN, maxdate=DEC)


def test_every_request_waits_its_turn_at_the_throttle(server):
    waits = []

    class Counting(Throttle):
        def wait(self):
            waits.append(self.interval)

    client = server.literature_client(throttle=Counting(3))
    found = client.search("ketamine", mindate=JAN, maxdate=DEC)
    client.summaries(found.pmids)
    client.summaries([])  # nothing to ask: no request
    assert len(waits) == 2
