"""Cluster tests: against `make cluster` (deploy/cluster.py), run by `make cluster-test`
and by CI as its own bounded step. Skipped when no cluster is running, except under CI
with CLUSTER_REQUIRED=1, where a missing cluster is a failure."""

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
STATE = ROOT / ".cache" / "cluster"
sys.path.insert(0, str(ROOT / "deploy"))
import cluster as cluster_script  # noqa: E402

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/cluster/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.cluster)


def get(url: str, headers: dict | None = None, timeout: float = 5) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with _opener.open(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")
    except OSError as error:
        return 0, str(error)


class Cluster:
    ports = cluster_script.PORTS

    def url(self, name: str, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.ports[name]}{path}"

    def node(self, *args: str) -> dict:
        """Run tests/cluster/node.py with app node 1's environment."""
        result = subprocess.run(
            [sys.executable, "-m", "tests.cluster.node", *args],
            cwd=ROOT,
            env={**cluster_script.app_env(), "DJANGO_SETTINGS_MODULE": "ptsdinfo.settings"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout.strip().splitlines()[-1])

    def sql(self, name: str, query: str) -> str:
        return subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.ports[name]),
                "-U",
                "postgres",
                "-d",
                "ptsdinfo",
                "-Atc",
                query,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.strip()

    def stop(self, name: str, sig=None) -> None:
        if sig is None:
            cluster_script.stop_one(name)
        else:
            cluster_script.stop(name, sig)

    def start(self, name: str) -> None:
        cluster_script.start_one(name)

    def up(self) -> bool:
        return all(cluster_script.pid_of(name) for name in cluster_script.ORDER)


@pytest.fixture(scope="session")
def cluster():
    running = Cluster()
    if not running.up():
        if os.environ.get("CLUSTER_REQUIRED"):
            pytest.fail("no cluster running: `make cluster` first")
        pytest.skip("no cluster running (`make cluster`, then `make cluster-test`)")
    return running


def load(urls: list[str], seconds: float, threads: int = 4, headers=None) -> Counter:
    """A bounded load generator: `threads` clients requesting `urls` in turn for
    `seconds`; returns the count of each status (0: no answer)."""
    counts: Counter = Counter()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(offset: int):
        i = offset
        while time.monotonic() < deadline:
            url = urls[i % len(urls)].replace("{n}", str(i))
            status, _ = get(url, headers=headers, timeout=5)
            with lock:
                counts[status] += 1
            i += threads

    workers = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=seconds + 10)
    return counts


def failed(counts: Counter) -> int:
    return sum(n for status, n in counts.items() if status == 0 or status >= 500)
