"""In-process cost of one public page: queries, median and p99 service time, and the
garbage collector's pauses, through Django's test client (no HTTP server, no load).

    DATABASE_URL=postgres://... .venv/bin/python scripts/page_timing.py \
        [--settings bench_settings] [-n 1000] [--no-gc-freeze] /articles/ketamine-for-ptsd/

`bench_settings` (scripts/bench_settings.py) is the uncached configuration; pass
`ptsdinfo.settings` for the application page cache (every request after the first is
a hit). Like ptsdinfo/wsgi.py, objects loaded before the first request are frozen out
of the garbage collector unless --no-gc-freeze. A benchmark, never part of the tests.
"""

import argparse
import gc
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("url")
    parser.add_argument("--settings", default="bench_settings")
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--no-gc-freeze", action="store_true")
    args = parser.parse_args()

    sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]
    os.environ.update(DJANGO_SETTINGS_MODULE=args.settings)  # set, not read
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    client.get(args.url)
    if not args.no_gc_freeze:
        gc.freeze()
    for _ in range(30):
        response = client.get(args.url)

    queries = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        client.get(args.url)

    pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
    started = [0.0]

    def on_gc(phase, info):
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses[info["generation"]].append((time.perf_counter() - started[0]) * 1000)

    gc.callbacks.append(on_gc)
    times = []
    for _ in range(args.n):
        start = time.perf_counter()
        client.get(args.url)
        times.append((time.perf_counter() - start) * 1000)
    gc.callbacks.remove(on_gc)
    times.sort()

    print(
        f"{args.url} with {args.settings}: HTTP {response.status_code}, "
        f"{len(response.content)} bytes"
    )
    print(f"X-Cache {response.get('X-Cache', '-')}, {len(queries)} queries per request")
    print(
        f"{args.n} requests: median {statistics.median(times):.3f} ms, "
        f"p99 {times[int(args.n * 0.99) - 1]:.3f} ms, max {times[-1]:.3f} ms"
    )
    for generation, values in pauses.items():
        longest = max(values, default=0.0)
        print(f"gc generation {generation}: {len(values)} collections, longest {longest:.2f} ms")
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
