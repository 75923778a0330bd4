"""Caching of public pages: HTTP validators and lifetimes, the application cache of whole
responses, and purging a reverse proxy or CDN when something is published.

Three layers, each correct on its own:

1. **HTTP.** Every public response carries `ETag` (a hash of the body),
   `Last-Modified` (when what it shows was published, where the view knows it) and
   `Cache-Control: public` with a short browser lifetime and a longer shared-cache
   lifetime, so browsers and CDNs can hold pages and revalidate them with a 304.
2. **Application cache.** Whole responses are kept in Django's cache (local memory,
   or Redis when `REDIS_URL` is set), keyed by the *publication generation*: a number
   kept in the cache that every publish, withdrawal and scheduled publication bumps
   after its transaction commits. A bump orphans every cached page at once, so no
   page survives a publication; nothing has to be found and deleted. A cached page
   costs no database query.
3. **Purge.** After the same commit, `PTSDINFO_PURGE_URLS` (reverse proxies or CDN
   endpoints) receive an HTTP `PURGE` for exactly the paths that show the article.

Only anonymous GET and HEAD requests without a session cookie are served from or
stored in the application cache, and shared caches are told to keep only those:
staff (who have a session) always get a freshly rendered page marked `private`.
Responses rendered while a database transaction is open are never stored: they may
show data that is rolled back.

The generation lives in the `publication` cache alias when one is configured (see
settings: a small file cache shared by every process on the machine when Redis is
not used), so a publish from the admin in one gunicorn worker, or from
`manage.py publish_scheduled` in cron, invalidates the pages held by every worker.
"""

from __future__ import annotations

import hashlib
import io
import logging
import pickle
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import wraps

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.filebased import FileBasedCache
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpResponse
from django.urls import reverse
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.http import http_date, parse_http_date_safe
from django.utils.translation import get_language, override

from articles.signals import (
    article_notice_changed,
    article_published,
    article_withdrawn,
    translation_published,
    translation_withdrawn,
)

logger = logging.getLogger(__name__)

# A shared cache (Redis) that cannot be reached must not take pages down: pages are
# then rendered directly, uncached (logged), until it answers again.
try:
    from redis.exceptions import RedisError as _RedisError
except ImportError:  # pragma: no cover - redis is in requirements.txt
    _RedisError = OSError
CACHE_ERRORS = (_RedisError, OSError)

GENERATION_KEY = "ptsdinfo:public-generation"
PAGE_KEY_PREFIX = "ptsdinfo:page"
CACHEABLE_STATUSES = {200, 410}


# --- the publication generation -----------------------------------------------------


def _generation_cache():
    alias = "publication" if "publication" in settings.CACHES else "default"
    return caches[alias]


