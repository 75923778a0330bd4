"""Fetching citation metadata by DOI (Crossref) or PMID (PubMed E-utilities).

The only code in the site that makes outbound requests, so it carries the security
posture of DESIGN.md itself rather than trusting a library's defaults:

- HTTPS only, with certificate and host-name verification;
- the host must be on an allow-list (settings.PTSDINFO_FETCH_ALLOWED_HOSTS);
- the host is resolved once and refused if any of its addresses is private, loopback,
  link-local, multicast, reserved or unspecified; the connection then goes to the
  address that was checked (TLS server name and Host header still name the host), so
  a second DNS answer cannot point the request somewhere else (DNS rebinding);
- redirects are never followed: a 3xx is an error that names where it pointed;
- a connect timeout, and a read deadline for the whole response (not per packet, so a
  server dripping one byte at a time is still cut off);
- a size cap, enforced while streaming (a Content-Length above it is refused unread);
- no compression is asked for, so the cap counts the bytes that are parsed.

Identifiers are validated with `articles.citations.normalize_*` before any network
use, so a bad DOI or PMID raises IdentifierError and nothing is sent. Every failure
is a FetchError subclass whose message a clinician-editor can act on.

No database access here: `articles.services.library` stores what this returns.
"""

from __future__ import annotations

import datetime
import html
import http.client
import ipaddress
import json
import re
import socket
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode, urlsplit

from articles.citations import (
    BibliographyError,
    IdentifierError,
    normalize_doi,
    normalize_pmid,
    parse_bibliography,
)

__all__ = [
    "DEFAULT_ALLOWED_HOSTS",
    "DEFAULT_BASE_URLS",
    "BadResponse",
    "FetchError",
    "FetchedCitation",
    "MetadataClient",
    "NotAllowed",
    "NotFound",
    "Redirected",
    "RetractionInfo",
    "Timeout",
    "TooLarge",
    "Unreachable",
    "classify_identifier",
    "crossref_to_csl",
    "medline_updates",
]

DEFAULT_ALLOWED_HOSTS = frozenset({"api.crossref.org", "eutils.ncbi.nlm.nih.gov"})
DEFAULT_BASE_URLS = {
    "crossref": "https://api.crossref.org/works/",
    "pubmed": "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/efetch.fcgi",
}
DEFAULT_TIMEOUT = 5.0
DEFAULT_MAX_BYTES = 1024 * 1024
USER_AGENT = "ptsdinfo/0.1 (citation metadata; https://github.com/ptsdinfo)"
_CHUNK = 64 * 1024


# --- errors ----------------------------------------------------------------------------


class FetchError(Exception):
    """Metadata could not be fetched; the message says why in plain words."""


class NotAllowed(FetchError):
    """The address is not one the site may contact (scheme, host or network)."""


class Redirected(FetchError):
    """The service answered with a redirect, which is never followed."""

    def __init__(self, message: str, location: str):
        super().__init__(message)
        self.location = location


class TooLarge(FetchError):
    """The response was larger than the size cap."""


class Timeout(FetchError):
    """The service did not connect or answer in time."""


class NotFound(FetchError):
    """The service has no record for the identifier."""


class BadResponse(FetchError):
    """The service answered, but not with a usable record."""


class Unreachable(FetchError):
    """No connection: the name did not resolve, the connection was refused, or the
    service's certificate could not be verified."""


# --- results -----------------------------------------------------------------------------

# Crossref/PubMed update types -> Citation.Retraction values (articles.models.Retraction).
_UPDATE_STATUS = {
    "retraction": "retracted",
    "partial_retraction": "retracted",
    "withdrawal": "retracted",
    "removal": "retracted",
    "expression_of_concern": "expression-of-concern",
    "correction": "correction",
    "corrigendum": "correction",
    "erratum": "correction",
}
_STATUS_SEVERITY = ["none", "correction", "expression-of-concern", "retracted"]


