"""Readiness for operators (`/readyz`) and the page shown before migrations have run.

`/healthz` (publicsite/views.py) stays cheap and public: "the database answers", for
load balancers that poll it every few seconds. `/readyz` says what is wrong, as JSON:
the database, the replica (and its replay lag in seconds) when one is configured, the
cache backends, migrations applied and the media directory writable. 200 when every
part is ready, 503 naming the failing parts otherwise.

Who may ask: the details (lag, which part fails, error text) are for operators. A
request is answered when it carries `Authorization: Bearer <PTSDINFO_READYZ_TOKEN>`
(when that is set), or comes straight from this machine (loopback, with no
X-Forwarded-For: a request relayed by the local nginx always has one). Anyone else gets
404, as for a page that does not exist.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import tempfile
import time

from django.conf import settings
from django.core.cache import caches
from django.core.signals import got_request_exception
from django.db import DatabaseError, connections
from django.dispatch import receiver
from django.http import Http404, HttpResponse, JsonResponse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger("ptsdinfo.health")

REPLICA = "replica"


def _may_see_readiness(request) -> bool:
    token = getattr(settings, "PTSDINFO_READYZ_TOKEN", "")
    sent = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        return True
    if "HTTP_X_FORWARDED_FOR" in request.META or "HTTP_FORWARDED" in request.META:
        return False
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}"[:300]


def check_database(alias: str = "default") -> dict:
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return {"ok": False, "error": _error(exc)}
    return {"ok": True}


def replica_lag_seconds(alias: str = REPLICA) -> float | None:
    """Seconds the replica's replay is behind: 0 when it has replayed all it received,
    otherwise the age of the last replayed transaction. None when not a standby."""
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT pg_is_in_recovery(),"
            " CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
            " ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)"
            " END"
        )
        in_recovery, lag = cursor.fetchone()
    return float(lag) if in_recovery else None


def check_replica() -> dict | None:
    if REPLICA not in connections.settings:
        return None
    result = check_database(REPLICA)
    if not result["ok"] or connections[REPLICA].vendor != "postgresql":
        return result
    try:
        lag = replica_lag_seconds()
    except DatabaseError as exc:
        return {"ok": False, "error": _error(exc)}
    if lag is None:
        return {"ok": False, "error": "not a standby (pg_is_in_recovery() is false)"}
    limit = settings.PTSDINFO_REPLICA_MAX_LAG_SECONDS
    result = {"ok": lag <= limit, "lag_seconds": round(lag, 3), "max_lag_seconds": limit}
    if not result["ok"]:
        result["error"] = f"replay {lag:.1f} s behind (limit {limit} s)"
    return result


def check_caches() -> dict:
    key = f"ptsdinfo:readyz:{os.getpid()}:{time.monotonic_ns()}"
    failing = {}
    for alias in settings.CACHES:
        cache = caches[alias]
        try:
            cache.set(key, "1", timeout=10)
            seen = cache.get(key)
            cache.delete(key)
        except Exception as exc:  # any backend's failure means "not ready"
            failing[alias] = _error(exc)
            continue
        if seen != "1":
            failing[alias] = "a value written could not be read back"
    backends = {
        alias: conf["BACKEND"].rsplit(".", 1)[-1] for alias, conf in settings.CACHES.items()
    }
    if failing:
        return {"ok": False, "backends": backends, "error": failing}
    return {"ok": True, "backends": backends}


def unapplied_migrations(alias: str = "default") -> list[str]:
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connections[alias])
    targets = executor.loader.graph.leaf_nodes()
    return [
        f"{migration.app_label}.{migration.name}"
        for migration, _ in executor.migration_plan(targets)
    ]


def check_migrations() -> dict:
    try:
        pending = unapplied_migrations()
    except DatabaseError as exc:
        return {"ok": False, "error": _error(exc)}
    if pending:
        return {
            "ok": False,
            "error": f"{len(pending)} migrations not applied: run `python manage.py migrate`",
            "unapplied": pending[:20],
        }
    return {"ok": True}


def check_media() -> dict:
    root = settings.MEDIA_ROOT
    try:
        os.makedirs(root, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=root, prefix=".readyz-", delete=True) as probe:
            probe.write(b"ok")
            probe.flush()
    except OSError as exc:
        return {"ok": False, "path": str(root), "error": _error(exc)}
    return {"ok": True, "path": str(root)}


def readiness() -> dict:
    checks = {"database": check_database()}
    replica = check_replica()
    if replica is not None:
        checks["replica"] = replica
    checks["cache"] = check_caches()
    checks["migrations"] = (
        check_migrations() if checks["database"]["ok"] else {"ok": False, "error": "no database"}
    )
    checks["media"] = check_media()
    failing = [name for name, result in checks.items() if not result["ok"]]
    return {"status": "fail" if failing else "ok", "failing": failing, "checks": checks}


@never_cache
@require_safe
def readyz(request):
    if not _may_see_readiness(request):
        raise Http404
    report = readiness()
    if report["failing"]:
        logger.warning("not ready: %s", ", ".join(report["failing"]))
    return JsonResponse(report, status=503 if report["failing"] else 200)


# --- before migrations ----------------------------------------------------------------


def migrations_pending_response() -> HttpResponse:
    response = HttpResponse(
        "ptsdinfo is installed but its database has not been set up yet.\n"
        "Operators: run `python manage.py migrate` (once per release), then reload.\n",
        status=503,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = "30"
    add_never_cache_headers(response)
    return response


def _migrations_pending() -> bool:
    try:
        return bool(unapplied_migrations())
    except DatabaseError:
        return False  # the database itself is down: DatabaseFaultMiddleware's 503


class MigrationsPendingMiddleware:
    """A database without the site's tables (a fresh container before `migrate`) gives
    a 503 that says to run the migrations, instead of "database unavailable" or a 500.
    Checked only when a request has already failed on the database."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code in (500, 503)
            and getattr(request, "_ptsdinfo_db_error", False)
            and _migrations_pending()
        ):
            return migrations_pending_response()
        return response

    def process_exception(self, request, exception):
        if isinstance(exception, DatabaseError):
            request._ptsdinfo_db_error = True
            if _migrations_pending():
                logger.error("database has unapplied migrations: %s", exception)
                return migrations_pending_response()
        return None


@receiver(got_request_exception, dispatch_uid="ptsdinfo-database-error")
def _mark_database_error(sender, request=None, **kwargs):
    import sys

    if request is not None and isinstance(sys.exc_info()[1], DatabaseError):
        request._ptsdinfo_db_error = True
