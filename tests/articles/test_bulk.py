import json
import os
import sqlite3
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from articles.management.statistics import analyze_points
from articles.models import Article
from articles.services.snapshots import article_content_hash
from tests.factories import make_team, write_article

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def manage(*args, database: Path, check=True) -> subprocess.CompletedProcess:
    """Run manage.py in a separate process on its own SQLite file: the pytest database
    can never be emptied (its review trail is append-only by trigger)."""
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_REPLICA_URL"}
    env["DATABASE_URL"] = f"sqlite:///{database}"
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=check,
    )


@pytest.fixture(scope="module")
def migrated_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "migrated.sqlite3"
    manage("migrate", "--noinput", "-v0", database=path)
    return path


@pytest.fixture
def empty_database(migrated_template, tmp_path) -> Path:
    """A freshly migrated, empty SQLite database (copied, so `migrate` runs once)."""
    path = tmp_path / "empty.sqlite3"
    with sqlite3.connect(migrated_template) as source, sqlite3.connect(path) as target:
        source.backup(target)
    return path


def quietly(command, *args):
    call_command(command, *args, stdout=StringIO(), stderr=StringIO())


def run_json(command, *args) -> tuple[dict, CommandError | None]:
    out = StringIO()
    try:
        call_command(command, *args, "--json", stdout=out, stderr=StringIO())
    except CommandError as exc:
        return json.loads(out.getvalue()), exc
    return json.loads(out.getvalue()), None


IMPORT_AND_HASH = """
import io, json
from django.core.exceptions import ValidationError
from django.core.management import call_command
from articles.management.statistics import analyze_points
from articles.models import Article
from articles.services.snapshots import article_content_hash
out = io.StringIO()
call_command("import_articles", {directory!r}, "--json", stdout=out)
call_command("export_articles", {again!r}, stdout=io.StringIO())
hashes = {{a.slug: article_content_hash(a) for a in Article.objects.all()}}
print(json.dumps({{"import": json.loads(out.getvalue()), "hashes": hashes}}))
"""


def test_demo_library_round_trips_through_an_empty_database_with_identical_hashes(
    tmp_path, empty_database
):
    quietly("load_demo")
    expected = {a.slug: article_content_hash(a) for a in Article.objects.all()}
    live = {a.slug: a.live_version.content_hash for a in Article.objects.live()}
    exported, error = run_json("export_articles", str(tmp_path / "library"))
    assert error is None
    assert exported["created"] == 3

    # One process: import the files, then read every draft's hash back from that database.
    script = IMPORT_AND_HASH.format(
        directory=str(tmp_path / "library"), again=str(tmp_path / "again")
    )
    result = manage("shell", "-v", "0", "-c", script, database=empty_database)

    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert (report["import"]["created"], report["import"]["failed"]) == (3, 0)
    assert {row["slug"]: row["content_hash"] for row in report["import"]["articles"]} == expected
    assert report["hashes"] == expected
    assert expected == live  # the demo drafts are exactly what readers see
    # Exported again from the imported database: the same files, byte for byte.
    first = {p.name: p.read_bytes() for p in (tmp_path / "library").iterdir()}
    second = {p.name: p.read_bytes() for p in (tmp_path / "again").iterdir()}
    assert len(first) == 6 and second == first


def test_export_queries_do_not_grow_with_the_number_of_articles(
    tmp_path, django_assert_max_num_queries
):
    """Drafts are read in batches (five queries each), not one article at a time."""
    for n in range(3):
        write_article(tmp_path / "some", slug=f"some-{n}")
    quietly("import_articles", str(tmp_path / "some"))
    with django_assert_max_num_queries(8) as few:
        quietly("export_articles", str(tmp_path / "out-few"))
    for n in range(12):
        write_article(tmp_path / "more", slug=f"more-{n}")
    quietly("import_articles", str(tmp_path / "more"))
    with django_assert_max_num_queries(len(few.captured_queries)):
        quietly("export_articles", str(tmp_path / "out-more"))
    assert len(list((tmp_path / "out-more").glob("*.md"))) == 15


BROKEN = """\
---
title: Broken
slug: broken
summary: It cites a key nobody defined.
---

[A claim [@nobody2020]]{.claim #x certainty=low}.
"""


@pytest.fixture
def library(tmp_path):
    folder = tmp_path / "library"
    write_article(tmp_path / "a", slug="alpha")
    write_article(tmp_path / "b", slug="beta")
    quietly("import_articles", str(tmp_path / "a"))
    quietly("import_articles", str(tmp_path / "b"))
    quietly("export_articles", str(folder))
    return folder