def public_generation() -> int:
    """The current publication generation. When the cache has lost it (eviction, a
    restart of local memory), it starts again from the current time in microseconds,
    which is larger than any generation handed out before, so an old page is never
    mistaken for a current one."""
    cache = _generation_cache()
    if isinstance(cache, FileBasedCache):
        generation = _file_generation(cache)
    else:
        generation = cache.get(GENERATION_KEY)
    if generation is None:
        cache.add(GENERATION_KEY, time.time_ns() // 1_000, timeout=None)
        generation = cache.get(GENERATION_KEY)
    return int(generation)


# The file cache's generation file: {cache directory: path}, and the last (raw bytes,
# value) read from it (one tuple, so threads never pair one read's bytes with another's
# value).
_generation_paths: dict[str, str] = {}
_generation_last: tuple[bytes, int] | tuple[None, None] = (None, None)


def _file_generation(cache: FileBasedCache) -> int | None:
    """`cache.get(GENERATION_KEY)` for the file cache (the default on one machine) at a
    fifth of the cost: the file is read on every call, as before, so a bump by another
    process is seen at once; only when its bytes are those read last time is the same
    value returned without unpickling it again. The format is FileBasedCache's own: the
    pickled expiry, then the zlib-compressed pickled value."""
    global _generation_last
    path = _generation_paths.get(cache._dir)
    if path is None:
        path = cache._key_to_file(GENERATION_KEY)
        _generation_paths[cache._dir] = path
    try:
        with open(path, "rb") as file:
            raw = file.read()
    except FileNotFoundError:
        return None
    last_raw, last_value = _generation_last
    if raw == last_raw:
        return last_value
    stream = io.BytesIO(raw)
    try:
        expiry = pickle.load(stream)  # noqa: S301 - the cache's own file, read as Django does
        if expiry is not None and expiry < time.time():
            return None
        value = pickle.loads(zlib.decompress(stream.read()))  # noqa: S301
    except (EOFError, pickle.UnpicklingError, zlib.error):  # unreadable: ask the cache
        return cache.get(GENERATION_KEY)
    _generation_last = (raw, value)
    return value


def _generation_bump() -> int:
    cache = _generation_cache()
    try:
        return cache.incr(GENERATION_KEY)
    except ValueError:  # missing: start again from now (see public_generation)
        cache.add(GENERATION_KEY, time.time_ns() // 1_000, timeout=None)
        return cache.incr(GENERATION_KEY)


def public_invalidate(*, paths: Iterable[str]) -> int:
    """Make every cached public page stale and purge `paths` from reverse proxies.

    Runs after the transaction that changed what readers see has committed (the
    articles.signals received below are sent on commit), never inside it: a page
    rendered between a bump and the commit would otherwise be cached with the old
    content under the new generation.
    Returns the new generation."""
    try:
        from ptsdinfo.routers import note_publication

        note_publication()  # replicas serve readers again once they have replayed this
        generation = _generation_bump()
    except CACHE_ERRORS as error:
        # The publication has committed; the shared cache cannot be told. A cache that
        # restarted empty holds no old page; one that was only unreachable keeps old
        # pages at most PTSDINFO_PAGE_CACHE_SECONDS (docs/deployment.md).
        logger.error("publication generation not bumped, cache unreachable: %s", error)
        generation = 0
    purge(paths=paths)
    return generation


def article_public_paths(article) -> list[str]:
    """Every public path that shows `article`, or lists it, in every language: what a
    publish, withdrawal or re-review must purge."""
    topic_slugs = sorted(article.topics.values_list("slug", flat=True))
    paths = []
    for code, _name in settings.LANGUAGES:
        with override(code):
            paths += [
                article.get_absolute_url(),
                reverse("home"),
                reverse("articles:list"),
                reverse("articles:topics"),
                *(reverse("articles:topic", kwargs={"slug": slug}) for slug in topic_slugs),
                reverse("articles:feed"),
                reverse("articles:sitemap"),
                reverse("articles:search"),
            ]
    return list(dict.fromkeys(paths))


@receiver(article_published)
@receiver(article_withdrawn)
@receiver(article_notice_changed)
@receiver(translation_published)
@receiver(translation_withdrawn)
def article_public_face_changed(sender, *, article, **kwargs) -> None:
    """The services send these after their commit (articles.signals): every cached page
    goes stale and the paths that show the article are purged."""
    public_invalidate(paths=article_public_paths(article))


# --- purging reverse proxies and CDNs -------------------------------------------------


def purge(*, paths: Iterable[str]) -> list[tuple[str, int | str]]:
    """Send `PURGE <path>` to every base URL in `PTSDINFO_PURGE_URLS`, concurrently.

    Failures are logged and never raised: the publication has already committed, and
    the shared caches' own lifetimes (s-maxage) bound how long they can lag. Returns
    (url, status code or error) pairs."""
    bases = [base.rstrip("/") for base in getattr(settings, "PTSDINFO_PURGE_URLS", []) if base]
    urls = [f"{base}{path}" for base in bases for path in dict.fromkeys(paths)]
    if not urls:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(urls))) as pool:
        return list(zip(urls, pool.map(_purge_one, urls), strict=True))


