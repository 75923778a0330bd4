import threading

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection

from articles.articlefile import read_article_file
from articles.models import Article
from articles.roles import roles_ensure
from articles.services.drafts import DraftConflictError, article_import
from articles.services.snapshots import article_content_hash
from tests.factories import import_article, write_article


def variant(tmp_path, name, old, new):
    path = write_article(tmp_path / name)
    path.write_text(path.read_text().replace(old, new))
    return read_article_file(path)


@pytest.mark.django_db
def test_second_save_of_the_same_draft_is_refused_and_shows_what_changed(tmp_path):
    article = import_article(write_article(tmp_path / "base")).article
    opened_at = article.lock_version  # both editors open the draft at this revision
    first = variant(tmp_path, "first", "was negative", "was negative on PTSD outcomes")
    second = variant(tmp_path, "second", "A short lead", "A brief lead")

    article_import(source=first, expected_lock_version=opened_at)
    saved_hash = article_content_hash(article)
    with pytest.raises(DraftConflictError) as excinfo:
        article_import(source=second, expected_lock_version=opened_at)

    assert "changed by someone else" in str(excinfo.value)
    assert any("evidence" in change.lower() for change in excinfo.value.changes)
    article.refresh_from_db()
    assert article_content_hash(article) == saved_hash  # the first edit is intact
    # The refused editor still has their own text: nothing of it was consumed.
    assert "A brief lead" in second.sections[0].body


@pytest.fixture
def restore_roles():
    yield
    roles_ensure(group_model=Group, permission_model=Permission)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_saves_on_postgres_exactly_one_wins(tmp_path, restore_roles):
    assert connection.vendor == "postgresql"
    article = import_article(write_article(tmp_path / "base")).article
    opened_at = article.lock_version
    sources = [
        variant(tmp_path, "one", "was negative", "was negative (edit one)"),
        variant(tmp_path, "two", "was negative", "was negative (edit two)"),
    ]
    barrier = threading.Barrier(2)
    outcomes = []

    def save(source):
        from django.db import connection as thread_connection

        try:
            barrier.wait(timeout=10)
            article_import(source=source, expected_lock_version=opened_at)
            outcomes.append("saved")
        except DraftConflictError:
            outcomes.append("conflict")
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=save, args=(s,)) for s in sources]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["conflict", "saved"]
    article = Article.objects.get(pk=article.pk)
    assert article.lock_version == opened_at + 1
    body = article.sections.get(anchor="evidence").body
    assert ("(edit one)" in body) != ("(edit two)" in body)
