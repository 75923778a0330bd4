"""Logical backups: the editorial record as gzip-compressed JSON lines that restore
into an empty database of either engine, verified by row counts and content hashes.

What is kept: users (with password hashes), groups, staff profiles and second-factor
devices; topics, articles with their drafts (sections, claims, bibliographies), the
citation library, every article version and the whole review trail; plus every other
model of the articles app (security log, reminder log, ...). Sessions, the admin's
change log and login-throttling records are left out: they are disposable.

The file, one JSON document per line:
1. a header: format, version, when, which engine, and the applied migrations;
2. one line per row, in Django's serializer format (primary keys kept, groups and
   permissions by name), in an order that restores parents before children;
3. a manifest: the row count per model, every version's content hash and every
   draft's content hash. `backup_restore` checks all three after loading.

Rules enforced here:
- a restore goes only into an empty, fully migrated database of the same schema
  (the same applied migrations as the backup's), and it is all or nothing;
- a restore that does not verify (counts or hashes) is rolled back.
"""

from __future__ import annotations

import datetime
import decimal
import gzip
import json
import os
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import batched
from pathlib import Path

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core import serializers
from django.core.management.color import no_style
from django.core.serializers.base import DeserializationError
from django.db import DatabaseError, connection, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from articles.models import (
    Article,
    ArticleCitation,
    ArticleVersion,
    Citation,
    Claim,
    ClaimCitation,
    ReviewEvent,
    Section,
    StaffProfile,
    Topic,
)
from articles.services.snapshots import draft_hashes, snapshot_hash

FORMAT = "ptsdinfo-backup"
VERSION = 1
BATCH = 500
# Models of other apps worth keeping: second-factor devices, when installed.
OPTIONAL_MODELS = ("otp_totp.TOTPDevice", "otp_static.StaticDevice", "otp_static.StaticToken")
# Rows `migrate` itself creates, matched by natural key on restore.
CREATED_BY_MIGRATE = {"auth.group"}

Progress = Callable[[str, int, int | None], None]


class BackupError(Exception):
    """A backup that cannot be written or restored; the message says why."""


def _no_progress(label: str, done: int, total: int | None = None) -> None:
    return None


def backup_models() -> list[type]:
    """Every model a backup holds, parents before children."""
    ordered = [
        Group,
        get_user_model(),
        StaffProfile,
        Topic,
        Citation,
        Article,
        Section,
        Claim,
        ArticleCitation,
        ClaimCitation,
        ArticleVersion,
        ReviewEvent,
    ]
    others = [m for m in apps.get_app_config("articles").get_models() if m not in ordered]
    optional = []
    for label in OPTIONAL_MODELS:
        try:
            optional.append(apps.get_model(label))
        except LookupError:
            continue
    return [*ordered, *others, *optional]


def _label(model) -> str:
    return model._meta.label_lower


def _natural(model) -> dict:
    """Groups travel by name (migrate creates them); users name their groups and
    permissions by natural key, since those primary keys differ between databases."""
    if model is Group:
        return {"use_natural_foreign_keys": True, "use_natural_primary_keys": True}
    if model is get_user_model():
        return {"use_natural_foreign_keys": True, "use_natural_primary_keys": False}
    return {}


def _encode(value):
    """JSON for what the serializer leaves as objects; datetimes keep their microseconds
    (DjangoJSONEncoder would round them to milliseconds)."""
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in a backup")


def _dumps(data) -> str:
    return json.dumps(data, default=_encode, ensure_ascii=False, separators=(",", ":"))


def migration_state(apps_labels: set[str]) -> dict[str, list[str]]:
    applied = MigrationRecorder(connection).applied_migrations()
    return {app: sorted(n for a, n in applied if a == app) for app in sorted(apps_labels)}


def _app_labels(models) -> set[str]:
    return {m._meta.app_label for m in models} | {"contenttypes"}


def backup_manifest(models) -> dict:
    """Counts per model and the content hash of every version and every draft."""
    versions = ArticleVersion.objects.select_related("article").order_by("article__slug", "number")
    return {
        "counts": {_label(m): m._default_manager.count() for m in models},
        "versions": [
            {"article": v.article.slug, "number": v.number, "content_hash": v.content_hash}
            for v in versions.only("number", "content_hash", "article__slug")
        ],
        "drafts": {
            a.slug: content_hash
            for a, content_hash in draft_hashes(Article.objects.order_by("slug").iterator())
        },
    }


