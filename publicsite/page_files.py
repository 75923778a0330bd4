"""Public pages as files that nginx serves itself, beside its page cache (issue 16).

A hit in nginx's proxy cache costs nginx more CPU than a static file (17.0 against
11.9 us per request in `make bench`, docs/performance.md): among other things, the
cached response's stored headers are parsed again on every hit. So the shipped
nginx (deploy/nginx/ptsdinfo-app.conf) first looks for the page as a plain file and
only then goes to its proxy cache, which stays as it was. The files are written here,
by the app, and only when nginx asks:

- nginx sends `X-Ptsdinfo-Page-Hour: 2026-12-06T05` (the hour, from its own clock)
  with a page request it could not answer from a file, and with the refresh that a
  PURGE triggers. Only a request from PTSDINFO_TRUSTED_PROXIES is heard.
- If the response is a page nginx can serve as a file with the same headers (see
  `servable`), its body goes to `PTSDINFO_PAGE_FILES_DIR/<hour>/<path>index.html`;
  otherwise any file at that place is deleted. A withdrawn article answers 410, so
  the purge on withdrawal deletes its file.
- nginx reads only the current hour's folder. A file therefore lives at most until
  the end of the hour it was written in, even when a purge never arrives: the same
  bound as the proxy cache's `s-maxage` (one hour). Folders of past hours are deleted
  when the next hour's folder is made.

nginx adds the headers itself (`add_header`) from a file that `manage.py
page_files_headers` writes from the app's own response. The app reads that file
(`PTSDINFO_PAGE_FILES_HEADERS`) and writes a page only when the response carries
exactly those headers, so nginx never serves a page with other headers than the app
would have sent. docs/deployment.md has the nginx side.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.checks import Tags, register
from django.core.checks import Warning as CheckWarning
from django.core.exceptions import MiddlewareNotUsed

from ptsdinfo.i18n import path_language
from ptsdinfo.proxies import is_trusted_proxy
from publicsite import caching

logger = logging.getLogger(__name__)

HOUR_HEADER = "HTTP_X_PTSDINFO_PAGE_HOUR"
HOUR = re.compile(r"\d{4}-\d\d-\d\dT\d\d")
# A path nginx maps to the same file: ASCII segments without dots, ending in "/".
FILE_PATH = re.compile(r"/(?:[A-Za-z0-9][A-Za-z0-9_-]*/)*")
FILE_NAME = "index.html"
CONTENT_TYPE = "text/html; charset=utf-8"  # what nginx sends for .html with `charset utf-8`

# Headers that nginx's static module sets itself for a file (or the location adds per
# request); every other header of the response must be one nginx adds from the file.
PER_RESPONSE = frozenset(
    {
        "content-length",
        "content-type",
        "content-language",
        "date",
        "etag",
        "last-modified",
        "server",
        "x-cache",
        "x-request-id",
    }
)

_ADD_HEADER = re.compile(r'add_header ([A-Za-z0-9-]+) "((?:[^"\\]|\\.)*)";')


def site_headers(response) -> dict[str, str]:
    """The headers of `response` that nginx must add to a file, all but PER_RESPONSE, as
    the response names them."""
    return {name: value for name, value in response.items() if name.lower() not in PER_RESPONSE}


def nginx_lines(headers: dict[str, str]) -> list[str]:
    """`add_header` lines for `headers`, in nginx's syntax (what `nginx_headers` reads)."""
    lines = []
    for name, value in headers.items():
        if "$" in value:  # nginx would read it as a variable
            raise ValueError(f"{name}: {value!r} holds a '$', which nginx cannot send as is")
        quoted = value.replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'add_header {name} "{quoted}";')
    return lines


