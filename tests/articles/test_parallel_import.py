"""`import_articles --workers`: several processes import at once on PostgreSQL, with the
same result as one; a bad file among many is reported and loses nothing; two
transactions storing the same new citation at once both get the one library citation."""

import json
import threading
import time
from io import StringIO

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections, transaction

from articles.models import Article, ArticleCitation, Citation, Claim, ClaimCitation, ReviewEvent
from articles.roles import roles_ensure
from articles.services.citations import citation_upsert
from articles.services.snapshots import article_content_hash
from tests.factories import article_text

POOL = [
    {
        "id": f"work{n}",
        "type": "article-journal",
        "title": f"Trial number {n} of a PTSD treatment",
        "issued": {"date-parts": [[2000 + n]]},
        "DOI": f"10.5555/ptsd.{n}",
    }
    for n in range(6)
] + [
    # No identifier: found again by its URL, or by its key and title.
    {"id": "web", "type": "webpage", "title": "A guideline page", "URL": "https://example.org/g"},
    {"id": "plain", "type": "book", "title": "A book without identifiers"},
]


TOPICS_CREATED = "Topic(s) created by import: "


def write_library(folder, count: int) -> None:
    """`count` articles, each citing three of six shared works and the two works without
    identifiers: many files create the same new citations at the same time."""
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(count):
        slug = f"parallel-{number:03}"
        cited = [POOL[number % 6], POOL[(number + 1) % 6], POOL[(number + 3) % 6], *POOL[6:]]
        (folder / f"{slug}.json").write_text(json.dumps(cited))
        body = "\n\n".join(
            f"[Finding {index} of article {number} [@{item['id']}]]"
            f"{{.claim #finding-{index} certainty=low}}"
            for index, item in enumerate(cited)
        )
        text = article_text(
            slug=slug, title=f"Article {number}", body=body + "\n",
            extra_front=f"bibliography: {slug}.json",
        )  # fmt: skip
        (folder / f"{slug}.md").write_text(text)


def run_import(folder, *args) -> tuple[dict, CommandError | None]:
    out = StringIO()
    try:
        call_command("import_articles", str(folder), "--json", *args, stdout=out, stderr=StringIO())
    except CommandError as exc:
        return json.loads(out.getvalue()), exc
    return json.loads(out.getvalue()), None


def library_state() -> dict:
    """Everything an import writes, without the primary keys (which depend on the order
    the processes happened to insert in)."""
    articles = Article.objects.order_by("slug")
    return {
        "articles": [
            (a.slug, a.title, a.summary, a.status, a.lock_version, article_content_hash(a))
            for a in articles
        ],
        "events": sorted(
            ReviewEvent.objects.exclude(comment__startswith=TOPICS_CREATED).values_list(
                "article__slug", "kind", "from_state", "to_state", "content_hash", "comment"
            )
        ),
        # A new topic is created by whichever file reaches it first (in parallel, not
        # always the first file by name), and that article's trail says so, once.
        "topics created": sorted(
            topic
            for comment in ReviewEvent.objects.filter(
                comment__startswith=TOPICS_CREATED
            ).values_list("comment", flat=True)
            for topic in comment.removeprefix(TOPICS_CREATED).split(", ")
        ),
        "citations": sorted(
            (c.key, c.doi, c.pmid, c.pmcid, c.url, c.title, json.dumps(c.csl, sort_keys=True))
            for c in Citation.objects.all()
        ),
        "bibliographies": sorted(
            ArticleCitation.objects.values_list("article__slug", "key", "citation__title")
        ),
        "topics": sorted(
            Article.topics.through.objects.values_list("article__slug", "topic__slug")
        ),
        "rows": (Claim.objects.count(), ClaimCitation.objects.count()),
    }


def strip_lock(state: dict) -> dict:
    return state | {"articles": [row[:4] + row[5:] for row in state["articles"]]}


