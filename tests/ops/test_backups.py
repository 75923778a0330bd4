import gzip
import json
import os
import sqlite3
import stat
import subprocess
import sys
import uuid
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from articles.models import ArticleVersion, ReviewEvent
from tests.factories import import_article, publish, write_article

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
# Run by a fresh database: restore the backup, then print what the restored database
# holds, to compare with the original row for row.
RESTORE_AND_FINGERPRINT = """
import io, json
from django.core.management import call_command
from tests.ops.test_backups import fingerprint
out = io.StringIO()
call_command("restore", {path!r}, "--json", stdout=out)
print(json.dumps({{"restore": json.loads(out.getvalue()), "fingerprint": fingerprint()}}))
"""


def fingerprint() -> dict:
    """What a database holds, comparable between two databases: the review trail, users
    with their password hashes and groups, the live pages, and every field of every
    row a backup holds (timestamps to the microsecond; groups, which `migrate` creates
    with its own keys, by name)."""
    from django.contrib.auth.models import Group, User
    from django.core import serializers

    from articles.models import Article
    from ops.backups import backup_models

    rows = {
        model._meta.label_lower: serializers.serialize(
            "python", model._default_manager.order_by("pk"), use_natural_foreign_keys=True
        )
        for model in backup_models()
        if model is not Group
    }
    return json.loads(
        json.dumps(
            {
                "events": [
                    [e.created_at.isoformat(), e.kind, e.to_state, e.actor_id, e.content_hash]
                    for e in ReviewEvent.objects.order_by("pk")
                ],
                "users": [
                    [u.username, u.password, sorted(u.groups.values_list("name", flat=True))]
                    for u in User.objects.order_by("pk")
                ],
                "live": {
                    a.slug: [a.status, a.live_version.content_hash] for a in Article.objects.live()
                },
                "rows": rows,
            },
            default=str,
        )
    )


def manage(*args, database_url: str, check=True) -> subprocess.CompletedProcess:
    """manage.py in a separate process against another database: the pytest database
    can never be emptied (its review trail is append-only by trigger)."""
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_REPLICA_URL"}
    env["DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=check,
    )


def restore_elsewhere(path: Path, database_url: str) -> tuple[dict, dict]:
    """(restore's --json report, fingerprint of the restored database), in one process."""
    script = RESTORE_AND_FINGERPRINT.format(path=str(path))
    out = manage("shell", "-v", "0", "-c", script, database_url=database_url).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return result["restore"], result["fingerprint"]


@pytest.fixture(scope="module")
def migrated_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "migrated.sqlite3"
    manage("migrate", "--noinput", "-v0", database_url=f"sqlite:///{path}")
    return path


@pytest.fixture
def empty_sqlite(migrated_template, tmp_path) -> str:
    """The URL of a freshly migrated, empty SQLite database (migrated once, copied)."""
    path = tmp_path / "empty.sqlite3"
    with sqlite3.connect(migrated_template) as source, sqlite3.connect(path) as target:
        source.backup(target)
    return f"sqlite:///{path}"


@pytest.fixture
def backup_file(tmp_path) -> Path:
    """A backup of the demo site."""
    call_command("load_demo", stdout=StringIO())
    path = tmp_path / "site.jsonl.gz"
    call_command("backup", str(path), stdout=StringIO())
    return path


@pytest.fixture
def small_backup(tmp_path) -> Path:
    """A backup of one published article: quicker to make than the demo's."""
    publish(import_article(write_article(tmp_path / "article")).article)
    path = tmp_path / "small.jsonl.gz"
    call_command("backup", str(path), stdout=StringIO())
    return path


def manifest_of(path: Path) -> dict:
    with gzip.open(path, "rt") as lines:
        return json.loads(lines.readlines()[-1])["manifest"]


def assert_restored(report: dict, backup_file: Path):
    manifest = manifest_of(backup_file)
    assert report["problems"] == []
    assert report["counts"] == manifest["counts"]
    # 2 per demo article, and the English update of what-is-ptsd after its translation.
    assert report["versions_verified"] == len(manifest["versions"]) == 7
    assert report["drafts_verified"] == len(manifest["drafts"]) == 3
    assert {(v["article"], v["content_hash"]) for v in manifest["versions"]} == set(
        ArticleVersion.objects.values_list("article__slug", "content_hash")
    )
    assert manifest["counts"]["articles.reviewevent"] == ReviewEvent.objects.count()


def test_backup_restores_into_an_empty_sqlite_database_with_equal_counts_and_hashes(
    backup_file, empty_sqlite
):
    report, restored = restore_elsewhere(backup_file, empty_sqlite)

    assert_restored(report, backup_file)
    assert restored == fingerprint()  # timestamps to the microsecond, password hashes, groups


