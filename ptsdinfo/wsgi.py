"""WSGI entry point for gunicorn."""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ptsdinfo.settings")

application = get_wsgi_application()

# Everything loaded so far (Django, the apps, the URLconf) lives as long as the process:
# collect what loading left behind, then move the rest out of the cyclic garbage
# collector's reach, so a full collection under load scans only what requests allocate
# (shorter pauses, the tail of the latency; docs/performance.md), and a preloaded
# master's pages stay shared with its forked workers (copy-on-write).
gc.collect()
gc.freeze()