# A PURGE goes straight to the configured host: never through an HTTP(S)_PROXY from
# the environment, and never after a redirect.
_purge_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _purge_one(url: str) -> int | str:
    if not url.startswith(("http://", "https://")):
        logger.warning("PURGE %s skipped: only http(s) URLs are purged", url)
        return "skipped"
    request = urllib.request.Request(url, method="PURGE")  # noqa: S310 - scheme checked above
    timeout = getattr(settings, "PTSDINFO_PURGE_TIMEOUT", 3)
    try:
        with _purge_opener.open(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:  # 404 from a proxy: nothing cached there
        if error.code != 404:
            logger.warning("PURGE %s answered %s", url, error.code)
        return error.code
    except OSError as error:
        logger.warning("PURGE %s failed: %s", url, error)
        return str(error)


# --- the public page decorator -------------------------------------------------------


def public_page(
    view: Callable | None = None,
    *,
    max_age: int = 60,
    s_maxage: int | None = None,
    query_params: tuple[str, ...] = (),
):
    """Cache a public view's responses (see the module docstring).

    `query_params` names the query parameters the page depends on; all others are
    ignored, so `?utm_source=...` variants share one cached page and cannot flood the
    cache. `max_age` is the browsers' lifetime; `s_maxage` that of shared caches,
    which are purged on publication (default: `PTSDINFO_SHARED_CACHE_SECONDS`)."""

    def decorator(view_func):
        @wraps(view_func)
        def wrapper(request, *args, **kwargs):
            if not _is_anonymous_read(request):
                response = _render(view_func, request, args, kwargs)
                _set_validators(response)
                if request.method in ("GET", "HEAD"):
                    patch_cache_control(response, private=True, no_cache=True)
                return _conditional(request, response)
            # Pages rendered inside an open transaction may show data that is then
            # rolled back: serve and store them only outside one (always, in production).
            use_cache = not _inside_transaction()
            # Set when PageCacheMiddleware already looked this page up and missed.
            key = getattr(request, "_ptsdinfo_page_key", None) if use_cache else None
            entry = None
            if use_cache and key is None:
                try:
                    key = _page_key(request, query_params)
                    entry = caches["default"].get(key)
                except CACHE_ERRORS as error:
                    logger.warning("page cache unreachable, rendering directly: %s", error)
                    use_cache = False
            if entry is not None:
                response = _thaw(entry)
                response["X-Cache"] = "hit"
                return _conditional(request, response)
            response = _render(view_func, request, args, kwargs)
            _set_validators(response)
            _set_public_lifetimes(response, max_age=max_age, s_maxage=s_maxage)
            if use_cache:
                if _may_store(response):
                    try:
                        caches["default"].set(key, _freeze(response), _page_ttl())
                    except CACHE_ERRORS as error:
                        logger.warning("page cache unreachable, page not stored: %s", error)
                response["X-Cache"] = "miss"
            return _conditional(request, response)

        return wrapper

    return decorator(view) if view is not None else decorator


class PageCacheMiddleware:
    """Serve a stored public page before the rest of the stack runs.

    Placed right after the middleware that sets security headers (settings.MIDDLEWARE),
    so a hit still gets every one of them, and skips what a stored anonymous page never
    needs: the database fault handlers, sessions, CommonMiddleware, CSRF, authentication,
    OTP, the staff guard, messages, axes, URL resolution and the view. Only requests the
    decorator would answer from the cache are looked up here: anonymous GET or HEAD, no
    session cookie, outside a transaction, and no query string (pages that read query
    parameters normalise them in `public_page`, which still looks those up itself).
    On a miss the key is handed on, so `public_page` does not look again."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.META.get("QUERY_STRING") or not _is_anonymous_read(request):
            return self.get_response(request)
        if _inside_transaction():
            return self.get_response(request)
        try:
            key = _page_key(request, ())
            entry = caches["default"].get(key)
        except CACHE_ERRORS as error:
            logger.warning("page cache unreachable, rendering directly: %s", error)
            return self.get_response(request)
        if entry is None:
            request._ptsdinfo_page_key = key
            return self.get_response(request)
        response = _thaw(entry)
        response["Content-Length"] = str(len(response.content))
        response["X-Cache"] = "hit"
        return _conditional(request, response)


def last_modified(response: HttpResponse, moment) -> HttpResponse:
    """Set `Last-Modified` from a datetime (ignored when None)."""
    if moment is not None:
        response["Last-Modified"] = http_date(moment.timestamp())
    return response


def _is_anonymous_read(request) -> bool:
    return request.method in ("GET", "HEAD") and settings.SESSION_COOKIE_NAME not in request.COOKIES


def _inside_transaction() -> bool:
    return transaction.get_connection().in_atomic_block


def _render(view_func, request, args, kwargs) -> HttpResponse:
    response = view_func(request, *args, **kwargs)
    if hasattr(response, "render") and not getattr(response, "is_rendered", True):
        response.render()  # TemplateResponse (e.g. the sitemap view)
    return response


def _page_key(request, query_params: tuple[str, ...]) -> str:
    params = "&".join(
        f"{name}={value}"
        for name in query_params
        for value in request.GET.getlist(name)[:1]  # one value per parameter
    )
    # The language is decided by the path (ptsdinfo/i18n.py); it is in the key as well,
    # so a page is never served in another language than the one it was rendered in.
    url = f"{get_language()}\0{request.scheme}://{request.get_host()}{request.path}?{params}"
    digest = hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{PAGE_KEY_PREFIX}:{public_generation()}:{digest}"


def _page_ttl() -> int:
    return getattr(settings, "PTSDINFO_PAGE_CACHE_SECONDS", 600)


def _may_store(response) -> bool:
    return (
        response.status_code in CACHEABLE_STATUSES
        and not response.streaming
        and not response.cookies
        and "private" not in response.get("Cache-Control", "")
        and "no-store" not in response.get("Cache-Control", "")
    )


def _set_validators(response) -> None:
    if response.streaming or response.status_code not in CACHEABLE_STATUSES:
        return
    if not response.has_header("ETag"):
        digest = hashlib.blake2b(response.content, digest_size=16).hexdigest()
        response["ETag"] = f'"{digest}"'


def _set_public_lifetimes(response, *, max_age: int, s_maxage: int | None) -> None:
    if response.status_code not in CACHEABLE_STATUSES or response.has_header("Cache-Control"):
        return
    shared = s_maxage if s_maxage is not None else settings.PTSDINFO_SHARED_CACHE_SECONDS
    patch_cache_control(
        response,
        public=True,
        max_age=max_age,
        s_maxage=max(shared, max_age),
        stale_while_revalidate=60,
        stale_if_error=86400,
    )


# The request headers that can turn a response into a 304 or a 412.
_CONDITIONAL_HEADERS = (
    "HTTP_IF_MATCH",
    "HTTP_IF_NONE_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_IF_UNMODIFIED_SINCE",
)


def _conditional(request, response):
    if request.method not in ("GET", "HEAD") or response.status_code != 200:
        return response
    if not any(name in request.META for name in _CONDITIONAL_HEADERS):
        return response  # what get_conditional_response returns, without parsing dates
    return get_conditional_response(
        request,
        etag=response.get("ETag"),
        last_modified=parse_http_date_safe(response.get("Last-Modified", "")),
        response=response,
    )


def _freeze(response) -> tuple:
    # Only the view's own headers: middleware (security headers, CSP) runs again on
    # every response, the cached ones included.
    headers = {name: value for name, value in response.items() if name != "X-Cache"}
    return (response.status_code, headers, response.content)


def _thaw(entry: tuple) -> HttpResponse:
    status, headers, content = entry
    response = HttpResponse(content, status=status)
    for name, value in headers.items():
        response[name] = value
    return response
