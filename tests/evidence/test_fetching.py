"""evidence.fetching: the DOI/PMID metadata client and its network rules.

Every request goes to a local HTTPS server on 127.0.0.1 serving the hand-recorded
replies in tests/data/recorded/ (see its README), with a throwaway self-signed
certificate made by the openssl CLI. No test contacts any other address: tests of
refused targets check that nothing was resolved or connected.

`RecordedServer` and `make_certificate` are reused by tests/articles/test_library.py.
"""

import contextlib
import datetime
import json
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from articles.models import Retraction
from evidence import fetching
from evidence.citations import IdentifierError, guess_study_design
from evidence.fetching import (
    BadResponse,
    FetchError,
    MetadataClient,
    NotAllowed,
    NotFound,
    Redirected,
    RetractionInfo,
    Timeout,
    TooLarge,
    Unreachable,
    classify_identifier,
    medline_updates,
)

RECORDED = Path(__file__).parents[1] / "data" / "recorded"
FEDER_DOI = "10.1001/jamapsychiatry.2014.62"
SCHNURR_DOI = "10.7326/m23-2757"
WAKEFIELD_DOI = "10.1016/s0140-6736(97)11096-0"
LANCET_NOTICE_DOI = "10.1016/s0140-6736(10)60175-4"


# --- the local recorded server ---------------------------------------------------------


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (and the name metadata.test)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
            "-subj", "/CN=ptsdinfo test server",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:metadata.test",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,digitalSignature,keyCertSign",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


class _Handler(BaseHTTPRequestHandler):
    """Routes: /works/<doi> and /efetch serve the recordings; a leading /redirect,
    /big, /big-undeclared, /slow, /drip, /malformed or /status-503 misbehaves."""

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        self.server.requests.append({"path": self.path, "headers": dict(self.headers)})
        mode, _, rest = self.path.lstrip("/").partition("/")
        if mode == "works" or mode.startswith("efetch"):
            mode, rest = "", self.path.lstrip("/")
        if mode == "redirect":
            return self._send(302, b"", headers={"Location": "https://evil.example/" + rest})
        if mode == "status-503":
            return self._send(503, b"Service Unavailable", "text/plain")
        if mode == "malformed":
            return self._send(200, b'{"status": "ok", "message": {"DOI": ', "application/json")
        if mode == "big":
            return self._send(200, b"x" * 2_000_000, "application/json")
        if mode == "big-undeclared":  # no Content-Length: the body ends when the server closes
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            try:
                for _ in range(50):
                    self.wfile.write(b" " * 1000)
            except OSError:
                pass
            return None
        if mode == "slow":
            time.sleep(1.5)
        if mode == "drip":  # headers at once, then one byte every 0.2 s
            body = b'{"message": {}}' + b" " * 40
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                for byte in body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                pass
            return None
        return self._recorded(rest)

    def _recorded(self, path: str):
        parts = urlsplit("/" + path)
        if parts.path.startswith("/works/"):
            doi = unquote(parts.path.removeprefix("/works/")).lower()
            if doi in self.server.crossref:
                return self._send(200, self.server.crossref[doi], "application/json")
            return self._send(404, b"Resource not found.", "text/plain")
        if parts.path == "/efetch":
            pmid = parse_qs(parts.query).get("id", [""])[0]
            return self._send(200, self.server.pubmed.get(pmid, b""), "text/plain")
        return self._send(404, b"Not found", "text/plain")

    def _send(self, status: int, body: bytes, content_type=None, headers=None):
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", f"{content_type}; charset=UTF-8")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):  # the client stopped reading (size cap)
            self.wfile.write(body)


