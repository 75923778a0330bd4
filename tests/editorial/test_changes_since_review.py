"""A Clinical reviewer sees what the author changed since the last review (issue 13,
item 6): the draft they sent back is kept with the request for changes, and the editor
shows the sentences changed since then and marks the changed claims in the preview."""

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from articles.models import Article, ReviewEvent
from articles.services.snapshots import article_content_hash, last_review
from editorial.services import workflow
from tests.factories import ARTICLE_BODY, import_article, publish, write_article

pytestmark = pytest.mark.django_db

FIXED_BODY = ARTICLE_BODY.replace(
    "The largest trial in veterans was negative",
    "The largest trial in veterans found no benefit at either dose",
)


def sent_back(team, tmp_path) -> Article:
    article = import_article(write_article(tmp_path / "v1"), user=team["author"]).article
    workflow.ACTIONS["submit"](article=article, user=team["author"], comment="")
    workflow.ACTIONS["request_changes"](
        article=article, user=team["reviewer"], comment="Say what the trial found."
    )
    return article


def fix_and_resubmit(article, team, tmp_path) -> Article:
    workflow.ACTIONS["revise"](article=article, user=team["author"], comment="")
    import_article(write_article(tmp_path / "v2", body=FIXED_BODY), user=team["author"])
    article.refresh_from_db()
    workflow.ACTIONS["submit"](article=article, user=team["author"], comment="Fixed.")
    return article


def editor_page(client, user, article):
    client.force_login(user)
    return client.get(reverse("admin:articles_article_change", args=[article.pk]))


def test_request_changes_keeps_the_draft_the_reviewer_read(team, tmp_path):
    article = sent_back(team, tmp_path)

    event = article.events.get(to_state=Article.Status.CHANGES_REQUESTED)

    assert [c["id"] for c in event.reviewed_snapshot["claims"]] == [
        "lead-claim",
        "rapid-onset",
        "veterans",
    ]
    assert event.content_hash == article_content_hash(article)


def test_last_review_is_the_newer_of_sent_back_and_approved(team, tmp_path):
    article = import_article(write_article(tmp_path)).article
    assert last_review(article) is None
    publish(article, reviewer=team["reviewer"])
    article.refresh_from_db()
    assert last_review(article).outcome == "approved"

    workflow.ACTIONS["submit"](article=article, user=team["author"], comment="Re-review.")
    workflow.ACTIONS["request_changes"](article=article, user=team["reviewer2"], comment="Update.")

    review = last_review(article)
    assert (review.outcome, review.reviewer) == ("changes requested", "Dr Ravi")


def test_reviewer_sees_the_authors_changes_since_sending_it_back(client, team, tmp_path):
    article = fix_and_resubmit(sent_back(team, tmp_path), team, tmp_path)

    response = editor_page(client, team["reviewer"], article)

    html = response.content.decode()
    assert response.status_code == 200
    assert "Changes since the last review" in html
    assert "Sent back by <strong>Dr Rita Reviewer</strong>" in html
    assert "<ins>found no benefit at either dose</ins>" in html
    assert "<del>was negative</del>" in html
    assert 'data-changed-claims="veterans"' in html
    assert "?old=reviewed&amp;new=draft" in html


def test_nothing_changed_says_so_and_marks_no_claim(client, team, tmp_path):
    article = sent_back(team, tmp_path)
    workflow.ACTIONS["revise"](article=article, user=team["author"], comment="")
    workflow.ACTIONS["submit"](article=article, user=team["author"], comment="No change.")

    html = editor_page(client, team["reviewer"], article).content.decode()

    assert "Nothing has changed since then." in html
    assert "data-changed-claims" not in html


def test_a_never_reviewed_draft_has_no_since_review_panel(client, team, tmp_path):
    article = import_article(write_article(tmp_path), user=team["author"]).article

    html = editor_page(client, team["author"], article).content.decode()

    assert "Changes since the last review" not in html


def test_diff_page_compares_the_draft_with_the_last_review(client, team, tmp_path):
    article = fix_and_resubmit(sent_back(team, tmp_path), team, tmp_path)
    client.force_login(team["reviewer"])

    response = client.get(
        reverse("admin:articles_article_diff", args=[article.pk]), {"old": "reviewed"}
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "<ins>found no benefit at either dose</ins>" in html


def test_the_reviewed_snapshot_is_append_only(team, tmp_path):
    article = sent_back(team, tmp_path)
    event = article.events.get(to_state=Article.Status.CHANGES_REQUESTED)

    with pytest.raises(DatabaseError, match="review events are append-only"):
        ReviewEvent.objects.filter(pk=event.pk).update(reviewed_snapshot={"claims": []})


def test_the_panel_reads_the_last_request_for_changes_once(client, team, tmp_path):
    article = fix_and_resubmit(sent_back(team, tmp_path), team, tmp_path)
    client.force_login(team["reviewer"])
    url = reverse("admin:articles_article_change", args=[article.pk])
    client.get(url)

    with CaptureQueriesContext(connection) as queries:
        client.get(url)

    last_review_reads = [
        q["sql"]
        for q in queries.captured_queries
        if "reviewed_snapshot" in q["sql"] and "IS NOT NULL" in q["sql"]
    ]
    assert len(last_review_reads) == 1