@pytest.fixture
def empty_library():
    """A transactional test on PostgreSQL: the worker processes see what is committed."""
    assert connection.vendor == "postgresql"
    call_command("flush", interactive=False, verbosity=0)
    yield
    roles_ensure(group_model=Group, permission_model=Permission)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_import_gives_the_same_library_as_a_serial_one(tmp_path, empty_library):
    write_library(tmp_path / "library", 45)  # three chunks of files

    serial, error = run_import(tmp_path / "library", "--workers", "1")
    assert error is None and (serial["workers"], serial["created"]) == (1, 45)
    with connection.cursor() as cursor:  # its commits waited for no disk, and now do again
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone() == ("on",)
    expected = library_state()
    call_command("flush", interactive=False, verbosity=0)

    parallel, error = run_import(tmp_path / "library", "--workers", "3")
    assert error is None and (parallel["workers"], parallel["created"]) == (3, 45)
    assert library_state() == expected
    assert len(expected["citations"]) == 8  # each shared work stored once
    assert expected["topics created"] == ["ptsd ('Ptsd')", "treatments ('Treatments')"]
    # The rows come back in file order with the same hashes as the serial run.
    assert parallel["articles"] == serial["articles"]

    again, error = run_import(tmp_path / "library", "--workers", "3")
    assert error is None and (again["unchanged"], again["created"], again["updated"]) == (45, 0, 0)
    # Nothing changed but each draft's revision number (every save claims the draft's lock).
    unchanged = library_state()
    assert [row[4] for row in unchanged["articles"]] == [3] * 45
    assert strip_lock(unchanged) == strip_lock(expected)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_bad_file_among_many_is_reported_with_its_name_and_loses_nothing(tmp_path, empty_library):
    folder = tmp_path / "library"
    write_library(folder, 30)
    (folder / "parallel-007.md").write_text("---\ntitle: [unclosed\n---\n\nBody.\n")
    unknown = (folder / "parallel-021.md").read_text().replace("[@work0]", "[@nobody]")
    (folder / "parallel-021.md").write_text(unknown.replace("[@work1]", "[@nobody]"))

    report, error = run_import(folder, "--workers", "2")

    assert error is not None and "2 of 30 article files failed" in str(error)
    assert report["workers"] == 2
    assert (report["created"], report["failed"]) == (28, 2)
    failed = {row["file"]: row for row in report["articles"] if row["outcome"] == "failed"}
    assert set(failed) == {str(folder / "parallel-007.md"), str(folder / "parallel-021.md")}
    assert failed[str(folder / "parallel-007.md")]["error"].startswith(
        f"{folder / 'parallel-007.md'}:2: front matter is not valid YAML"
    )
    assert "unknown citation key 'nobody'" in failed[str(folder / "parallel-021.md")]["error"]
    slugs = set(Article.objects.values_list("slug", flat=True))
    assert len(slugs) == 28 and not slugs & {"parallel-007", "parallel-021"}
    # Each imported article is whole: its draft verifies and its import is on its trail.
    assert ReviewEvent.objects.filter(kind=ReviewEvent.Kind.IMPORT).count() == 28


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_transactions_storing_the_same_new_citation_share_one(empty_library):
    """The second insert waits on the first's unique DOI, fails when it commits, and
    then finds the citation the first stored instead of failing the import."""
    item = {"id": "race", "type": "book", "title": "Raced", "DOI": "10.5555/race"}
    first_saved, release = threading.Event(), threading.Event()
    results, errors, pids = {}, [], {}

    def store(name, hold):
        try:
            connections["default"].ensure_connection()
            pids[name] = connections["default"].connection.info.backend_pid
            with transaction.atomic():
                results[name] = citation_upsert(item=item, library={})
                if hold:
                    first_saved.set()
                    release.wait(timeout=30)
        except Exception as exc:  # reported by the assertions below
            errors.append(exc)
        finally:
            connections["default"].close()

    first = threading.Thread(target=store, args=("first", True))
    first.start()
    assert first_saved.wait(timeout=30)
    second = threading.Thread(target=store, args=("second", False))
    second.start()
    # Let the first commit only once the second is waiting on the DOI's unique index.
    with connection.cursor() as cursor:
        for _ in range(300):
            if "second" in pids:
                cursor.execute(
                    "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pids["second"]]
                )
                if cursor.fetchone() == ("Lock",):
                    break
            time.sleep(0.05)
        else:
            pytest.fail("the second insert never waited for the first")
    release.set()
    first.join(timeout=30)
    second.join(timeout=30)

    assert errors == []
    (stored, created_first), (found, created_second) = results["first"], results["second"]
    assert (created_first, created_second) == (True, False)
    assert found.pk == stored.pk
    assert Citation.objects.filter(doi="10.5555/race").count() == 1


@pytest.mark.django_db
def test_inside_a_transaction_or_on_sqlite_the_import_runs_in_one_process(tmp_path):
    write_library(tmp_path / "library", 25)
    report, error = run_import(tmp_path / "library", "--workers", "4")
    assert error is None and (report["workers"], report["created"]) == (1, 25)


def test_a_negative_number_of_workers_is_refused(tmp_path):
    write_library(tmp_path / "library", 1)
    with pytest.raises(CommandError, match="--workers"):
        call_command("import_articles", str(tmp_path / "library"), "--workers", "-1")
