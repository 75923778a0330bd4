"""Operating signals: request ids, log formats (text or JSON), gunicorn's logs in the
same format, and optional error reporting (docs/operations.md).

Every log line carries the time (UTC, ISO 8601), the level, the logger and the id of
the request it belongs to. The id comes from the `X-Request-ID` header when the
request was relayed by a trusted proxy (the shipped nginx sends its `$request_id`),
and is generated otherwise; every response returns it in `X-Request-ID`, and
gunicorn's access line for the request carries the same id.

Nothing here imports Django models: gunicorn's master loads it to format its logs.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import uuid
from contextvars import ContextVar

from ptsdinfo.proxies import is_trusted_proxy

_request_id: ContextVar[str] = ContextVar("ptsdinfo_request_id", default="-")
VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def current_request_id() -> str:
    return _request_id.get()


# --- which proxies may name the request ----------------------------------------------


def from_trusted_proxy(meta) -> bool:
    """Whether the request came straight from a proxy in PTSDINFO_TRUSTED_PROXIES: the
    same list, and the same reading of it, as the sign-in lockout's client address."""
    return is_trusted_proxy(meta.get("REMOTE_ADDR"))


def request_id_for(meta) -> str:
    """The request's id: the trusted proxy's X-Request-ID when valid, else a new one."""
    sent = meta.get("HTTP_X_REQUEST_ID", "")
    if sent and VALID_REQUEST_ID.fullmatch(sent) and from_trusted_proxy(meta):
        return sent
    return uuid.uuid4().hex


def _request_started(sender, environ=None, **kwargs):
    # Set before the middleware runs and kept until the response is closed: Django logs
    # "Not Found" and 500s after the whole middleware chain has returned.
    _request_id.set(request_id_for(environ or {}))


def _request_finished(sender, **kwargs):
    _request_id.set("-")


def request_id_middleware(get_response):
    """Outermost: attaches the id to the request (`request.request_id`) and returns it
    in the X-Request-ID response header."""
    from django.core.signals import request_finished, request_started

    request_started.connect(_request_started, dispatch_uid="ptsdinfo-request-id-start")
    request_finished.connect(_request_finished, dispatch_uid="ptsdinfo-request-id-end")

    def middleware(request):
        request_id = _request_id.get()
        if request_id == "-":  # a handler that sends no request_started
            request_id = request_id_for(request.META)
            _request_id.set(request_id)
        request.request_id = request_id
        response = get_response(request)
        response["X-Request-ID"] = request_id
        return response

    return middleware


# --- log records and formats -----------------------------------------------------------


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record: the current request's, or for gunicorn's
    access line the id in the response's X-Request-ID header."""

    def filter(self, record):
        request_id = _request_id.get()
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            request_id = record.args.get("{x-request-id}o") or request_id
        record.request_id = request_id
        return True


class TextFormatter(logging.Formatter):
    converter = time.gmtime

    def __init__(self):
        super().__init__(TEXT_FORMAT)

    def formatTime(self, record, datefmt=None):
        return _iso_time(record)


def _iso_time(record) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{stamp}.{int(record.msecs):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, request_id, message (and the
    traceback; and for gunicorn's access lines the request's fields)."""

    def format(self, record):
        entry = {
            "time": _iso_time(record),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            atoms = record.args
            entry["http"] = {
                "remote": atoms.get("h"),
                "method": atoms.get("m"),
                "path": atoms.get("U"),
                "query": atoms.get("q") or "",
                "status": _int(atoms.get("s")),
                "bytes": _int(atoms.get("B")),
                "duration_ms": _int(atoms.get("M")),
                "user_agent": atoms.get("a"),
            }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def make_formatter() -> logging.Formatter:
    """LOG_FORMAT=json: JSON lines; anything else: text."""
    if os.environ.get("LOG_FORMAT", "text").strip().lower() == "json":
        return JsonFormatter()
    return TextFormatter()


# --- gunicorn ----------------------------------------------------------------------------

try:
    from gunicorn.glogging import Logger as _GunicornLogger
except ImportError:  # pragma: no cover - gunicorn is in requirements.txt
    _GunicornLogger = object


class GunicornLogger(_GunicornLogger):
    """gunicorn's error and access logs in the app's format (deploy/gunicorn.conf.py)."""

    def setup(self, cfg):
        super().setup(cfg)
        logging.captureWarnings(True)  # Python warnings as log lines too, not bare stderr
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(make_formatter())
                if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
                    handler.addFilter(RequestIdFilter())


# --- error reporting -----------------------------------------------------------------------


def init_sentry(dsn: str) -> bool:
    """Error reporting through sentry-sdk when SENTRY_DSN is set; off otherwise.
    No personal data is sent (readers of a PTSD site are not to be tracked)."""
    if not dsn:
        return False
    import sentry_sdk

    sentry_sdk.init(
        dsn=dsn,
        environment=os.environ.get("SENTRY_ENVIRONMENT", "production"),
        release=os.environ.get("SENTRY_RELEASE") or None,
        traces_sample_rate=float(os.environ.get("SENTRY_TRACES_SAMPLE_RATE", "0")),
        send_default_pii=False,
    )
    return True
