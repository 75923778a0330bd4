"""The guarded HTTP transport: the only code in the site that makes outbound requests.

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

Identifiers are validated with `evidence.identifiers.normalize_*` before any network
use, so a bad DOI or PMID raises IdentifierError and nothing is sent. Every failure
is a FetchError subclass whose message a clinician-editor can act on.

No database access here: `articles.services.library` stores what this returns.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterable
from urllib.parse import urlsplit

DEFAULT_ALLOWED_HOSTS = frozenset({"api.crossref.org", "eutils.ncbi.nlm.nih.gov"})
DEFAULT_BASE_URLS = {
    "crossref": "https://api.crossref.org/works/",
    "pubmed": "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/efetch.fcgi",
    "esearch": "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/esearch.fcgi",
    "esummary": "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/esummary.fcgi",
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


# --- the transport ----------------------------------------------------------------------


def _setting(name: str, default):
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        return getattr(settings, name, default)
    except ImproperlyConfigured:  # settings not configured: use outside Django
        return default


def _host_key(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


class SafeHttpClient:
    """GETs from allow-listed HTTPS services under the rules above.

    Defaults come from settings (PTSDINFO_FETCH_ALLOWED_HOSTS, PTSDINFO_FETCH_TIMEOUT,
    PTSDINFO_FETCH_MAX_BYTES, PTSDINFO_FETCH_CONTACT); each can be overridden here.
    `allow_private_hosts` exempts named hosts from the private-address check (e.g. an
    institutional mirror on a private network, or a test server on 127.0.0.1);
    `ca_file` adds a trusted CA; `base_urls` replaces the Crossref ("crossref"),
    PubMed efetch ("pubmed"), esearch ("esearch") or esummary ("esummary") endpoints.
    Each defaults to its PTSDINFO_FETCH_* setting, and a replaced endpoint must still
    be HTTPS on an allowed host.
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
