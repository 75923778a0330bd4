"""gunicorn settings for ptsdinfo: `gunicorn -c deploy/gunicorn.conf.py ptsdinfo.wsgi`.

Every value can be overridden from the environment (GUNICORN_*), so one image serves a
laptop, a 2-core VM and a large container alike. See docs/deployment.md.
"""

import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def _cpus() -> int:
    # The CPUs this process may run on (respects taskset/cpusets); a container CPU
    # quota is not visible here, so set GUNICORN_WORKERS explicitly under a quota.
    if hasattr(os, "process_cpu_count"):
        return os.process_cpu_count() or 1
    return len(os.sched_getaffinity(0)) or 1


wsgi_app = "ptsdinfo.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")

# Sync workers: a public request is CPU-bound (template around stored HTML, one or two
# indexed queries), so one process per core plus one to cover the time spent waiting
# on PostgreSQL. Slow clients never reach a worker: nginx (or the load balancer)
# buffers requests and responses in front of it.
worker_class = "sync"
workers = _int("GUNICORN_WORKERS", 2 * _cpus() + 1)

# A worker silent for this long is killed and replaced (a stuck query, a bug).
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)

# Recycle each worker after about this many requests; the jitter keeps workers from
# restarting together. A guard against slow leaks in dependencies, not a fix for ours:
# docs/performance.md shows worker memory stays flat without it. 0 disables.
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", max_requests // 10)

# Import Django once in the master and fork: workers share the code pages
# (copy-on-write) and a recycled worker starts in milliseconds.
preload_app = os.environ.get("GUNICORN_PRELOAD", "true").lower() in {"1", "true", "yes", "on"}


def pre_fork(server, worker):
    """Never hand a database connection opened in the master to a worker: two
    processes on one socket corrupt each other's queries. Django opens none at import;
    this keeps it so if an import ever does."""
    if preload_app:
        from django.db import connections

        connections.close_all()


# The heartbeat file lives in memory: on a container's overlay filesystem a slow disk
# write can otherwise get a healthy worker killed.
_SHM = "/dev/shm"  # noqa: S108 - gunicorn's documented setting for containers
if os.path.isdir(_SHM):
    worker_tmp_dir = _SHM

# Trust X-Forwarded-* only from the proxy in front (nginx on the same host by default).
# PTSDINFO_TRUSTED_PROXIES also decides, in Django, whose X-Forwarded-For the sign-in
# lockout believes (ptsdinfo.proxies.client_ip): one list for both.
forwarded_allow_ips = os.environ.get("PTSDINFO_TRUSTED_PROXIES", "127.0.0.1,::1")

# Access logs to stdout (the container log); "off" disables them (the benchmark does).
_access_log = os.environ.get("GUNICORN_ACCESS_LOG", "-")
accesslog = None if _access_log.lower() in {"", "off", "none"} else _access_log
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# Both logs in the app's format (time, level, logger, request id; JSON lines when
# LOG_FORMAT=json): ptsdinfo/observability.py. The access line's request id is the
# one the app returned in X-Request-ID.
logger_class = "ptsdinfo.observability.GunicornLogger"
access_log_format = os.environ.get(
    "GUNICORN_ACCESS_LOG_FORMAT", '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
)
