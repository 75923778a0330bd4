"""Settings for the benchmark's "uncached" server: production settings with the
application page cache switched off (DummyCache), so every request renders.

The publication generation keeps its own cache alias ("publication"), so
publicsite/caching.py runs exactly the code path of a cache miss on every request.
Used only by scripts/bench.py; never in production.
"""

from ptsdinfo.settings import *  # noqa: F403
from ptsdinfo.settings import CACHES

CACHES = {**CACHES, "default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
