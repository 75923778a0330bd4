"""After each workflow action the editor says who holds the article and what is next."""

import pytest
from django.urls import reverse

from editorial.services import workflow
from tests.factories import import_article, make_team, write_article

pytestmark = pytest.mark.django_db


def messages_of(response):
    return [str(m) for m in response.context["messages"]]


def test_request_changes_names_the_author_who_holds_it_now(client, tmp_path):
    team = make_team()
    article = import_article(write_article(tmp_path), user=team["author"]).article
    workflow.ACTIONS["submit"](article=article, user=team["author"], comment="")
    client.force_login(team["reviewer"])

    response = client.post(
        reverse("admin:articles_article_transition", args=[article.pk, "request_changes"]),
        {"comment": "Add the dose."},
        follow=True,
    )

    assert any(
        "Sent back to Dr Alice. You will see it again when they resubmit." in m
        for m in messages_of(response)
    ), messages_of(response)


def test_submit_says_the_reviewers_hold_it(client, tmp_path):
    team = make_team()
    article = import_article(write_article(tmp_path), user=team["author"]).article
    client.force_login(team["author"])

    response = client.post(
        reverse("admin:articles_article_transition", args=[article.pk, "submit"]),
        {"comment": ""},
        follow=True,
    )

    assert any("now with the Clinical reviewers" in m for m in messages_of(response))