@functools.cache
def nginx_headers(path: str) -> dict[str, str] | None:
    """The headers of the `add_header` lines in `path` (written by `page_files_headers`),
    names in lower case; None when the file cannot be read. Read once per process:
    nginx, too, reads it only when it is reloaded."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        logger.warning("page files off: cannot read %s (%s)", path, error)
        return None
    headers = {}
    for line in text.splitlines():
        match = _ADD_HEADER.fullmatch(line.strip())
        if match:
            value = re.sub(r"\\(.)", r"\1", match[2])
            headers[match[1].lower()] = value
    return headers


def file_for(root: str, hour: str, path: str) -> Path | None:
    """Where nginx looks for the page at `path` in `hour`, or None if it never does."""
    if not HOUR.fullmatch(hour) or not FILE_PATH.fullmatch(path) or not _is_now(hour):
        return None
    return Path(root, hour, path.lstrip("/"), FILE_NAME)


def _is_now(hour: str) -> bool:
    """Whether `hour` is within the hour either side of now, by this machine's clock in
    local time (nginx's $time_iso8601) or in UTC: a folder for any other hour would
    never be read, or (a future one) never be deleted."""
    try:
        then = datetime.strptime(hour, "%Y-%m-%dT%H")
    except ValueError:
        return False
    window = timedelta(minutes=90)
    local = datetime.now()  # nginx names the hour in the machine's local time
    utc = datetime.now(UTC).replace(tzinfo=None)
    return abs(then - local) <= window or abs(then - utc) <= window


def servable(request, response, expected: dict[str, str]) -> bool:
    """Whether nginx may serve `response` as a file with the headers in `expected`."""
    return (
        request.method == "GET"
        and response.status_code == 200
        and not response.streaming
        and not response.cookies
        and response.get("Content-Type") == CONTENT_TYPE
        # nginx adds Content-Language per location, one per language prefix
        and response.get("Content-Language") == path_language(request.path)
        and _lower(site_headers(response)) == expected
    )


def _lower(headers: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def write(root: str, hour: str, target: Path, content: bytes) -> None:
    """Put `content` at `target` (in `hour`'s folder under `root`) atomically: readers
    see the old file or the new one. Readable by nginx's user. The folders of past hours
    are deleted when this hour's folder is new."""
    hour_folder = Path(root, hour)
    if not hour_folder.exists():
        _make_folder(hour_folder)
        _forget_past_hours(hour_folder)
    if not target.parent.exists():
        _make_folder(target.parent)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".page-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _make_folder(folder: Path) -> None:
    """`folder` and any missing parents, each readable by nginx's user whatever the
    process's umask (a private one would hide the files from nginx)."""
    missing = [path for path in (folder, *folder.parents) if not path.exists()]
    for each in reversed(missing):
        each.mkdir(exist_ok=True)
        os.chmod(each, 0o755)  # noqa: S103 - public pages, for nginx's user to read


def _forget_past_hours(current: Path) -> None:
    for folder in current.parent.iterdir():
        if HOUR.fullmatch(folder.name) and folder.name < current.name:
            shutil.rmtree(folder, ignore_errors=True)


@register(Tags.compatibility)
def check_page_files(app_configs, **kwargs):
    """Page files on without a readable add_header file write nothing: say so at start."""
    if not getattr(settings, "PTSDINFO_PAGE_FILES_DIR", ""):
        return []
    path = getattr(settings, "PTSDINFO_PAGE_FILES_HEADERS", "")
    if path and Path(path).is_file():
        return []
    return [
        CheckWarning(
            "PTSDINFO_PAGE_FILES_DIR is set, but PTSDINFO_PAGE_FILES_HEADERS does not name "
            f"a readable file ({path!r}): no page files will be written.",
            hint="Run `manage.py page_files_headers --output <file>` and point "
            "PTSDINFO_PAGE_FILES_HEADERS at it (docs/deployment.md).",
            id="ptsdinfo.W004",
        )
    ]


def page_files_middleware(get_response):
    """Write or delete a page's file when nginx asks (see the module docstring).

    Outermost but for the request id, so the response it judges carries every header
    the rest of the stack adds. Not loaded at all unless PTSDINFO_PAGE_FILES_DIR is set."""
    root = getattr(settings, "PTSDINFO_PAGE_FILES_DIR", "")
    if not root:
        raise MiddlewareNotUsed
    headers_path = getattr(settings, "PTSDINFO_PAGE_FILES_HEADERS", "")

    def middleware(request):
        hour = request.META.get(HOUR_HEADER)
        if not hour:
            return get_response(request)
        response = get_response(request)
        if request.META.get("QUERY_STRING") or not is_trusted_proxy(
            request.META.get("REMOTE_ADDR")
        ):
            return response
        target = file_for(root, hour, request.path)
        if target is None:
            return response
        expected = nginx_headers(headers_path) if headers_path else None
        try:
            # As the page cache: never a page rendered inside a transaction that may yet
            # be rolled back (only tests render inside one).
            if (
                expected
                and servable(request, response, expected)
                and not caching._inside_transaction()
            ):
                write(root, hour, target, response.content)
            else:
                target.unlink(missing_ok=True)
        except OSError as error:
            logger.warning("page file %s not updated: %s", target, error)
        return response

    return middleware
