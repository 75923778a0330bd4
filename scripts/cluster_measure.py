"""Numbers for docs/deployment.md, against a running `make cluster` (run as root):

    .venv/bin/python scripts/cluster_measure.py

- requests per second for the public article through the load balancer (wrk, 10 s,
  2 threads, 16 connections), from the page caches and rendered (a session cookie
  bypasses both caches), with both app nodes and then with node 2 stopped;
- publish-to-visible seconds at every layer (LB, both nginx, both gunicorn);
- replica replay lag during a burst of publishes (pg_stat_replication.replay_lag,
  sampled every 50 ms on the primary).
"""

import re
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.cluster.conftest import Cluster  # noqa: E402
from tests.cluster.test_cluster import EVERY_LAYER, publish_new_title, wait_for  # noqa: E402

ARTICLE = "/articles/ketamine-for-ptsd/"


def wrk(url: str, *headers: str) -> float:
    args = ["wrk", "-t2", "-c16", "-d10s", *(f"-H{h}" for h in headers), url]
    out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=60).stdout  # noqa: S603
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return rps if not bad else -rps


def main() -> None:
    c = Cluster()
    assert c.up(), "start the cluster first: make cluster"
    lb = c.url("lb", ARTICLE)
    rendered = "Cookie: sessionid=not-a-session"
    for nodes in (2, 1):
        if nodes == 1:
            c.stop("nginx2")
            c.stop("app2")
            time.sleep(3)  # HAProxy: two failed checks a second apart
        print(
            f"{nodes} node(s): cached {wrk(lb):.0f} req/s, rendered {wrk(lb, rendered):.0f} req/s"
        )
    c.start("app2")
    c.start("nginx2")
    time.sleep(3)

    for _ in range(3):
        title = publish_new_title(c)
        seen = {name: round(wait_for(c, name, title), 4) for name in EVERY_LAYER}
        print(f"publish-to-visible seconds: {seen}")

    samples, done = [], threading.Event()

    def sample():
        while not done.is_set():
            lag = c.sql("primary", "SELECT COALESCE(EXTRACT(EPOCH FROM replay_lag), 0) "
                        "FROM pg_stat_replication")  # fmt: skip
            samples.append(float(lag or 0))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.monotonic()
    for _ in range(10):
        publish_new_title(c)
    elapsed = time.monotonic() - started
    time.sleep(1)
    done.set()
    sampler.join()
    print(
        f"replica lag during 10 publishes in {elapsed:.1f} s: max {max(samples):.4f} s, "
        f"{len(samples)} samples"
    )


if __name__ == "__main__":
    main()
