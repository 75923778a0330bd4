"""The benchmark's floor for any Python response: a WSGI app that returns the article's
HTML from memory, served by the same gunicorn configuration. Whatever Django does on
top of this (middleware, cache lookup, rendering) is measured against it."""

import os
from pathlib import Path

_BODY = Path(os.environ["BENCH_FLOOR_FILE"]).read_bytes()
_HEADERS = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(_BODY)))]


def application(environ, start_response):
    start_response("200 OK", _HEADERS)
    return [_BODY]
