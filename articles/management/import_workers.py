"""The worker processes of `import_articles --workers`: spawned, so this module is
imported before Django is set up and imports nothing from Django at the top."""

from __future__ import annotations

from pathlib import Path


def worker_start(database_name: str, dry_run: bool) -> None:
    """In each spawned worker: Django, on the database the command runs on (a test
    database has another name than the settings give)."""
    import django

    django.setup()
    from django.db import connections
    from django.db.backends.signals import connection_created

    connections["default"].settings_dict["NAME"] = database_name
    if not dry_run:
        connection_created.connect(_commit_asynchronously, dispatch_uid="import_articles_worker")


def _commit_asynchronously(sender, connection, **kwargs):
    """Each file's transaction stays atomic; its commit no longer waits for the disk
    (the command waits once, before its report: `wal_flushed`)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO off")


def import_files(paths: list[str], user_pk: int | None, dry_run: bool) -> list[dict]:
    """Import some files in a worker process, one transaction each: a row for each file,
    never an exception (an unexpected one fails that file, named, and the others go on)."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from articles.management.commands.import_articles import failed_row, import_one

    user = get_user_model().objects.get(pk=user_pk) if user_pk else None
    rows = []
    for path in paths:
        try:
            rows.append(import_one(Path(path), user=user, dry_run=dry_run))
        except Exception as exc:
            rows.append(failed_row(path, f"unexpected {type(exc).__name__}: {exc}"))
            connection.close()  # the next file starts on a new connection
    return rows