@dataclass(frozen=True)
class RetractionInfo:
    """One editorial update (retraction, correction, concern, ...) linking two works.

    `kind` is the update type as Crossref spells it ("retraction",
    "expression_of_concern", "correction", ...); `notice_doi` is the notice, and
    `updated_doi` the work it updates. PubMed notices may carry a PMID and no DOI.
    """

    kind: str
    date: datetime.date | None = None
    notice_doi: str = ""
    updated_doi: str = ""
    notice_pmid: str = ""
    source: str = ""
    label: str = ""

    @property
    def status(self) -> str:
        """The Citation.Retraction value this update implies, "" if none."""
        return _UPDATE_STATUS.get(self.kind, "")


@dataclass(frozen=True)
class FetchedCitation:
    """A CSL-JSON item as a metadata service describes it, plus its update notices.

    `updated_by`: notices that update this work (a retraction of it, say).
    `update_to`: works that this record updates (it is itself a notice).
    """

    item: dict
    source: str
    url: str
    updated_by: tuple[RetractionInfo, ...] = ()
    update_to: tuple[RetractionInfo, ...] = ()
    fetched_at: datetime.datetime = field(
        default_factory=lambda: datetime.datetime.now(datetime.UTC)
    )

    @property
    def retraction_status(self) -> str:
        """The most severe Citation.Retraction value among `updated_by` ("none" if none)."""
        statuses = [info.status for info in self.updated_by if info.status] or ["none"]
        return max(statuses, key=_STATUS_SEVERITY.index)

    @property
    def retraction_summary(self) -> str:
        """Where the status came from, in words: "retraction 2010-02-06 (notice
        doi:10.1016/..., from Crossref)"; "" when nothing updates the work."""
        service = "Crossref" if self.source == "crossref" else "PubMed"
        parts = []
        relevant = [info for info in self.updated_by if info.status]
        for info in sorted(relevant, key=lambda info: -_STATUS_SEVERITY.index(info.status)):
            words = info.kind.replace("_", " ")
            if info.date:
                words += f" {info.date.isoformat()}"
            if info.notice_doi:
                notice = f"notice doi:{info.notice_doi}, "
            elif info.notice_pmid:
                notice = f"notice PMID {info.notice_pmid}, "
            else:
                notice = ""
            parts.append(f"{words} ({notice}from {service})")
        return "; ".join(parts)

    @property
    def is_notice(self) -> bool:
        """True when the record is itself a retraction, correction or concern notice."""
        return any(info.status for info in self.update_to)


def classify_identifier(value: str) -> tuple[str, str]:
    """("doi", doi) or ("pmid", pmid) for a DOI in any accepted form or a PubMed ID.

    Raises IdentifierError naming the value; no network is used.
    """
    if not isinstance(value, str) or not value.strip():
        raise IdentifierError(f"{value!r} is not a DOI or PMID: enter one, e.g. 10.1001/...")
    text = value.strip()
    try:
        return "doi", normalize_doi(text)
    except IdentifierError as doi_error:
        try:
            return "pmid", normalize_pmid(text)
        except IdentifierError as pmid_error:
            if re.search(r"10\.|doi", text, re.IGNORECASE):
                raise doi_error from None
            if re.search(r"[0-9]", text) and not re.search(r"[/]", text):
                raise pmid_error from None
            raise IdentifierError(
                f"{value!r} is neither a DOI (10.<registrant>/<suffix>, or a doi.org link) "
                "nor a PubMed ID (1-8 digits)"
            ) from None


# --- the client ------------------------------------------------------------------------


def _setting(name: str, default):
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        return getattr(settings, name, default)
    except ImproperlyConfigured:  # settings not configured: use outside Django
        return default


