"""Send public reads to a PostgreSQL read replica; everything else to the primary.

Wired in settings only when `DATABASE_REPLICA_URL` is set (alias "replica"):

- `public_reads_middleware` marks a request as a *public read* when it is a GET or
  HEAD, carries no session cookie (staff and every signed-in user have one) and is not
  for the admin or the staff-only editor endpoints;
- `PrimaryReplicaRouter` sends the reads of a public read to "replica". Every write,
  every read of any other request (admin, staff, POST, a signed-in reader), and every
  read outside a request (management commands, cron, the shell) goes to "default".

The default is the primary: a read only goes to the replica when the middleware has
said so for the request in hand, so forgetting to mark something costs load, never
correctness. Public views never write (docs/deployment.md: replication lag).

Two guards keep a replica from costing readers anything (issue 15):

- **Down.** A replica that cannot be connected to is skipped for
  `REPLICA_RETRY_SECONDS`: public reads go to the primary meanwhile (no 503s).
- **Behind.** Every publication records the primary's WAL position after its commit
  (`note_publication`, called by the invalidation in publicsite/caching.py). A public
  read goes to the replica only when the replica has replayed at least that far;
  otherwise to the primary. So once a publish has invalidated the caches, no page is
  rendered from data older than it: a reader never sees an older version than one
  already shown, and no stale page is stored under the new publication generation.
  The check is one `pg_last_wal_replay_lsn()` query on the first read of a request
  (cached pages read nothing and cost nothing).
"""

from __future__ import annotations

import logging
import time
from contextvars import ContextVar

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connections

logger = logging.getLogger(__name__)

PRIMARY = "default"
REPLICA = "replica"

# Paths whose reads must see the primary even for a GET without a session: the
# sign-in pages (a failed login reads the throttling tables axes just wrote) and the
# staff-only editor endpoints.
STAFF_PATH_PREFIXES = ("/admin/", "/editor/")

_public_read: ContextVar[bool] = ContextVar("ptsdinfo_public_read", default=False)
# Per request: None until the first read decides whether the replica is current.
_replica_current: ContextVar[bool | None] = ContextVar("ptsdinfo_replica_current", default=None)
REPLICA_RETRY_SECONDS = 5.0
PUBLICATION_LSN_KEY = "ptsdinfo:publication-lsn"
_replica_down_until = 0.0


def is_public_read(request) -> bool:
    return (
        request.method in ("GET", "HEAD")
        and settings.SESSION_COOKIE_NAME not in request.COOKIES
        and not request.path_info.startswith(STAFF_PATH_PREFIXES)
    )


def public_reads_middleware(get_response):
    """Mark public reads for the router; outermost, so every query in the request sees it."""

    def middleware(request):
        token = _public_read.set(is_public_read(request) and replica_reachable())
        current = _replica_current.set(None)
        try:
            return get_response(request)
        finally:
            _replica_current.reset(current)
            _public_read.reset(token)

    return middleware


class PrimaryReplicaRouter:
    """Reads of public requests go to the replica (when configured); all else to the primary."""

    def db_for_read(self, model, **hints):
        if _public_read.get() and REPLICA in connections.settings and replica_is_current():
            return REPLICA
        return PRIMARY

    def db_for_write(self, model, **hints):
        return PRIMARY

    def allow_relation(self, obj1, obj2, **hints):
        # The replica is a copy of the primary: objects from either may be related.
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        # Migrations run on the primary only; the replica receives them by replication.
        return db == PRIMARY


# --- the two guards ---------------------------------------------------------------------


def replica_reachable() -> bool:
    """False while the replica cannot be connected to (checked again after
    REPLICA_RETRY_SECONDS). An open connection is health-checked once per request."""
    global _replica_down_until
    if REPLICA not in connections.settings:
        return False
    if time.monotonic() < _replica_down_until:
        return False
    replica = connections[REPLICA]
    try:
        replica.close_if_health_check_failed()
        replica.ensure_connection()
    except (OperationalError, InterfaceError) as error:
        _replica_down_until = time.monotonic() + REPLICA_RETRY_SECONDS
        logger.warning("replica unreachable, public reads use the primary: %s", error)
        return False
    return True


def _publication_cache():
    from django.core.cache import caches

    return caches["publication" if "publication" in settings.CACHES else "default"]


def note_publication() -> None:
    """After a publication has committed: remember the primary's WAL position, which a
    replica must have replayed before it serves public reads again."""
    if REPLICA not in connections.settings or connections[PRIMARY].vendor != "postgresql":
        return
    with connections[PRIMARY].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        (lsn,) = cursor.fetchone()
    _publication_cache().set(PUBLICATION_LSN_KEY, lsn, timeout=None)


def replica_is_current() -> bool:
    decided = _replica_current.get()
    if decided is None:
        decided = _replica_has_replayed_last_publication()
        _replica_current.set(decided)
    return decided


def _replica_has_replayed_last_publication() -> bool:
    replica = connections[REPLICA]
    if replica.vendor != "postgresql":
        return True
    try:
        lsn = _publication_cache().get(PUBLICATION_LSN_KEY)
    except Exception as error:  # any cache failure: read from the primary
        logger.warning("publication position unknown (%s): reading from the primary", error)
        return False
    if lsn is None:
        return True  # nothing published since the cache started; the replica is a copy
    try:
        with replica.cursor() as cursor:
            cursor.execute(
                "SELECT pg_last_wal_replay_lsn() IS NULL OR pg_last_wal_replay_lsn() >= %s::pg_lsn",
                [lsn],
            )
            (current,) = cursor.fetchone()
    except DatabaseError as error:
        logger.warning("replica position unknown (%s): reading from the primary", error)
        return False
    return bool(current)