@dataclass
class BackupResult:
    path: str
    counts: dict[str, int]
    versions: int
    bytes: int

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def backup_write(*, path: str | Path, overwrite: bool = False, progress: Progress = _no_progress):
    """Write a backup of the whole database to `path` (gzip). The rows and the manifest
    come from one consistent snapshot of the database. The file is readable by its
    owner only (it holds password hashes) and appears only once complete."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise BackupError(f"{path} already exists; choose another name or pass --force")
    models = backup_models()
    partial = path.with_name(path.name + ".partial")
    try:
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as exc:
        raise BackupError(f"cannot write {partial}: {exc.strerror}") from exc
    try:
        with (
            os.fdopen(descriptor, "wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as zipped,
            _snapshot(),
        ):
            manifest = backup_manifest(models)
            header = {
                "format": FORMAT,
                "version": VERSION,
                "created_at": timezone.now().isoformat(),
                "engine": connection.vendor,
                "migrations": migration_state(_app_labels(models)),
            }
            zipped.write((_dumps(header) + "\n").encode())
            total, done = sum(manifest["counts"].values()), 0
            for model in models:
                rows = model._default_manager.order_by("pk").iterator(chunk_size=BATCH)
                for chunk in batched(rows, BATCH):
                    for row in serializers.serialize("python", chunk, **_natural(model)):
                        zipped.write((_dumps(row) + "\n").encode())
                    done += len(chunk)
                    progress("Writing backup", done, total)
            zipped.write((_dumps({"manifest": manifest}) + "\n").encode())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return BackupResult(
        path=str(path),
        counts=manifest["counts"],
        versions=len(manifest["versions"]),
        bytes=path.stat().st_size,
    )


@contextmanager
def _snapshot():
    """One transaction for the whole dump; on PostgreSQL a REPEATABLE READ snapshot, so
    rows and manifest agree even while editors keep working."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield


# --- restore ---------------------------------------------------------------------------------


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        with gzip.open(path, "rt", encoding="utf-8") as text:
            yield from enumerate(text, start=1)
    except FileNotFoundError as exc:
        raise BackupError(f"{path}: no such file") from exc
    except OSError as exc:  # gzip.BadGzipFile is an OSError
        raise BackupError(f"{path}: not a readable backup ({exc})") from exc
    except (EOFError, zlib.error) as exc:
        raise BackupError(f"{path}: the backup is truncated or damaged ({exc})") from exc
    except UnicodeDecodeError as exc:
        raise BackupError(f"{path}: the backup is damaged (not UTF-8 text)") from exc


def _parse(path: Path, number: int, line: str) -> dict:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BackupError(f"{path}:{number}: damaged line ({exc.msg})") from exc
    if not isinstance(data, dict):
        raise BackupError(f"{path}:{number}: damaged line (not a JSON object)")
    return data


def backup_read_header(path: str | Path) -> tuple[dict, dict, int]:
    """(header, manifest, number of lines), having read the whole file once: a file
    that is not a complete ptsdinfo backup is refused before anything is written."""
    path = Path(path)
    header = manifest = None
    last = (0, "")
    for number, line in _lines(path):
        if number == 1:
            header = _parse(path, number, line)
        last = (number, line)
    if header is None or header.get("format") != FORMAT:
        raise BackupError(f"{path}: not a ptsdinfo backup")
    if header.get("version") != VERSION:
        raise BackupError(
            f"{path}: backup format version {header.get('version')}; this release reads {VERSION}"
        )
    manifest = _parse(path, *last).get("manifest") if last[0] > 1 else None
    if not isinstance(manifest, dict):
        raise BackupError(f"{path}: the backup is incomplete (no manifest at the end)")
    return header, manifest, last[0]


def database_contents(models) -> dict[str, int]:
    """Rows already in the tables a restore writes (those `migrate` creates aside)."""
    counts = {}
    for model in models:
        if _label(model) in CREATED_BY_MIGRATE:
            continue
        if count := model._default_manager.count():
            counts[_label(model)] = count
    return counts


@dataclass
class RestoreReport:
    path: str
    source_engine: str
    counts: dict[str, int] = field(default_factory=dict)
    versions_verified: int = 0
    drafts_verified: int = 0
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return self.__dict__.copy()


class RestoreVerificationError(BackupError):
    def __init__(self, report: RestoreReport):
        self.report = report
        super().__init__(
            "the restored data did not verify, so nothing was kept:\n"
            + "\n".join(f"- {p}" for p in report.problems)
        )


def backup_restore(*, path: str | Path, progress: Progress = _no_progress) -> RestoreReport:
    """Load a backup into this (empty, migrated) database, then verify it: row counts,
    every version's stored and recomputed content hash, every draft's content hash.
    All in one transaction: any error or failed check leaves the database as it was."""
    path = Path(path)
    header, manifest, lines = backup_read_header(path)
    models = backup_models()
    by_label = {_label(m): m for m in models}
    unknown = sorted(set(manifest.get("counts", {})) - set(by_label))
    if unknown:
        raise BackupError(f"{path}: holds tables this release does not know: {', '.join(unknown)}")
    here = migration_state(set(header.get("migrations", {})))
    if here != header.get("migrations"):
        differing = sorted(
            app for app in here if here[app] != header.get("migrations", {}).get(app)
        )
        raise BackupError(
            f"the backup was made with other migrations applied ({', '.join(differing)}); "
            "migrate this database with the release that made the backup, then restore"
        )
    if present := database_contents(models):
        rows = ", ".join(f"{n} {label}" for label, n in present.items())
        raise BackupError(
            f"refusing to restore into a database that is not empty (it has {rows}); "
            "restore into a freshly migrated, empty database"
        )

    report = RestoreReport(path=str(path), source_engine=header.get("engine", ""))
    with transaction.atomic():
        batch: list[dict] = []
        done = 0
        for number, line in _lines(path):
            if number == 1 or number == lines:
                continue
            row = _parse(path, number, line)
            if batch and row.get("model") != batch[0].get("model"):
                _load(path, batch, by_label)
                batch = []
            batch.append(row)
            if len(batch) >= BATCH:
                _load(path, batch, by_label)
                batch = []
            done += 1
            progress("Restoring", done, lines - 2)
        if batch:
            _load(path, batch, by_label)
        _reset_sequences(models)
        try:
            connection.check_constraints()
        except DatabaseError as exc:
            raise BackupError(f"{path}: the rows do not fit together: {exc}") from exc
        backup_verify(manifest=manifest, report=report, models=models)
        if report.problems:
            raise RestoreVerificationError(report)
    return report


