"""What each middleware costs a page-cache hit, and the publication-generation read.

    DATABASE_URL=postgres://... .venv/bin/python scripts/middleware_cost.py [-n 5000] [URL]

Production settings; the page is requested once (stored), then every request is a hit.
For each middleware: the median hit time with the whole stack, minus the median with
that middleware left out (best of 3 runs each). A benchmark, never part of the tests.
"""

import argparse
import os
import statistics
import sys
import time
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def median_ms(client, url: str, n: int) -> float:
    best = []
    for _ in range(3):
        times = []
        for _ in range(n):
            start = time.perf_counter()
            client.get(url)
            times.append(time.perf_counter() - start)
        best.append(statistics.median(times) * 1000)
    return min(best)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url", nargs="?", default="/articles/ketamine-for-ptsd/")
    parser.add_argument("-n", type=int, default=5000)
    args = parser.parse_args()
    sys.path[:0] = [str(ROOT)]
    os.environ.update(DJANGO_SETTINGS_MODULE="ptsdinfo.settings")  # set, not read
    import django

    django.setup()
    from django.conf import settings
    from django.test import Client, override_settings

    from publicsite import caching

    stack = list(settings.MIDDLEWARE)
    client = Client(HTTP_HOST="127.0.0.1")
    assert client.get(args.url).status_code == 200
    assert client.get(args.url)["X-Cache"] == "hit"
    full = median_ms(client, args.url, args.n)
    print(f"hit, whole stack: {full:.3f} ms (median, best of 3 x {args.n})")
    for name in stack:
        with override_settings(MIDDLEWARE=[m for m in stack if m != name]):
            without = median_ms(Client(HTTP_HOST="127.0.0.1"), args.url, args.n)
        print(f"  {name}: {full - without:+.3f} ms")
    n = 20000
    read = min(timeit.repeat(caching.public_generation, number=n, repeat=5)) / n * 1e6
    cache = caching._generation_cache()
    plain = (
        min(timeit.repeat(lambda: cache.get(caching.GENERATION_KEY), number=n, repeat=5)) / n * 1e6
    )
    print(
        f"publication generation: {read:.1f} us per read ({type(cache).__name__}; "
        f"cache.get alone {plain:.1f} us)"
    )
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