def _host_key(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


class MetadataClient:
    """Fetches citation metadata from Crossref and PubMed under the rules above.

    Defaults come from settings (PTSDINFO_FETCH_ALLOWED_HOSTS, PTSDINFO_FETCH_TIMEOUT,
    PTSDINFO_FETCH_MAX_BYTES, PTSDINFO_FETCH_CONTACT); each can be overridden here.
    `allow_private_hosts` exempts named hosts from the private-address check (e.g. an
    institutional mirror on a private network, or a test server on 127.0.0.1);
    `ca_file` adds a trusted CA; `base_urls` replaces the Crossref ("crossref") and/or
    PubMed ("pubmed") endpoints. Each defaults to its PTSDINFO_FETCH_* setting, and a
    replaced endpoint must still be HTTPS on an allowed host.
    """

    def __init__(
        self,
        *,
        allowed_hosts: Iterable[str] | None = None,
        allow_private_hosts: Iterable[str] | None = None,
        timeout: float | None = None,
        max_bytes: int | None = None,
        contact: str | None = None,
        ca_file: str | None = None,
        base_urls: dict[str, str] | None = None,
    ):
        if allowed_hosts is None:
            allowed_hosts = _setting("PTSDINFO_FETCH_ALLOWED_HOSTS", DEFAULT_ALLOWED_HOSTS)
        self.allowed_hosts = frozenset(_host_key(host) for host in allowed_hosts if host)
        if allow_private_hosts is None:
            allow_private_hosts = _setting("PTSDINFO_FETCH_PRIVATE_HOSTS", ())
        self.allow_private_hosts = frozenset(_host_key(host) for host in allow_private_hosts)
        self.timeout = float(
            timeout if timeout is not None else _setting("PTSDINFO_FETCH_TIMEOUT", DEFAULT_TIMEOUT)
        )
        self.max_bytes = int(
            max_bytes
            if max_bytes is not None
            else _setting("PTSDINFO_FETCH_MAX_BYTES", DEFAULT_MAX_BYTES)
        )
        self.contact = (
            contact if contact is not None else _setting("PTSDINFO_FETCH_CONTACT", "")
        ).strip()
        if base_urls is None:
            base_urls = _setting("PTSDINFO_FETCH_BASE_URLS", {})
        self.base_urls = {**DEFAULT_BASE_URLS, **(base_urls or {})}
        if ca_file is None:
            ca_file = _setting("PTSDINFO_FETCH_CA_FILE", "") or None
        self._context = ssl.create_default_context(cafile=ca_file)
        self._context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._context.sslsocket_class = _DeadlineSSLSocket

    @property
    def user_agent(self) -> str:
        # Crossref's "polite pool" asks for a contact address in the User-Agent.
        if self.contact:
            return USER_AGENT.removesuffix(")") + f"; mailto:{self.contact})"
        return USER_AGENT

    # --- public fetches ----------------------------------------------------------------

    def fetch(self, identifier: str) -> FetchedCitation:
        """Fetch by DOI or PMID, whichever `identifier` is."""
        kind, value = classify_identifier(identifier)
        return self.fetch_doi(value) if kind == "doi" else self.fetch_pmid(value)

    def fetch_doi(self, doi: str) -> FetchedCitation:
        doi = normalize_doi(doi)
        # Every character outside unreserved is escaped, "/" included, so a DOI such as
        # "10.1234/../x?y#z" can never change the path, query or fragment of the request.
        url = self.base_urls["crossref"] + quote(doi, safe="")
        described = f"Crossref (looking up DOI {doi})"
        body = self.get(url, accept="application/json", described=described)
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
            raise BadResponse(
                f"{described} sent a reply that is not valid JSON; try again later."
            ) from error
        message = data.get("message") if isinstance(data, dict) else None
        if not isinstance(message, dict):
            raise BadResponse(f"{described} sent JSON without a work record in it.")
        try:
            item = crossref_to_csl(message)
        except IdentifierError as error:
            raise BadResponse(
                f"{described} sent a record with an invalid identifier: {error}"
            ) from error
        updated_by, update_to = _crossref_updates(message, item["DOI"])
        return FetchedCitation(
            item=item, source="crossref", url=url, updated_by=updated_by, update_to=update_to
        )

    def fetch_pmid(self, pmid: str | int) -> FetchedCitation:
        pmid = normalize_pmid(pmid)
        query = {"db": "pubmed", "id": pmid, "rettype": "medline", "retmode": "text"}
        if self.contact:  # NCBI asks tools to identify themselves with tool= and email=
            query |= {"tool": "ptsdinfo", "email": self.contact}
        url = self.base_urls["pubmed"] + "?" + urlencode(query)
        described = f"PubMed (looking up PMID {pmid})"
        body = self.get(url, accept="text/plain", described=described)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise BadResponse(f"{described} sent a reply that is not UTF-8 text.") from error
        if not text.strip():
            raise NotFound(f"PubMed has no record with PMID {pmid}.")
        if text.lstrip().startswith("<") or not text.lstrip().startswith("PMID-"):
            raise BadResponse(f"{described} sent something other than a MEDLINE record.")
        try:
            items = parse_bibliography(text, "nbib")
        except BibliographyError as error:
            raise BadResponse(
                f"{described} sent a record that could not be read: {error}"
            ) from error
        item = next((item for item in items if item.get("PMID") == pmid), None)
        if item is None:
            raise NotFound(f"PubMed has no record with PMID {pmid}.")
        updated_by, update_to = medline_updates(text, pmid=pmid, doi=item.get("DOI", ""))
        return FetchedCitation(
            item=item, source="pubmed", url=url, updated_by=updated_by, update_to=update_to
        )

    # --- the guarded request --------------------------------------------------------------

    def get(self, url: str, *, accept: str, described: str | None = None) -> bytes:
        """GET `url` under every rule of this module and return the body of a 200.

        `described` names the request in error messages ("Crossref (looking up ...)").
        """
        parts = urlsplit(url)
        described = described or url
        if parts.scheme != "https":
            raise NotAllowed(
                f"{described}: only secure (https) addresses may be contacted, not {url!r}."
            )
        host = _host_key(parts.hostname or "")
        if parts.username is not None or parts.password is not None:
            raise NotAllowed(f"{described}: addresses with a user name or password are refused.")
        if not host or host not in self.allowed_hosts:
            allowed = ", ".join(sorted(self.allowed_hosts)) or "none"
            raise NotAllowed(
                f"{described}: {host or url!r} is not one of the metadata services this site "
                f"may contact ({allowed})."
            )
        try:
            port = parts.port or 443
        except ValueError as error:
            raise NotAllowed(f"{described}: {url!r} has an invalid port.") from error
        address = self._checked_address(host, port, described)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return self._request(host, port, address, path, accept, described)

    def _checked_address(self, host: str, port: int, described: str) -> str:
        """Resolve `host` once; refuse it if any address is not public. Returns the
        address to connect to (the one checked)."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as error:
            raise Unreachable(
                f"{described}: the address of {host} could not be found; "
                "check the network and try again."
            ) from error
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
        if not addresses:
            raise Unreachable(f"{described}: {host} has no network address.")
        if host not in self.allow_private_hosts:
            for address in addresses:
                if _is_forbidden(address):
                    raise NotAllowed(
                        f"{described}: {host} points to {address}, a private or reserved "
                        "network address; the site only contacts public services."
                    )
        return addresses[0]

    def _request(
        self, host: str, port: int, address: str, path: str, accept: str, described: str
    ) -> bytes:
        connection = _PinnedHTTPSConnection(
            host, port, address=address, timeout=self.timeout, context=self._context
        )
        try:
            connection.connect()
            connection.sock.deadline = time.monotonic() + self.timeout
            connection.request(
                "GET",
                path,
                headers={
                    "Accept": accept,
                    "User-Agent": self.user_agent,
                    "Connection": "close",
                },
            )
            response = connection.getresponse()
            self._check_status(response, described)
            return self._read_capped(response, described)
        except FetchError:
            raise
        except TimeoutError as error:
            raise Timeout(
                f"{described}: the service did not answer within {self.timeout:g} seconds; "
                "try again later."
            ) from error
        except ssl.SSLCertVerificationError as error:
            raise Unreachable(
                f"{described}: the secure connection to {host} could not be verified "
                f"({error.verify_message}); nothing was fetched."
            ) from error
        except http.client.HTTPException as error:
            raise BadResponse(
                f"{described}: the service sent a broken HTTP reply ({type(error).__name__})."
            ) from error
        except OSError as error:  # refused, reset, TLS failures
            raise Unreachable(
                f"{described}: could not connect to {host} ({error.strerror or error}); "
                "try again later."
            ) from error
        finally:
            connection.close()

    def _check_status(self, response: http.client.HTTPResponse, described: str) -> None:
        status = response.status
        if status == 200:
            return
        if 300 <= status < 400:
            location = (response.getheader("Location") or "").strip()
            shown = repr(location[:200]) if location else "nowhere (no Location header)"
            raise Redirected(
                f"{described}: the service redirected to {shown}; redirects are never "
                "followed, so nothing was fetched.",
                location,
            )
        if status in (404, 410):
            raise NotFound(f"{described}: the service has no record of it (HTTP {status}).")
        if status == 429:
            raise BadResponse(f"{described}: the service is limiting requests; try again later.")
        raise BadResponse(
            f"{described}: the service answered HTTP {status} {response.reason}; try again later."
        )

    def _read_capped(self, response: http.client.HTTPResponse, described: str) -> bytes:
        limit = self.max_bytes
        too_large = TooLarge(
            f"{described}: the reply is larger than {limit:,} bytes, the most the site "
            "accepts; nothing was stored."
        )
        declared = response.getheader("Content-Length")
        if declared and declared.strip().isdigit() and int(declared) > limit:
            raise too_large
        chunks, total = [], 0
        while chunk := response.read(min(_CHUNK, limit + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise too_large
        return b"".join(chunks)


def _is_forbidden(address: str) -> bool:
    """True for any address that is not plainly public: private, loopback, link-local
    (cloud metadata at 169.254.169.254), multicast, reserved, unspecified, shared."""
    ip = ipaddress.ip_address(address)
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        not ip.is_global
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


class _DeadlineSSLSocket(ssl.SSLSocket):
    """An SSL socket whose reads share one wall-clock deadline.

    A per-read timeout alone lets a server drip a byte every few seconds forever; here
    every read may only wait until `deadline`, then raises TimeoutError.
    """

    deadline: float | None = None

    def recv_into(self, buffer, nbytes=0, flags=0):
        if self.deadline is not None:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("response deadline passed")
            self.settimeout(remaining)
        return super().recv_into(buffer, nbytes, flags)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a fixed, already-checked address; SNI, certificate check and Host
    header use the host name. Never resolves the name again."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float, context):
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address

    def connect(self):
        deadline = time.monotonic() + self.timeout
        sock = socket.create_connection((self._address, self.port), self.timeout)
        try:
            tls = self._context.wrap_socket(
                sock, server_hostname=self.host, do_handshake_on_connect=False
            )
            # The handshake as a whole must fit in what is left of the connect timeout.
            tls.settimeout(max(deadline - time.monotonic(), 0.001))
            tls.do_handshake()
        except BaseException:
            sock.close()
            raise
        self.sock = tls


# --- Crossref -> CSL-JSON --------------------------------------------------------------

_CROSSREF_TYPES = {
    "journal-article": "article-journal",
    "book-chapter": "chapter",
    "book-section": "chapter",
    "book-part": "chapter",
    "proceedings-article": "paper-conference",
    "book": "book",
    "monograph": "book",
    "edited-book": "book",
    "reference-book": "book",
    "book-set": "book",
    "report": "report",
    "report-component": "report",
    "dissertation": "thesis",
    "posted-content": "article",
    "dataset": "dataset",
    "standard": "standard",
    "reference-entry": "entry",
    "peer-review": "review",
}
_MARKUP = re.compile(r"<[^>]{0,200}>")


def _text(value) -> str:
    """Crossref text: the first of a list, tags (JATS, HTML) dropped, entities decoded."""
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str) and v.strip()), "")
    if not isinstance(value, str):
        return "" if value is None or isinstance(value, dict) else str(value)
    return " ".join(html.unescape(_MARKUP.sub("", value)).split())


def _crossref_names(people) -> list[dict]:
    names = []
    for person in people if isinstance(people, list) else []:
        if not isinstance(person, dict):
            continue
        name = {
            key: _text(person.get(source))
            for key, source in (("family", "family"), ("given", "given"), ("suffix", "suffix"))
        }
        name = {key: value for key, value in name.items() if value}
        if not name.get("family") and (literal := _text(person.get("name"))):
            name = {"literal": literal}
        if name:
            names.append(name)
    return names


def _crossref_date(message: dict) -> dict | None:
    for source in ("issued", "published-print", "published-online", "published"):
        parts = _date_parts(message.get(source))
        if parts:
            return {"date-parts": [parts]}
    return None


def _date_parts(value) -> list[int]:
    try:
        raw = value["date-parts"][0]
    except (KeyError, IndexError, TypeError):
        return []
    parts = []
    for part in raw if isinstance(raw, list) else []:
        if isinstance(part, bool) or not isinstance(part, int | str):
            break
        try:
            parts.append(int(part))
        except ValueError:
            break
    if not parts or not 1000 <= parts[0] <= 9999:
        return []
    return parts[:3]


def crossref_to_csl(message: dict) -> dict:
    """A CSL-JSON item from a Crossref `/works/{doi}` message.

    Raises IdentifierError if the record's DOI (or PMID, where given) is not valid.
    """
    doi = normalize_doi(_text(message.get("DOI")))
    item: dict = {"id": doi, "type": _CROSSREF_TYPES.get(_text(message.get("type")), "article")}
    title, subtitle = _text(message.get("title")), _text(message.get("subtitle"))
    if subtitle and subtitle.lower() not in title.lower():
        title = f"{title}: {subtitle}" if title else subtitle
    fields = {
        "title": title,
        "container-title": _text(message.get("container-title")),
        "container-title-short": _text(message.get("short-container-title")),
        "volume": _text(message.get("volume")),
        "issue": _text(message.get("issue")),
        "page": _text(message.get("page")),
        "number": "" if message.get("page") else _text(message.get("article-number")),
        "publisher": _text(message.get("publisher")),
        "ISSN": _text(message.get("ISSN")),
    }
    item.update((name, value) for name, value in fields.items() if value)
    for role in ("author", "editor"):
        if names := _crossref_names(message.get(role)):
            item[role] = names
    if issued := _crossref_date(message):
        item["issued"] = issued
    item["DOI"] = doi
    url = _text(message.get("URL"))
    item["URL"] = url if url.startswith("https://") else f"https://doi.org/{quote(doi, safe='/')}"
    # Crossref rarely knows the PMID; some records (and mirrors) carry one.
    pmid = next((message[key] for key in ("PMID", "pmid") if message.get(key)), None)
    if pmid is not None:
        item["PMID"] = normalize_pmid(_text(pmid))
    return item


def _update_date(value) -> datetime.date | None:
    parts = _date_parts(value)
    if not parts:
        return None
    try:
        return datetime.date(*[*parts, 1, 1][:3])
    except ValueError:
        return None


def _crossref_updates(
    message: dict, doi: str
) -> tuple[tuple[RetractionInfo, ...], tuple[RetractionInfo, ...]]:
    """(updated_by, update_to) from a Crossref message; entries without a valid DOI
    are kept when they still say what kind of update it is."""

    def infos(entries, *, this_is_the_notice: bool) -> tuple[RetractionInfo, ...]:
        found = []
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict):
                continue
            kind = re.sub(r"[\s-]+", "_", _text(entry.get("type")).lower())
            if not kind:
                continue
            try:
                other = normalize_doi(_text(entry.get("DOI")))
            except IdentifierError:
                other = ""
            info = RetractionInfo(
                kind=kind,
                date=_update_date(entry.get("updated")),
                notice_doi=doi if this_is_the_notice else other,
                updated_doi=other if this_is_the_notice else doi,
                source=_text(entry.get("source")),
                label=_text(entry.get("label")),
            )
            if info not in found:
                found.append(info)
        return tuple(found)

    return (
        infos(message.get("updated-by"), this_is_the_notice=False),
        infos(message.get("update-to"), this_is_the_notice=True),
    )


# --- PubMed comment/correction tags ----------------------------------------------------

# MEDLINE "comments and corrections" tags: this record is updated by a notice ...
_MEDLINE_UPDATED_BY = {
    "RIN": "retraction",  # Retraction in
    "ECI": "expression_of_concern",  # Expression of concern in
    "EIN": "erratum",  # Erratum in
}
# ... or this record is itself the notice for another.
_MEDLINE_UPDATE_TO = {
    "ROF": "retraction",  # Retraction of
    "ECF": "expression_of_concern",  # Expression of concern for
    "EFR": "erratum",  # Erratum for
}
_MEDLINE_TAG = re.compile(r"([A-Z0-9]{2,4}) {0,2}- ?(.*)")
_NOTICE_DOI = re.compile(r"doi:\s*(10\.\S+?)\.?(?:\s|$)", re.IGNORECASE)
_NOTICE_PMID = re.compile(r"PMID:\s*([1-9][0-9]{0,7})")


def medline_updates(
    text: str, *, pmid: str, doi: str = ""
) -> tuple[tuple[RetractionInfo, ...], tuple[RetractionInfo, ...]]:
    """(updated_by, update_to) from the MEDLINE record for `pmid` in `text`.

    PubMed links notices with tags such as "RIN - Lancet. 2010;375:445. doi: ... PMID: ...";
    a "PT - Retracted Publication" without a RIN line still counts as a retraction.
    """
    fields, current, in_record = [], None, False
    for line in text.splitlines():
        if not line.strip():
            current = None
            continue
        if line.startswith("      ") and current is not None:
            current[1] += " " + line.strip()
            continue
        match = _MEDLINE_TAG.fullmatch(line.rstrip())
        if not match:
            current = None
            continue
        tag, value = match.group(1), match.group(2).strip()
        if tag == "PMID":
            in_record = value == pmid
        if in_record:
            current = [tag, value]
            fields.append(current)

    updated_by, update_to = [], []
    for tag, value in fields:
        notice_doi = _doi_or_empty(_NOTICE_DOI.search(value))
        found_pmid = _NOTICE_PMID.search(value)
        notice_pmid = found_pmid.group(1) if found_pmid else ""
        if tag in _MEDLINE_UPDATED_BY:
            updated_by.append(
                RetractionInfo(
                    kind=_MEDLINE_UPDATED_BY[tag],
                    notice_doi=notice_doi,
                    notice_pmid=notice_pmid,
                    updated_doi=doi,
                    source="pubmed",
                    label=value[:300],
                )
            )
        elif tag in _MEDLINE_UPDATE_TO:
            update_to.append(
                RetractionInfo(
                    kind=_MEDLINE_UPDATE_TO[tag],
                    notice_doi=doi,
                    notice_pmid=pmid,
                    updated_doi=notice_doi,
                    source="pubmed",
                    label=value[:300],
                )
            )
    retracted_type = any(t == "PT" and v.lower() == "retracted publication" for t, v in fields)
    if retracted_type and not any(info.kind == "retraction" for info in updated_by):
        updated_by.append(
            RetractionInfo(
                kind="retraction", updated_doi=doi, source="pubmed", label="Retracted Publication"
            )
        )
    return tuple(updated_by), tuple(update_to)


def _doi_or_empty(match) -> str:
    if not match:
        return ""
    try:
        return normalize_doi(match.group(1))
    except IdentifierError:
        return ""
