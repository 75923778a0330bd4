import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, IntegrityError, OperationalError, connection, connections
from django.db.transaction import atomic

from articles.articlefile import ArticleFileError, read_article_file
from articles.management import import_workers
from articles.management.progress import Progress
from articles.management.statistics import analyze_draft_tables, analyze_points
from articles.management.users import user_by_name
from articles.services.drafts import DraftConflictError, ImportResult, article_import

OUTCOMES = ("created", "updated", "unchanged", "failed")
MAX_WORKERS = 4
CHUNK = 20  # files a worker imports per task: the progress line moves per chunk
# A file's transaction is tried again (from the start) when it lost a race with a parallel
# import: a deadlock, a serialization failure, or a unique key the other one just took
# (e.g. two files with the same slug). Other failures fail the file at once.
RETRIED_SQLSTATES = {"40P01", "40001", "23505"}
ATTEMPTS = 3


class DryRun(Exception):
    """Rolls back one validated import."""

    def __init__(self, result: ImportResult):
        self.result = result


class Command(BaseCommand):
    help = (
        "Import every article file (*.md, spec/article-format.md) in DIR, as written by "
        "export_articles: one transaction per article, so one bad file leaves the others "
        "imported. Prints what was created, updated, unchanged or failed (each failure "
        "as FILE:LINE: problem) and exits 1 if any failed. On PostgreSQL the files are "
        "imported by several processes at once (--workers)."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", metavar="DIR")
        parser.add_argument("--user", help="username recorded as the editor of the drafts")
        parser.add_argument(
            "--dry-run", action="store_true", help="validate every file, write nothing"
        )
        parser.add_argument("--json", action="store_true", help="machine-readable output")
        parser.add_argument(
            "--workers",
            type=int,
            default=0,
            help=f"importing processes on PostgreSQL (default: one per CPU, at most "
            f"{MAX_WORKERS}); always 1 on SQLite",
        )

    def handle(self, *args, directory, user=None, dry_run=False, workers=0, **options):
        folder = Path(directory)
        if not folder.is_dir():
            raise CommandError(f"{directory} is not a directory")
        files = sorted(path for path in folder.glob("*.md") if path.is_file())
        if not files:
            raise CommandError(f"{directory} has no article files (*.md)")
        if workers < 0:
            raise CommandError("--workers must be 0 (one per CPU) or more")
        editor = user_by_name(user)
        workers = workers_wanted(workers, len(files))

        progress = Progress(self.stderr)
        analyze_at = set() if dry_run else analyze_points(len(files))
        try:
            if workers == 1:
                rows = _import_serially(files, editor, dry_run, progress, analyze_at)
            else:
                rows = _import_in_parallel(files, editor, dry_run, progress, analyze_at, workers)
            progress("Importing articles", len(files), len(files))
        finally:
            progress.close()
        if analyze_at:
            analyze_draft_tables()  # for whatever reads the library next
        if not dry_run and connection.vendor == "postgresql" and not connection.in_atomic_block:
            wal_flushed()  # what the report calls imported is on disk

        counts = {outcome: sum(r["outcome"] == outcome for r in rows) for outcome in OUTCOMES}
        if options["json"]:
            report = {
                "directory": str(folder),
                "dry_run": dry_run,
                "workers": workers,
                **counts,
                "articles": rows,
            }
            self.stdout.write(json.dumps(report, indent=2))
        else:
            for row in rows:
                if row["outcome"] == "failed":
                    self.stderr.write(f"FAILED {row['error']}")
                else:
                    self.stdout.write(
                        f"{row['outcome']:9} {row['slug']} (draft {row['content_hash'][:12]})"
                    )
            summary = ", ".join(f"{counts[o]} {o}" for o in OUTCOMES)
            self.stdout.write(f"{summary}{' (dry run: nothing written)' if dry_run else ''}")
        if counts["failed"]:
            raise CommandError(f"{counts['failed']} of {len(files)} article files failed")


def workers_wanted(wanted: int, files: int) -> int:
    """How many processes import: 1 on SQLite (one writer at a time, and an in-memory
    database is not shared) and inside a transaction (other processes would not see what
    it wrote so far, nor could it roll theirs back), and never more than there are
    chunks of files."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return 1
    if not wanted:
        cpus = os.process_cpu_count() if hasattr(os, "process_cpu_count") else os.cpu_count()
        wanted = min(MAX_WORKERS, cpus or 1)
    return max(1, min(wanted, -(-files // CHUNK)))


def _import_serially(files, editor, dry_run, progress, analyze_at) -> list[dict]:
    rows = []
    with asynchronous_commits(enabled=not dry_run):
        for done, path in enumerate(files):
            progress("Importing articles", done, len(files))
            if done in analyze_at:
                analyze_draft_tables()  # the planner sees the rows imported so far
            rows.append(import_one(path, user=editor, dry_run=dry_run))
    return rows


def _import_in_parallel(files, editor, dry_run, progress, analyze_at, workers) -> list[dict]:
    """Chunks of files go to `workers` spawned processes, each with its own connection;
    the rows come back in file order, as a serial import gives them."""
    rows: list[dict | None] = [None] * len(files)
    chunks = [
        list(range(start, min(start + CHUNK, len(files)))) for start in range(0, len(files), CHUNK)
    ]
    done = 0
    progress("Importing articles", 0, len(files))
    # Spawned (not forked) workers never share this process's database socket.
    connections.close_all()
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=get_context("spawn"),
        initializer=import_workers.worker_start,
        initargs=(connection.settings_dict["NAME"], dry_run),
    ) as pool:
        tasks = {
            pool.submit(
                import_workers.import_files,
                [str(files[i]) for i in chunk],
                editor and editor.pk,
                dry_run,
            ): chunk
            for chunk in chunks
        }
        for task in as_completed(tasks):
            chunk = tasks[task]
            try:
                results = task.result()
            except Exception as exc:  # the worker process died (killed, out of memory)
                results = [
                    failed_row(files[i], f"the import process stopped ({exc!r}); this file may "
                            "or may not have been imported: run the import again")
                    for i in chunk
                ]  # fmt: skip
            for i, row in zip(chunk, results, strict=True):
                rows[i] = row
            before, done = done, done + len(chunk)
            progress("Importing articles", done, len(files))
            if any(before < at <= done for at in analyze_at):
                analyze_draft_tables()  # the planner sees the rows imported so far
    return rows


def failed_row(path, message: str) -> dict:
    return {"file": str(path), "outcome": "failed", "line": None, "error": f"{path}: {message}"}


class asynchronous_commits:
    """On PostgreSQL, this connection's commits stop waiting for the disk (the files'
    transactions stay atomic; a server crash may lose the last ones, as if the import had
    stopped before them). `wal_flushed()` waits for the disk before the report."""

    def __init__(self, *, enabled: bool):
        # Inside a caller's transaction nothing commits here: its own commit decides.
        self.enabled = (
            enabled and connection.vendor == "postgresql" and not connection.in_atomic_block
        )

    def __enter__(self):
        if self.enabled:
            with connection.cursor() as cursor:
                cursor.execute("SET synchronous_commit TO off")

    def __exit__(self, *exc):
        if self.enabled and connection.connection is not None:
            with connection.cursor() as cursor:
                cursor.execute("RESET synchronous_commit")


def wal_flushed(timeout: float = 10.0) -> None:
    """Wait until PostgreSQL has written to disk every commit made so far (with
    synchronous_commit off, its WAL writer does so within three `wal_writer_delay`s,
    600 ms by default; the timeout only keeps a stalled server from hanging here)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_insert_lsn()")
        (written,) = cursor.fetchone()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            cursor.execute("SELECT pg_current_wal_flush_lsn() >= %s::pg_lsn", [written])
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)


