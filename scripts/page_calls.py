"""Python calls per request of one public page (cProfile over 50 requests through the
test client, bench settings): a count that does not depend on the machine's load, for
comparing two versions of the code side by side. A benchmark, never part of the tests.

    DATABASE_URL=postgres://... .venv/bin/python scripts/page_calls.py /articles/<slug>/
"""

import cProfile
import os
import pstats
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]
    os.environ.update(DJANGO_SETTINGS_MODULE="bench_settings")  # set, not read
    import django

    django.setup()
    from django.test import Client

    client, url, requests = Client(HTTP_HOST="127.0.0.1"), sys.argv[1], 50
    for _ in range(5):
        client.get(url)
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(requests):
        response = client.get(url)
    profile.disable()
    calls = pstats.Stats(profile).total_calls // requests
    print(
        f"{url}: HTTP {response.status_code}, {len(response.content)} bytes, {calls} calls/request"
    )


if __name__ == "__main__":
    main()
