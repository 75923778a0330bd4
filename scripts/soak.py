#!/usr/bin/env python3
"""Soak the public pages: N concurrent connections for a fixed time, then report.

    python scripts/soak.py http://127.0.0.1:8000 --duration 60 --connections 64

Standard library only (threads and http.client, one connection per request, as
gunicorn's sync workers close each one). The pages are the home page, the article
list and every article linked from it. Prints requests, throughput, status counts,
5xx, connection errors and latency percentiles; exits 1 on any 5xx or error.
Refuses any host but this machine's loopback unless --allow-remote is given.
"""

from __future__ import annotations

import argparse
import http.client
import ipaddress
import json
import re
import socket
import sys
import threading
import time
from collections import Counter
from urllib.parse import urlsplit


def _is_loopback(host: str) -> bool:
    try:
        return all(
            ipaddress.ip_address(info[4][0]).is_loopback for info in socket.getaddrinfo(host, None)
        )
    except (OSError, ValueError):
        return False


def _get(host: str, port: int, path: str, timeout: float) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Connection": "close", "User-Agent": "soak"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def discover(host: str, port: int, timeout: float) -> list[str]:
    paths = ["/", "/articles/"]
    status, body = _get(host, port, "/articles/", timeout)
    if status == 200:
        links = re.findall(rb'href="(/articles/[a-z0-9-]+/)"', body)
        paths += sorted({link.decode() for link in links})
    return paths


def soak(url: str, *, duration: float, connections: int, timeout: float = 10.0) -> dict:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    paths = discover(host, port, timeout)
    deadline = time.monotonic() + duration
    statuses: Counter = Counter()
    errors: Counter = Counter()
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(offset: int) -> None:
        index = offset
        local_statuses: Counter = Counter()
        local_errors: Counter = Counter()
        local_latencies: list[float] = []
        while time.monotonic() < deadline:
            path = paths[index % len(paths)]
            index += 1
            started = time.perf_counter()
            try:
                status, _ = _get(host, port, path, timeout)
            except (OSError, http.client.HTTPException) as exc:
                local_errors[type(exc).__name__] += 1
                continue
            local_latencies.append(time.perf_counter() - started)
            local_statuses[status] += 1
        with lock:
            statuses.update(local_statuses)
            errors.update(local_errors)
            latencies.extend(local_latencies)

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    latencies.sort()

    def percentile(p: float) -> float:
        if not latencies:
            return 0.0
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 1)

    total = sum(statuses.values())
    return {
        "url": url,
        "paths": paths,
        "duration_s": round(elapsed, 1),
        "connections": connections,
        "requests": total,
        "requests_per_s": round(total / elapsed, 1) if elapsed else 0.0,
        "statuses": {str(code): count for code, count in sorted(statuses.items())},
        "server_errors_5xx": sum(n for code, n in statuses.items() if code >= 500),
        "connection_errors": dict(errors),
        "latency_ms": {
            "p50": percentile(0.5),
            "p95": percentile(0.95),
            "p99": percentile(0.99),
            "max": percentile(1.0),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="base URL of the server, e.g. http://127.0.0.1:8000")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds (default 60)")
    parser.add_argument("--connections", type=int, default=64, help="concurrent (default 64)")
    parser.add_argument("--timeout", type=float, default=10.0, help="per request, seconds")
    parser.add_argument("--allow-remote", action="store_true", help="allow a non-loopback host")
    args = parser.parse_args(argv)
    host = urlsplit(args.url).hostname or ""
    if not args.allow_remote and not _is_loopback(host):
        parser.error(f"{host!r} is not a loopback address; pass --allow-remote to soak it")
    if not 0 < args.duration <= 3600 or not 0 < args.connections <= 1024:
        parser.error("duration must be 0-3600 s and connections 1-1024")
    report = soak(
        args.url, duration=args.duration, connections=args.connections, timeout=args.timeout
    )
    print(json.dumps(report, indent=2))
    return 1 if report["server_errors_5xx"] or report["connection_errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