def import_one(path: Path, *, user, dry_run: bool) -> dict:
    """Import one file in its own transaction; a failure is reported, never raised."""
    row = {"file": str(path)}
    try:
        source = read_article_file(path)
        for attempt in range(1, ATTEMPTS + 1):
            try:
                result = _import_source(source, user=user, dry_run=dry_run)
                break
            except (IntegrityError, OperationalError) as exc:
                if attempt == ATTEMPTS or _sqlstate(exc) not in RETRIED_SQLSTATES:
                    raise
    except ArticleFileError as exc:
        return row | {"outcome": "failed", "line": exc.line, "error": str(exc)}
    except (DraftConflictError, ValidationError, DatabaseError) as exc:
        message = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        return row | {"outcome": "failed", "line": None, "error": f"{path}: {message}"}
    return row | {
        "outcome": result.outcome,
        "slug": result.article.slug,
        "content_hash": result.content_hash,
    }


def _import_source(source, *, user, dry_run: bool) -> ImportResult:
    if dry_run:
        try:
            with atomic():
                raise DryRun(article_import(source=source, user=user))
        except DryRun as dry:
            return dry.result
    # article_import is atomic itself: this file's transaction, no savepoint inside.
    return article_import(source=source, user=user)


def _sqlstate(exc: Exception) -> str | None:
    return getattr(exc.__cause__, "sqlstate", None)
