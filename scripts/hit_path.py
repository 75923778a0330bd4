"""What a page-cache hit costs in the application: the WSGI handler called directly, as
gunicorn calls it, with production settings, after one request has stored the page.
Prints microseconds per hit (best of 3 runs of -n hits) and Python calls per hit
(cProfile), the number that does not depend on the machine's load. `--profile` also
prints the profile. A benchmark, never part of the tests.

    DATABASE_URL=postgres://... .venv/bin/python scripts/hit_path.py [-n 5000] [--profile] [URL]

To compare two versions of the code, run it from each checkout (`git worktree add`).
"""

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def environ(path: str) -> dict:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_USER_AGENT": "hit_path",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url", nargs="?", default="/articles/ketamine-for-ptsd/")
    parser.add_argument("-n", type=int, default=5000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    sys.path[:0] = [str(ROOT)]
    os.environ.update(DJANGO_SETTINGS_MODULE="ptsdinfo.settings")  # set, not read
    from ptsdinfo.wsgi import application

    seen = {}

    def start_response(status, headers, exc_info=None):
        seen.update(status=status, headers=dict(headers))

    def hit() -> bytes:
        body = application(environ(args.url), start_response)
        try:
            return b"".join(body)
        finally:
            body.close()

    for _ in range(20):
        content = hit()
    if seen["headers"].get("X-Cache") != "hit":
        sys.exit(f"{args.url}: {seen['status']}, not served from the page cache")
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(args.n):
            hit()
        runs.append((time.perf_counter() - start) / args.n)
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(2000):
        hit()
    profile.disable()
    stats = pstats.Stats(profile)
    print(
        f"{args.url}: {seen['status']}, {len(content)} bytes; {min(runs) * 1e6:.1f} us per hit "
        f"(best of 3 x {args.n}); {stats.total_calls / 2000:.0f} Python calls per hit; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    if args.profile:
        stats.sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
