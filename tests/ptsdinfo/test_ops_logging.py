"""Operating signals: request ids, log lines (text and JSON), gunicorn's access log in
the same format, ADMINS and SENTRY_DSN from the environment."""

import io
import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from ptsdinfo import observability

ROOT = Path(__file__).resolve().parents[2]
HEX_ID = re.compile(r"[0-9a-f]{32}")


@pytest.mark.django_db
def test_every_response_gets_a_fresh_request_id(client):
    first = client.get("/healthz", REMOTE_ADDR="203.0.113.9")
    second = client.get("/healthz", REMOTE_ADDR="203.0.113.9")

    assert HEX_ID.fullmatch(first["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("remote", "sent", "kept"),
    [
        ("127.0.0.1", "nginx-req-42", True),  # the local nginx (a trusted proxy)
        # The shipped nginx's $ptsdinfo_request_id: time, connection, request.
        ("127.0.0.1", "1796533519.818-2508-1", True),
        ("203.0.113.9", "nginx-req-42", False),  # anyone else: their id is ignored
        ("127.0.0.1", "bad id\nwith newline", False),  # never echoed unchecked
        ("127.0.0.1", "x" * 200, False),
    ],
)
def test_request_id_is_taken_only_from_a_trusted_proxy(client, remote, sent, kept):
    response = client.get("/healthz", REMOTE_ADDR=remote, headers={"X-Request-ID": sent})

    assert (response["X-Request-ID"] == sent) is kept
    if not kept:
        assert HEX_ID.fullmatch(response["X-Request-ID"])


@pytest.mark.django_db
def test_trusted_proxies_come_from_the_setting(client, settings, monkeypatch):
    settings.PTSDINFO_TRUSTED_PROXIES = ["10.0.0.0/8"]

    proxied = client.get("/healthz", REMOTE_ADDR="10.1.2.3", headers={"X-Request-ID": "lb-7"})
    local = client.get("/healthz", REMOTE_ADDR="127.0.0.1", headers={"X-Request-ID": "lb-7"})

    assert proxied["X-Request-ID"] == "lb-7"
    assert local["X-Request-ID"] != "lb-7"


@pytest.fixture
def log_stream(monkeypatch):
    """The root logger's console output, with the settings' filter and formatter."""

    def capture(log_format: str):
        monkeypatch.setenv("LOG_FORMAT", log_format)
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(observability.make_formatter())
        handler.addFilter(observability.RequestIdFilter())
        logging.getLogger().addHandler(handler)
        return stream, handler

    handlers = []
    yield lambda fmt: handlers.append(capture(fmt)) or handlers[-1][0]
    for _, handler in handlers:
        logging.getLogger().removeHandler(handler)


@pytest.mark.django_db
def test_text_log_lines_carry_time_level_logger_and_request_id(client, log_stream):
    stream = log_stream("text")

    response = client.get("/no-such-page/", REMOTE_ADDR="203.0.113.9")

    line = next(line for line in stream.getvalue().splitlines() if "Not Found" in line)
    request_id = response["X-Request-ID"]
    assert re.match(
        rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z WARNING django.request \[{request_id}\] ",
        line,
    ), line


@pytest.mark.django_db
def test_json_log_lines_when_log_format_is_json(client, log_stream):
    stream = log_stream("json")

    response = client.get("/no-such-page/", REMOTE_ADDR="203.0.113.9")

    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    entry = next(e for e in entries if e["logger"] == "django.request")
    assert entry["level"] == "WARNING"
    assert entry["request_id"] == response["X-Request-ID"]
    assert "Not Found" in entry["message"]
    assert entry["time"].endswith("Z")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_gunicorn_access_log_is_json_with_the_request_id(tmp_path):
    """The shipped gunicorn config, really started: its access line for a request is a
    JSON object with the id the app returned."""
    port = free_port()
    env = {
        **os.environ,
        "LOG_FORMAT": "json",
        "PORT": str(port),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "PTSDINFO_PUBLICATION_CACHE_DIR": str(tmp_path / "generation"),
    }
    env.pop("REDIS_URL", None)
    out = (tmp_path / "stdout").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py"],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/healthz", headers={"X-Request-ID": "edge-1234"}
                )
                with urllib.request.urlopen(request, timeout=2) as response:
                    returned = response.headers["X-Request-ID"]
                break
            except OSError:
                assert time.monotonic() < deadline, (tmp_path / "stdout").read_text()
                assert server.poll() is None, (tmp_path / "stdout").read_text()
                time.sleep(0.2)
        time.sleep(0.5)  # let the access line reach the file
    finally:
        server.terminate()
        server.wait(timeout=30)
        out.close()

    lines = (tmp_path / "stdout").read_text().splitlines()
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    assert len(entries) == len([line for line in lines if line.strip()]), lines
    access = [e for e in entries if e["logger"] == "gunicorn.access"]
    assert returned == "edge-1234"  # loopback is a trusted proxy by default
    assert access and access[-1]["request_id"] == "edge-1234"
    assert access[-1]["http"]["status"] == 200 and access[-1]["http"]["path"] == "/healthz"
    assert any(e["logger"] == "gunicorn.error" and e["level"] == "INFO" for e in entries)


SHOW = (
    "import django, json; django.setup(); from django.conf import settings; "
    "import sentry_sdk; print(json.dumps([settings.ADMINS, settings.PTSDINFO_SENTRY_ENABLED, "
    "sentry_sdk.get_client().is_active()]))"
)


def settings_with(**env) -> list:
    full = {**os.environ, "DJANGO_SETTINGS_MODULE": "ptsdinfo.settings", **env}
    full.pop("SENTRY_DSN", None) if "SENTRY_DSN" not in env else None
    result = subprocess.run(
        [sys.executable, "-c", SHOW], env=full, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_admins_and_error_reporting_come_from_the_environment():
    admins, enabled, active = settings_with(
        DJANGO_ADMINS="ops@ptsdinfo.example, oncall@ptsdinfo.example",
        SENTRY_DSN="http://public@127.0.0.1:9/1",
    )
    off_admins, off_enabled, off_active = settings_with()

    assert admins == ["ops@ptsdinfo.example", "oncall@ptsdinfo.example"]
    assert enabled is True and active is True
    assert off_admins == [] and off_enabled is False and off_active is False
