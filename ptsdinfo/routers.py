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
"""

from __future__ import annotations

from contextvars import ContextVar

from django.conf import settings
from django.db import connections

PRIMARY = "default"
REPLICA = "replica"

# Paths whose reads must see the primary even for a GET without a session: the
# sign-in pages (a failed login reads the throttling tables axes just wrote) and the
# staff-only editor endpoints.
STAFF_PATH_PREFIXES = ("/admin/", "/editor/")

_public_read: ContextVar[bool] = ContextVar("ptsdinfo_public_read", default=False)


def is_public_read(request) -> bool:
    return (
        request.method in ("GET", "HEAD")
        and settings.SESSION_COOKIE_NAME not in request.COOKIES
        and not request.path_info.startswith(STAFF_PATH_PREFIXES)
    )


def public_reads_middleware(get_response):
    """Mark public reads for the router; outermost, so every query in the request sees it."""

    def middleware(request):
        token = _public_read.set(is_public_read(request))
        try:
            return get_response(request)
        finally:
            _public_read.reset(token)

    return middleware


class PrimaryReplicaRouter:
    """Reads of public requests go to the replica (when configured); all else to the primary."""

    def db_for_read(self, model, **hints):
        if _public_read.get() and REPLICA in connections.settings:
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