class RecordedServer:
    """A threaded HTTPS server on 127.0.0.1 serving tests/data/recorded/."""

    def __init__(self, cert: Path, key: Path):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.httpd.requests = []
        self.httpd.crossref = {}
        for path in sorted((RECORDED / "crossref").glob("*.json")):
            data = path.read_bytes()
            self.httpd.crossref[json.loads(data)["message"]["DOI"].lower()] = data
        self.httpd.pubmed = {
            path.stem: path.read_bytes() for path in (RECORDED / "pubmed").glob("*.txt")
        }
        self.port = self.httpd.server_address[1]
        self.origin = f"https://127.0.0.1:{self.port}"
        self.ca_file = str(cert)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def requests(self) -> list[dict]:
        return self.httpd.requests

    def base_urls(self, mode: str = "") -> dict[str, str]:
        prefix = f"{self.origin}/{mode}" if mode else self.origin
        return {"crossref": f"{prefix}/works/", "pubmed": f"{prefix}/efetch"}

    def client(self, mode: str = "", **overrides) -> MetadataClient:
        options = {
            "allowed_hosts": {"127.0.0.1"},
            "allow_private_hosts": {"127.0.0.1"},
            "ca_file": self.ca_file,
            "base_urls": self.base_urls(mode),
            "contact": "editors@example.org",
        }
        return MetadataClient(**(options | overrides))

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def certificate(tmp_path_factory):
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def server(certificate):
    running = RecordedServer(*certificate)
    yield running
    running.close()