@pytest.mark.postgres
def test_backup_restores_into_a_fresh_postgresql_database_with_equal_counts_and_hashes(
    backup_file,
):
    import psycopg

    server = connection.settings_dict
    name = f"ptsdinfo_restore_{uuid.uuid4().hex[:12]}"
    login = server["USER"] + (f":{server['PASSWORD']}" if server["PASSWORD"] else "")
    address = f"{server['HOST'] or '127.0.0.1'}:{server['PORT'] or 5432}"
    admin = psycopg.connect(f"postgresql://{login}@{address}/postgres", autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgres://{login}@{address}/{name}"
    try:
        manage("migrate", "--noinput", "-v0", database_url=url)

        report, restored = restore_elsewhere(backup_file, url)

        assert_restored(report, backup_file)
        assert restored == fingerprint()
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_restore_that_does_not_verify_keeps_nothing(small_backup, empty_sqlite, tmp_path):
    with gzip.open(small_backup, "rt") as source:
        lines = source.readlines()
    manifest = json.loads(lines[-1])
    manifest["manifest"]["versions"][0]["content_hash"] = "0" * 64
    tampered = tmp_path / "tampered.jsonl.gz"
    with gzip.open(tampered, "wt") as target:
        target.writelines([*lines[:-1], json.dumps(manifest) + "\n"])

    refused = manage("restore", str(tampered), database_url=empty_sqlite, check=False)

    assert refused.returncode == 1
    assert "did not verify, so nothing was kept" in refused.stderr
    assert "content hash" in refused.stderr
    with sqlite3.connect(empty_sqlite.removeprefix("sqlite:///")) as database:
        for table in ("auth_user", "articles_article", "articles_reviewevent"):
            assert database.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)


def test_restore_rehashes_each_version_snapshot_it_loads(small_backup, empty_sqlite, tmp_path):
    # A version row whose snapshot was changed in the file, its stored hash and the
    # manifest left alone: only re-hashing the loaded snapshot can notice.
    with gzip.open(small_backup, "rt") as source:
        lines = source.readlines()
    for index, line in enumerate(lines):
        row = json.loads(line)
        if row.get("model") == "articles.articleversion":
            row["fields"]["snapshot"]["title"] += " (changed)"
            lines[index] = json.dumps(row) + "\n"
            break
    else:
        raise AssertionError("no version in the backup")
    tampered = tmp_path / "tampered-snapshot.jsonl.gz"
    with gzip.open(tampered, "wt") as target:
        target.writelines(lines)

    refused = manage("restore", str(tampered), database_url=empty_sqlite, check=False)

    assert refused.returncode == 1
    assert "its snapshot no longer hashes to its content hash" in refused.stderr


def test_restore_refuses_a_database_that_already_has_content(small_backup):
    with pytest.raises(CommandError, match="refusing to restore into a database that is not empty"):
        call_command("restore", str(small_backup))


def test_restore_refuses_damaged_or_foreign_files(small_backup, tmp_path):
    truncated = tmp_path / "truncated.gz"
    truncated.write_bytes(small_backup.read_bytes()[:-200])
    foreign = tmp_path / "foreign.gz"
    with gzip.open(foreign, "wt") as out:
        out.write('{"something": "else"}\n')
    no_manifest = tmp_path / "no-manifest.gz"
    with gzip.open(small_backup, "rt") as source, gzip.open(no_manifest, "wt") as out:
        out.writelines(source.readlines()[:-1])

    for path, message in (
        (truncated, "truncated or damaged"),
        (foreign, "not a ptsdinfo backup"),
        (no_manifest, "incomplete"),
        (tmp_path / "missing.gz", "no such file"),
        (Path(__file__), "not a readable backup"),
    ):
        with pytest.raises(CommandError, match=message):
            call_command("restore", str(path))


def test_backup_is_readable_by_its_owner_only_and_never_overwritten_by_accident(small_backup):
    assert stat.S_IMODE(small_backup.stat().st_mode) == 0o600
    with pytest.raises(CommandError, match="already exists"):
        call_command("backup", str(small_backup))
    out = StringIO()

    call_command("backup", str(small_backup), "--force", "--json", stdout=out)

    assert json.loads(out.getvalue())["versions"] == 1
    assert not small_backup.with_name(small_backup.name + ".partial").exists()


def test_a_published_translation_survives_backup_and_restore(tmp_path, empty_sqlite):
    from articles.models import StaffProfile
    from editorial.services import translations
    from tests.factories import make_team

    team = make_team()
    StaffProfile.objects.filter(user=team["reviewer"]).update(languages="es")
    article = import_article(write_article(tmp_path / "article")).article
    publish(article)
    article.refresh_from_db()
    translation = translations.translation_start(
        article=article, language="es", user=team["author"]
    )
    translations.translation_submit(translation=translation, user=team["author"])
    translations.translation_approve(translation=translation, user=team["reviewer"])
    translations.translation_publish(translation=translation, user=team["publisher"])
    path = tmp_path / "with-translation.jsonl.gz"
    call_command("backup", str(path), stdout=StringIO())

    report, _ = restore_elsewhere(path, empty_sqlite)

    assert report["problems"] == []
    assert report["counts"]["articles.articletranslation"] == 1
    assert report["counts"]["articles.translationversion"] == 1