def _load(path: Path, rows: list[dict], by_label: dict) -> None:
    label = str(rows[0].get("model", "")).lower()
    model = by_label.get(label)
    if model is None:
        raise BackupError(f"{path}: rows for unknown table {label!r}")
    try:
        objects = list(serializers.deserialize("python", rows, handle_forward_references=False))
        if label in CREATED_BY_MIGRATE:
            for obj in objects:
                obj.save()  # matched to the existing row by natural key, else inserted
        else:
            _insert_as_stored(model, objects)
    except (DeserializationError, DatabaseError) as exc:
        raise BackupError(f"{path}: cannot restore {label}: {exc}") from exc


def _insert_as_stored(model, objects) -> None:
    """INSERT the deserialized rows as they were stored (the audit triggers allow
    inserts), a multi-row statement at a time, with their many-to-many links.

    What `obj.save(force_insert=True)` does for one row, the way Django's own raw save
    does it (`Model._do_insert` with raw=True: no `auto_now` or other pre-save change,
    no signals; this project has no receivers of them): one INSERT per row was 4.2
    million statements for a 100,000-article library (docs/performance.md)."""
    if not objects:
        return
    rows = [obj.object for obj in objects]
    fields = [column for column in model._meta.local_concrete_fields if not column.generated]
    size = max(1, connection.ops.bulk_batch_size(fields, rows))
    for chunk in batched(rows, size):
        model._base_manager._insert(list(chunk), fields=fields, raw=True)
    for relation in model._meta.many_to_many:
        through = relation.remote_field.through
        if not through._meta.auto_created:
            continue  # a model of its own (ClaimCitation): restored from its own rows
        source, target = relation.m2m_column_name(), relation.m2m_reverse_name()
        links = [
            through(**{source: obj.object.pk, target: pk})
            for obj in objects
            for pk in obj.m2m_data.get(relation.name, [])
        ]
        through._base_manager.bulk_create(links, batch_size=BATCH)


def _reset_sequences(models) -> None:
    """PostgreSQL's id sequences must continue after the restored ids; SQLite's do."""
    statements = connection.ops.sequence_reset_sql(no_style(), models)
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def backup_verify(*, manifest: dict, report: RestoreReport, models) -> RestoreReport:
    """Compare the database with a backup's manifest; problems go into the report."""
    by_label = {_label(m): m for m in models}
    for label, expected in sorted(manifest.get("counts", {}).items()):
        actual = by_label[label]._default_manager.count()
        report.counts[label] = actual
        if label in CREATED_BY_MIGRATE:
            if actual < expected:
                report.problems.append(f"{label}: {actual} rows, the backup had {expected}")
        elif actual != expected:
            report.problems.append(f"{label}: {actual} rows, the backup had {expected}")
    # Each version's snapshot is re-hashed as it is read, a chunk at a time: holding
    # every snapshot at once made memory grow with the library (647 MiB at 10,000
    # articles; docs/performance.md, "100,000 articles").
    stored = {
        (slug, number): (content_hash, snapshot_hash(snapshot) == content_hash)
        for slug, number, content_hash, snapshot in ArticleVersion.objects.values_list(
            "article__slug", "number", "content_hash", "snapshot"
        )
        .order_by("pk")
        .iterator(chunk_size=BATCH)
    }
    for entry in manifest.get("versions", []):
        where = f"{entry['article']} v{entry['number']}"
        content_hash, rehashes = stored.get((entry["article"], entry["number"]), (None, None))
        if content_hash != entry["content_hash"]:
            report.problems.append(
                f"{where}: content hash {content_hash}, expected {entry['content_hash']}"
            )
        elif not rehashes:
            report.problems.append(f"{where}: its snapshot no longer hashes to its content hash")
        else:
            report.versions_verified += 1
    drafts = manifest.get("drafts", {})
    articles = Article.objects.filter(slug__in=list(drafts)).order_by("slug").iterator()
    for article, content_hash in draft_hashes(articles):
        if content_hash == drafts[article.slug]:
            report.drafts_verified += 1
        else:
            report.problems.append(f"{article.slug}: the draft's content hash differs")
    missing = set(drafts) - set(Article.objects.values_list("slug", flat=True))
    report.problems.extend(f"{slug}: missing" for slug in sorted(missing))
    return report
