"""Who the client is behind a proxy: one reading of PTSDINFO_TRUSTED_PROXIES for the
sign-in lockout (django-axes), the audit log, rate limits (the editor's and the
reader-report form's), request ids and X-Forwarded-Proto. Project-level, so every app
can use it without importing another app."""

import functools
import ipaddress

from django.conf import settings


@functools.cache
def _networks(entries: tuple[str, ...]) -> tuple[tuple, bool]:
    """The trusted proxy list parsed: (networks, trust_everyone). Invalid entries are
    skipped here and reported by the ptsdinfo.E010 check."""
    networks = []
    for entry in entries:
        if entry == "*":
            return (), True
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            continue
    return tuple(networks), False


def _address(text: str):
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def is_trusted_proxy(address: str | None) -> bool:
    """Whether `address` is in PTSDINFO_TRUSTED_PROXIES, the list gunicorn's
    `forwarded_allow_ips` is set from (deploy/gunicorn.conf.py)."""
    networks, everyone = _networks(tuple(settings.PTSDINFO_TRUSTED_PROXIES))
    parsed = _address(address or "")
    if parsed is None:
        return False
    return everyone or any(parsed in network for network in networks)


def client_ip(request) -> str | None:
    """The client's address, for the sign-in lockout (django-axes), the audit log and
    rate limits alike.

    The TCP peer (REMOTE_ADDR) unless DJANGO_BEHIND_PROXY is on and the peer is a
    trusted proxy (PTSDINFO_TRUSTED_PROXIES). Then X-Forwarded-For is read from the
    right, skipping trusted proxies: the first other address is the one the nearest
    trusted proxy saw connect. Entries further left are whatever the client sent and are
    never used. A request reaching gunicorn directly, past the proxy, is judged by its
    own address whatever X-Forwarded-For it carries (issue 11, item 8)."""
    remote = request.META.get("REMOTE_ADDR") or None
    if not (settings.PTSDINFO_BEHIND_PROXY and is_trusted_proxy(remote)):
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    for hop in reversed([hop for hop in hops if hop]):
        parsed = _address(hop)
        if parsed is None:
            return remote  # a malformed hop: the proxy's own address is all we know
        if not is_trusted_proxy(hop):
            return str(parsed)
    return remote
