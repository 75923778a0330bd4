"""Faults against a real gunicorn (the production config, deploy/gunicorn.conf.py) on
the demo database: a worker killed mid-request is replaced and every request after it
succeeds; a short soak (scripts/soak.py) returns no 5xx and no connection error.
The 60-second, 64-connection soak is run by hand; its numbers are in docs/security.md."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.browser.conftest import ROOT, _free_port, _wait_until_up


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


@pytest.fixture(scope="module")
def server(site):
    port = _free_port()
    env = {
        **site["env"],
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "2",
        "GUNICORN_ACCESS_LOG": "off",
    }
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "deploy/gunicorn.conf.py"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(f"{url}/healthz", process)
        deadline = time.monotonic() + 20
        while len(_children(process.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        yield {"url": url, "pid": process.pid}
    finally:
        process.terminate()
        process.wait(timeout=20)


def _status(url: str) -> int | str:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError as error:
        return type(error).__name__


def test_killed_worker_is_replaced_and_no_later_request_fails(server):
    pages = [f"{server['url']}{p}" for p in ("/", "/articles/", "/articles/ketamine-for-ptsd/")]
    workers = _children(server["pid"])
    assert len(workers) == 2
    stop = time.monotonic() + 2.0
    during: list = []

    def load():
        n = 0
        while time.monotonic() < stop:
            during.append(_status(pages[n % len(pages)]))
            n += 1

    threads = [threading.Thread(target=load) for _ in range(6)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    victim = min(workers)
    os.kill(victim, signal.SIGKILL)  # mid-request: six clients are hammering it
    for thread in threads:
        thread.join()

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        now = _children(server["pid"])
        if len(now) == 2 and victim not in now:
            break
        time.sleep(0.1)
    assert len(now) == 2 and victim not in now, "the master did not replace the worker"
    assert during.count(200) > 20  # the load really ran while the worker died
    after = [_status(pages[n % len(pages)]) for n in range(50)]
    assert after == [200] * 50


def test_short_soak_has_no_errors(server):
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "soak.py"),
            server["url"],
            "--duration",
            "5",
            "--connections",
            "16",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )

    report = json.loads(result.stdout)
    assert result.returncode == 0, result.stdout
    assert report["requests"] > 100
    assert report["server_errors_5xx"] == 0
    assert report["connection_errors"] == {}
    assert set(report["statuses"]) == {"200"}
