import json
import smtplib
from datetime import timedelta
from io import StringIO

import pytest
from django.core.mail import EmailMessage
from django.core.management import call_command
from django.utils import timezone

from articles.models import Article, ReviewReminder
from tests.factories import import_article, make_user, publish, write_article

pytestmark = pytest.mark.django_db


def due_article(tmp_path, slug, *, owner=None, editor=None, days=-3):
    """A published article whose next review is `days` from today (negative: overdue)."""
    article = import_article(write_article(tmp_path / slug, slug=slug), user=editor).article
    publish(article)
    Article.objects.filter(pk=article.pk).update(
        owner=owner, next_review_due=timezone.localdate() + timedelta(days=days)
    )
    return article


def review_due(*args) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("review_due", "--email", *args, stdout=out)
    except SystemExit as exc:
        return exc.code, out.getvalue()
    return 0, out.getvalue()


@pytest.fixture
def owner():
    return make_user(
        "olive", email="olive@example.org", display_name="Dr Olive Owner", credentials="MD"
    )


def test_each_responsible_editor_gets_one_email_listing_their_articles(tmp_path, owner, mailoutbox):
    due_article(tmp_path, "overdue-one", owner=owner)
    due_article(tmp_path, "due-soon", owner=owner, days=10)

    code, out = review_due()

    assert code == 1  # a review is overdue
    [mail] = mailoutbox
    assert mail.to == ["olive@example.org"]
    assert mail.subject == "[ptsdinfo] 2 clinical reviews overdue or due"
    assert "Hello Dr Olive Owner," in mail.body
    assert "OVERDUE since" in mail.body and "due on" in mail.body
    assert "/articles/overdue-one/" in mail.body
    assert ReviewReminder.objects.filter(email="olive@example.org").count() == 2
    assert "email sent to olive@example.org" in out


def test_a_second_run_the_same_day_sends_nothing(tmp_path, owner, mailoutbox):
    due_article(tmp_path, "overdue-one", owner=owner)
    review_due()

    code, out = review_due("--json")

    assert len(mailoutbox) == 1
    [row] = json.loads(out)
    assert row["email"]["status"] == "already-sent"
    assert code == 1  # still overdue


def test_the_next_day_sends_again(tmp_path, owner, mailoutbox, monkeypatch):
    due_article(tmp_path, "overdue-one", owner=owner)
    review_due()
    tomorrow = timezone.localdate() + timedelta(days=1)
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: tomorrow)

    review_due()

    assert len(mailoutbox) == 2
    assert ReviewReminder.objects.count() == 2


def test_last_editor_is_emailed_when_the_owner_has_no_address(tmp_path, mailoutbox):
    silent = make_user("silent")
    editor = make_user("eddie", email="eddie@example.org")
    due_article(tmp_path, "overdue-one", owner=silent, editor=editor)

    review_due()

    assert [mail.to for mail in mailoutbox] == [["eddie@example.org"]]
    assert "Hello eddie," in mailoutbox[0].body


def test_article_nobody_can_be_emailed_about_is_reported_and_exits_1(tmp_path, mailoutbox):
    due_article(tmp_path, "due-soon", owner=make_user("silent"), days=10)

    code, out = review_due("--json")

    assert code == 1  # not overdue, but nobody will hear about it
    assert mailoutbox == []
    assert json.loads(out)[0]["email"]["status"] == "no-recipient"


def test_a_failed_send_records_nothing_so_the_next_run_retries(
    tmp_path, owner, mailoutbox, monkeypatch
):
    due_article(tmp_path, "due-soon", owner=owner, days=10)
    real_send = EmailMessage.send

    def refuse(self, *args, **kwargs):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")

    monkeypatch.setattr(EmailMessage, "send", refuse)
    code, out = review_due("--json")
    assert code == 1
    assert json.loads(out)[0]["email"] == {
        "slug": "due-soon",
        "status": "failed",
        "to": "olive@example.org",
        "error": "Connection unexpectedly closed",
    }
    assert not ReviewReminder.objects.exists()

    monkeypatch.setattr(EmailMessage, "send", real_send)
    code, _ = review_due()

    assert code == 0
    assert len(mailoutbox) == 1


def test_without_email_nothing_is_sent(tmp_path, owner, mailoutbox):
    due_article(tmp_path, "overdue-one", owner=owner)

    with pytest.raises(SystemExit):
        call_command("review_due", stdout=StringIO())

    assert mailoutbox == []
    assert not ReviewReminder.objects.exists()