def test_import_reports_each_outcome_and_each_failure_with_file_and_line(library):
    beta = library / "beta.md"
    beta.write_text(beta.read_text().replace("was negative", "found no benefit"))
    (library / "broken.md").write_text(BROKEN)

    report, error = run_json("import_articles", str(library))

    assert error is not None and "1 of 3 article files failed" in str(error)
    assert (report["created"], report["updated"], report["unchanged"], report["failed"]) == (
        0,
        1,
        1,
        1,
    )
    [failure] = [row for row in report["articles"] if row["outcome"] == "failed"]
    assert failure["line"] == 7
    assert failure["error"].startswith(f"{library / 'broken.md'}:7: unknown citation key")
    assert not Article.objects.filter(slug="broken").exists()
    beta_article = Article.objects.get(slug="beta")
    assert "found no benefit" in beta_article.sections.get(anchor="evidence").body  # committed


def test_import_creates_articles_into_an_empty_library_one_transaction_each(tmp_path):
    folder = tmp_path / "library"
    write_article(folder, slug="gamma")
    (folder / "broken.md").write_text(BROKEN)

    report, error = run_json(
        "import_articles", str(folder), "--user", make_team()["author"].username
    )

    assert error is not None
    assert [row["outcome"] for row in report["articles"]] == ["failed", "created"]
    gamma = Article.objects.get(slug="gamma")
    assert gamma.owner.username == "alice"


def test_import_dry_run_validates_and_writes_nothing(tmp_path, capsys):
    folder = tmp_path / "library"
    write_article(folder, slug="delta")

    call_command("import_articles", str(folder), "--dry-run")

    assert "1 created" in capsys.readouterr().out
    assert not Article.objects.filter(slug="delta").exists()


def test_export_reports_unchanged_on_a_second_run_and_skips_withdrawn(library):
    alpha = Article.objects.get(slug="alpha")
    Article.objects.filter(pk=alpha.pk).update(status="withdrawn")

    report, error = run_json("export_articles", str(library))

    assert error is None
    assert report["unchanged"] == 1
    assert report["skipped_withdrawn"] == ["alpha"]


def test_bulk_commands_refuse_a_missing_or_empty_directory(tmp_path):
    with pytest.raises(CommandError, match="is not a directory"):
        call_command("import_articles", str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(CommandError, match=r"has no article files \(\*\.md\)"):
        call_command("import_articles", str(tmp_path / "empty"))
    with pytest.raises(CommandError, match="no user named 'nobody'"):
        write_article(tmp_path / "one")
        call_command("import_articles", str(tmp_path / "one"), "--user", "nobody")


class Terminal(StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self.tty = tty

    def isatty(self):
        return self.tty


def test_progress_line_goes_to_a_terminal_only_and_is_cleared(tmp_path):
    write_article(tmp_path / "library", slug="epsilon")
    for tty in (True, False):
        err = Terminal(tty)
        call_command("import_articles", str(tmp_path / "library"), stdout=StringIO(), stderr=err)
        if tty:
            assert "\rImporting articles [" in err.getvalue()
            assert err.getvalue().endswith("\r")  # the line is blanked at the end
        else:
            assert err.getvalue() == ""


def test_article_check_constraints_are_validated_in_one_query_with_the_same_errors(
    django_assert_num_queries,
):
    article = Article(slug="checked", title="Checked", summary="x" * 301)
    article.review_interval_months = 0
    with pytest.raises(ValidationError) as caught:
        article.validate_constraints()
    messages = caught.value.message_dict["__all__"]
    assert any("article_summary_max_300" in message for message in messages)
    assert any("article_review_interval_1_to_60_months" in message for message in messages)
    assert len(messages) == 2

    article.summary, article.review_interval_months = "Short.", 12
    with django_assert_num_queries(1):  # every CHECK at once (the slug's uniqueness aside)
        article.validate_constraints(exclude={"slug"})
    # An excluded field's constraints are skipped, as Django does.
    article.review_interval_months = 0
    article.validate_constraints(exclude={"slug", "review_interval_months"})


def test_a_long_import_refreshes_planner_statistics_each_time_the_tables_may_double():
    assert analyze_points(99) == set()
    assert analyze_points(10_000) == {100, 200, 400, 800, 1600, 3200, 6400}