@pytest.fixture
def no_network(monkeypatch):
    """Fail the test if anything is resolved or connected."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"unexpected network use: {args}")

    monkeypatch.setattr(fetching.transport.socket, "getaddrinfo", refuse)
    monkeypatch.setattr(fetching.transport.socket, "create_connection", refuse)


# --- success paths ---------------------------------------------------------------------


def test_doi_fetch_maps_crossref_fields_to_csl(server):
    fetched = server.client().fetch_doi(FEDER_DOI)
    item = fetched.item
    assert item["type"] == "article-journal"
    assert item["title"] == (
        "Efficacy of Intravenous Ketamine for Treatment of Chronic Posttraumatic Stress "
        "Disorder: A Randomized Clinical Trial"
    )
    assert item["author"][0] == {"family": "Feder", "given": "Adriana"}
    assert item["author"][7] == {"family": "aan het Rot", "given": "Marije"}
    assert len(item["author"]) == 12
    assert item["container-title"] == "JAMA Psychiatry"
    assert item["container-title-short"] == "JAMA Psychiatry"
    assert (item["volume"], item["issue"], item["page"]) == ("71", "6", "681")
    assert item["issued"] == {"date-parts": [[2014]]}
    assert item["DOI"] == FEDER_DOI
    assert item["URL"] == f"https://doi.org/{FEDER_DOI}"
    assert "PMID" not in item
    assert (fetched.source, fetched.updated_by, fetched.retraction_status) == (
        "crossref",
        (),
        "none",
    )
    assert guess_study_design(item) == "rct"


def test_doi_fetch_accepts_any_doi_form_and_keeps_year_and_month(server):
    client = server.client()
    for form in ("10.7326/M23-2757", "doi:10.7326/m23-2757", "https://doi.org/10.7326/M23-2757"):
        item = client.fetch(form).item
        assert item["DOI"] == SCHNURR_DOI
        assert item["issued"] == {"date-parts": [[2024, 3]]}
        assert item["container-title-short"] == "Ann Intern Med"


def test_doi_is_escaped_into_one_path_segment(server):
    server.client().fetch_doi(WAKEFIELD_DOI)
    assert server.requests[-1]["path"] == "/works/10.1016%2Fs0140-6736%2897%2911096-0"


def test_retraction_in_updated_by_is_returned_with_its_notice(server):
    fetched = server.client().fetch_doi(WAKEFIELD_DOI)
    assert fetched.item["title"].startswith("RETRACTED: Ileal-lymphoid-nodular hyperplasia")
    assert fetched.updated_by == (
        RetractionInfo(
            kind="correction",
            date=datetime.date(2004, 3, 6),
            notice_doi="10.1016/s0140-6736(04)15715-2",
            updated_doi=WAKEFIELD_DOI,
            source="publisher",
            label="Correction",
        ),
        RetractionInfo(
            kind="retraction",
            date=datetime.date(2010, 2, 6),
            notice_doi=LANCET_NOTICE_DOI,
            updated_doi=WAKEFIELD_DOI,
            source="publisher",
            label="Retraction",
        ),
    )
    assert fetched.retraction_status == Retraction.RETRACTED
    assert not fetched.is_notice
    assert fetched.retraction_summary == (
        f"retraction 2010-02-06 (notice doi:{LANCET_NOTICE_DOI}, from Crossref); "
        "correction 2004-03-06 (notice doi:10.1016/s0140-6736(04)15715-2, from Crossref)"
    )


def test_a_retraction_notice_is_recognised_as_a_notice(server):
    fetched = server.client().fetch_doi(LANCET_NOTICE_DOI)
    assert fetched.is_notice
    assert (fetched.retraction_status, fetched.retraction_summary) == ("none", "")
    assert fetched.update_to[0].updated_doi == WAKEFIELD_DOI
    assert fetched.update_to[0].notice_doi == LANCET_NOTICE_DOI
    assert fetched.item["author"] == [{"literal": "The Editors of The Lancet"}]
    assert fetched.item["title"].startswith("Retraction\u2014Ileal")


def test_retraction_statuses_are_citation_retraction_values():
    kinds = ["retraction", "expression_of_concern", "correction", "erratum", "new_version"]
    statuses = {RetractionInfo(kind=kind).status for kind in kinds} - {""}
    assert statuses <= set(Retraction.values)
    assert RetractionInfo(kind="new_version").status == ""


def test_pmid_fetch_parses_medline_with_the_project_parser(server):
    fetched = server.client().fetch_pmid("38408360")
    item = fetched.item
    assert item["PMID"] == "38408360"
    assert item["DOI"] == SCHNURR_DOI
    assert item["title"].startswith("The Management of Posttraumatic Stress Disorder")
    assert item["title"].endswith("Clinical Practice Guideline")
    assert item["author"][0] == {"family": "Schnurr", "given": "Paula P"}
    assert len(item["author"]) == 19
    assert (item["volume"], item["issue"], item["page"]) == ("177", "3", "363-374")
    assert item["issued"] == {"date-parts": [[2024, 3]]}
    assert item["container-title-short"] == "Ann Intern Med"
    assert fetched.source == "pubmed"
    assert guess_study_design(item) == "guideline"


def test_pmid_fetch_accepts_pmid_forms_and_sends_contact(server):
    fetched = server.client().fetch("PMID: 30844397")
    assert fetched.item["DOI"] == "10.1016/j.neuron.2019.02.005"
    query = parse_qs(urlsplit(server.requests[-1]["path"]).query)
    assert query == {
        "db": ["pubmed"],
        "id": ["30844397"],
        "rettype": ["medline"],
        "retmode": ["text"],
        "tool": ["ptsdinfo"],
        "email": ["editors@example.org"],
    }


def test_requests_identify_the_site_and_ask_for_no_compression(server):
    server.client().fetch_doi(FEDER_DOI)
    headers = server.requests[-1]["headers"]
    assert "mailto:editors@example.org" in headers["User-Agent"]
    assert headers["User-Agent"].startswith("ptsdinfo/")
    assert headers["Accept-Encoding"] == "identity"
    assert headers["Host"] == f"127.0.0.1:{server.port}"


def test_medline_retraction_tags_become_updates():
    text = (
        "PMID- 12345678\n"
        "TI  - A retracted trial.\n"
        "PT  - Journal Article\n"
        "PT  - Retracted Publication\n"
        "RIN - J Example. 2020 Jan;1(1):1. doi: 10.5555/notice.1. PMID: 87654321.\n"
        "ECI - J Example. 2019 Jun;2(3):4. doi:\n"
        "      10.5555/concern. PMID: 11111111.\n"
    )
    updated_by, update_to = medline_updates(text, pmid="12345678", doi="10.5555/trial")
    assert [(u.kind, u.notice_doi, u.notice_pmid, u.updated_doi) for u in updated_by] == [
        ("retraction", "10.5555/notice.1", "87654321", "10.5555/trial"),
        ("expression_of_concern", "10.5555/concern", "11111111", "10.5555/trial"),
    ]
    assert update_to == ()


# --- refusals --------------------------------------------------------------------------


def test_unknown_doi_is_not_found(server):
    with pytest.raises(NotFound, match=r"no record.*HTTP 404"):
        server.client().fetch_doi("10.1001/no.such.doi")


def test_unknown_pmid_is_not_found(server):
    with pytest.raises(NotFound, match="PubMed has no record with PMID 99999999"):
        server.client().fetch_pmid("99999999")


def test_redirect_is_refused_and_names_the_location(server):
    with pytest.raises(Redirected) as caught:
        server.client("redirect").fetch_doi(FEDER_DOI)
    assert caught.value.location.startswith("https://evil.example/works/")
    assert "evil.example" in str(caught.value)
    assert "never followed" in str(caught.value)


def test_host_not_on_the_allow_list_is_refused_without_resolving_or_connecting(server, no_network):
    client = server.client(base_urls={"crossref": "https://example.org/works/"})
    with pytest.raises(NotAllowed, match=r"example\.org.*not one of the metadata services"):
        client.fetch_doi(FEDER_DOI)


@pytest.mark.parametrize("host", ["localhost", "10.0.0.1", "169.254.169.254", "[::1]"])
def test_host_resolving_to_a_private_address_is_refused(host, monkeypatch):
    connects = []
    monkeypatch.setattr(
        fetching.transport.socket, "create_connection", lambda *a, **k: connects.append(a)
    )
    client = MetadataClient(
        allowed_hosts={host}, base_urls={"crossref": f"https://{host}/works/"}
    )  # allow-listed, but not exempt from the private-address check
    with pytest.raises(NotAllowed, match="private or reserved network address"):
        client.fetch_doi(FEDER_DOI)
    assert connects == []


@pytest.mark.parametrize(
    "address", ["169.254.169.254", "10.1.2.3", "127.0.0.1", "::ffff:127.0.0.1", "100.64.0.1"]
)
def test_default_config_refuses_crossref_resolving_to_a_private_address(address, monkeypatch):
    """A poisoned or rebinding DNS answer for an allow-listed host goes nowhere."""

    def resolve(host, port, *args, **kwargs):
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(fetching.transport.socket, "getaddrinfo", resolve)
    monkeypatch.setattr(fetching.transport.socket, "create_connection", pytest.fail)
    with pytest.raises(NotAllowed, match=f"api.crossref.org points to {address}"):
        MetadataClient().fetch_doi(FEDER_DOI)


def test_connection_goes_to_the_address_that_was_checked(server, monkeypatch):
    """The name is resolved once; the request reaches that address with the name in
    SNI, certificate check and Host header, so a second DNS answer cannot redirect it."""
    real_getaddrinfo = socket.getaddrinfo
    answers = iter(["127.0.0.1", "10.0.0.1"])  # a rebinding resolver's two answers
    looked_up = []

    def resolve(host, port, *args, **kwargs):
        if host == "metadata.test":
            looked_up.append(host)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(fetching.transport.socket, "getaddrinfo", resolve)
    client = MetadataClient(
        allowed_hosts={"metadata.test"},
        allow_private_hosts={"metadata.test"},
        ca_file=server.ca_file,
        base_urls={"crossref": f"https://metadata.test:{server.port}/works/"},
    )
    assert client.fetch_doi(FEDER_DOI).item["DOI"] == FEDER_DOI
    assert looked_up == ["metadata.test"]
    assert server.requests[-1]["headers"]["Host"] == f"metadata.test:{server.port}"


def test_plain_http_is_refused(server, no_network):
    client = server.client(base_urls={"crossref": f"http://127.0.0.1:{server.port}/works/"})
    with pytest.raises(NotAllowed, match=r"only secure \(https\)"):
        client.fetch_doi(FEDER_DOI)


def test_credentials_in_the_url_are_refused(server, no_network):
    client = server.client(base_urls={"crossref": f"https://u:p@127.0.0.1:{server.port}/works/"})
    with pytest.raises(NotAllowed, match="user name or password"):
        client.fetch_doi(FEDER_DOI)


def test_untrusted_certificate_is_refused(server):
    client = server.client(ca_file=None)
    with pytest.raises(Unreachable, match="could not be verified"):
        client.fetch_doi(FEDER_DOI)


def test_declared_oversize_response_is_refused(server):
    with pytest.raises(TooLarge, match="larger than 1,048,576 bytes"):
        server.client("big", max_bytes=1024 * 1024).fetch_doi(FEDER_DOI)


def test_undeclared_oversize_response_is_cut_off_while_streaming(server):
    with pytest.raises(TooLarge, match="larger than 10,000 bytes"):
        server.client("big-undeclared", max_bytes=10_000).fetch_doi(FEDER_DOI)


def test_slow_server_times_out(server):
    started = time.monotonic()
    with pytest.raises(Timeout, match=r"did not answer within 0\.5 seconds"):
        server.client("slow", timeout=0.5).fetch_doi(FEDER_DOI)
    assert time.monotonic() - started < 1.2


def test_dripping_server_times_out_on_the_whole_reply_not_per_read(server):
    started = time.monotonic()
    with pytest.raises(Timeout):
        server.client("drip", timeout=0.5).fetch_doi(FEDER_DOI)
    assert time.monotonic() - started < 1.2


def test_malformed_json_is_a_bad_response(server):
    with pytest.raises(BadResponse, match="not valid JSON"):
        server.client("malformed").fetch_doi(FEDER_DOI)


def test_server_error_is_a_bad_response(server):
    with pytest.raises(BadResponse, match="HTTP 503"):
        server.client("status-503").fetch_doi(FEDER_DOI)


def test_pubmed_reply_that_is_not_medline_is_a_bad_response(server, monkeypatch):
    monkeypatch.setitem(server.httpd.pubmed, "12345", b"<html>Error</html>")
    with pytest.raises(BadResponse, match="other than a MEDLINE record"):
        server.client().fetch_pmid("12345")


@pytest.mark.parametrize(
    "value", ["10.1/x", "not a doi", "", "PMID: 0123", "123456789", "https://example.org/"]
)
def test_bad_identifier_raises_before_any_network_use(value, no_network):
    with pytest.raises(IdentifierError, match=repr(value).replace("\\", "\\\\")):
        MetadataClient().fetch(value)


def test_bad_doi_or_pmid_raise_the_specific_error(no_network):
    with pytest.raises(IdentifierError, match="registrant"):
        MetadataClient().fetch_doi("10.1/x")
    with pytest.raises(IdentifierError, match="PMID"):
        MetadataClient().fetch_pmid("abc")


def test_identifiers_are_classified_as_doi_or_pmid():
    assert classify_identifier("https://doi.org/10.1001/X") == ("doi", "10.1001/x")
    assert classify_identifier(" 24740528 ") == ("pmid", "24740528")
    assert classify_identifier("https://pubmed.ncbi.nlm.nih.gov/30844397/") == (
        "pmid",
        "30844397",
    )


def test_settings_configure_the_default_client(settings, no_network):
    settings.PTSDINFO_FETCH_ALLOWED_HOSTS = []
    settings.PTSDINFO_FETCH_TIMEOUT = 2
    settings.PTSDINFO_FETCH_MAX_BYTES = 1000
    settings.PTSDINFO_FETCH_CONTACT = "team@example.org"
    client = MetadataClient()
    assert (client.timeout, client.max_bytes) == (2.0, 1000)
    assert client.user_agent.endswith("; mailto:team@example.org)")
    with pytest.raises(NotAllowed, match=r"\(none\)"):
        client.fetch_doi(FEDER_DOI)


def test_the_shipped_allow_list_is_crossref_and_pubmed_only():
    assert MetadataClient().allowed_hosts == {"api.crossref.org", "eutils.ncbi.nlm.nih.gov"}


def test_every_failure_is_a_fetch_error():
    for error in (NotAllowed, Redirected, TooLarge, Timeout, NotFound, BadResponse, Unreachable):
        assert issubclass(error, FetchError)
