"""Reader reports (issue 17, part 1): the public form, the rate limit, the email purge,
the admin queue, the gate warning and the path from a report to a published correction."""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from articles.models import ArticleStatus, ReaderReport, ReviewEvent
from editorial.services import gates, reports
from editorial.services.workflow import WorkflowError, article_approve, article_publish
from tests.factories import import_article, make_team, make_user, publish, write_article

pytestmark = pytest.mark.django_db

PAYLOADS = [
    p.strip()
    for p in (Path(__file__).parents[1] / "data" / "hostile" / "payloads.txt")
    .read_text()
    .split("%%")
    if p.strip()
]


@pytest.fixture
def live(tmp_path):
    article = import_article(write_article(tmp_path)).article
    publish(article)
    article.refresh_from_db()
    return article


def form_url(article):
    return reverse("articles:report", kwargs={"slug": article.slug})


def post(client, article, **data):
    fields = {"claim": "rapid-onset", "kind": "wrong", "description": "The dose is wrong."}
    fields.update(data)
    return client.post(form_url(article), fields)


def test_article_page_links_to_the_form_for_the_page_and_each_claim(client, live):
    html = client.get(live.get_absolute_url()).content.decode()
    assert "Report a problem with this page" in html
    assert f'{form_url(live)}?claim=rapid-onset"' in html
    assert f'{form_url(live)}?claim=lead-claim"' in html
    # The spec hooks stay intact.
    assert 'id="claim-rapid-onset"' in html


def test_form_preselects_the_claim_shows_help_and_is_never_cached(client, live):
    response = client.get(form_url(live) + "?claim=rapid-onset")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<option value="rapid-onset" selected>' in html
    assert "not for medical advice or emergencies" in html
    assert 'href="tel:988"' in html  # the site's crisis block
    assert "csrfmiddlewaretoken" in html
    assert "no-store" in response["Cache-Control"]
    assert "delete it when the report is closed" in html


def test_form_page_query_count(client, live, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert client.get(form_url(live)).status_code == 200


def test_article_page_query_count_unchanged_by_report_links(
    client, live, django_assert_num_queries
):
    client.get(live.get_absolute_url())
    cache.clear()
    with django_assert_num_queries(1):
        assert client.get(live.get_absolute_url()).status_code == 200


def test_a_report_is_stored_without_any_address(client, live):
    response = post(client, live, email="reader@example.org")
    assert response.status_code == 200
    report = ReaderReport.objects.get()
    assert (report.claim_key, report.kind, report.state) == ("rapid-onset", "wrong", "new")
    assert report.email == "reader@example.org"
    field_names = {f.name for f in ReaderReport._meta.get_fields()}
    assert not {"ip", "address", "ip_address", "remote_addr"} & field_names


def test_form_is_csrf_protected(live):
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post(
        form_url(live), {"kind": "wrong", "description": "x"}
    )
    assert response.status_code == 403
    assert not ReaderReport.objects.exists()


def test_honeypot_stores_nothing(client, live):
    assert post(client, live, website="http://spam.example").status_code == 200
    assert not ReaderReport.objects.exists()


def test_unknown_claim_and_too_long_text_are_refused(client, live):
    assert post(client, live, claim="no-such-claim").status_code == 200
    assert post(client, live, description="x" * 2001).status_code == 200
    assert not ReaderReport.objects.exists()
    with pytest.raises(reports.ReportRejected):
        reports.report_submit(
            article=live, claim_key="nope", kind="wrong", description="x", address="1"
        )


def test_rate_limit_per_address(client, live):
    for _ in range(reports.RATE_LIMIT):
        assert post(client, live).status_code == 200
    assert post(client, live).status_code == 429
    assert ReaderReport.objects.count() == reports.RATE_LIMIT
    assert (
        client.post(
            form_url(live),
            {"kind": "wrong", "description": "ok"},
            REMOTE_ADDR="10.0.0.9",
        ).status_code
        == 200
    )


def test_rate_limiter_key_is_hashed_and_expires_with_the_window(live):
    reports.rate_limited("203.0.113.7")
    key = reports._rate_key("203.0.113.7")
    assert "203.0.113.7" not in key
    assert cache.get(key) == 1


REDIS_CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/10",
    }
}


def test_rate_limit_is_shared_across_workers_with_redis(live):
    """Two workers = two separate cache clients on the same Redis db."""
    import redis

    raw = redis.Redis(host="127.0.0.1", port=6379, db=10)
    try:
        raw.ping()
    except redis.ConnectionError:
        if os.environ.get("CI"):
            raise
        pytest.skip("Redis is not running at 127.0.0.1:6379 (required in CI)")
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    with override_settings(CACHES=REDIS_CACHES):
        caches["default"].clear()
        worker_a = RedisCache("redis://127.0.0.1:6379/10", {})
        worker_b = RedisCache("redis://127.0.0.1:6379/10", {})
        import editorial.services.reports as module

        try:
            results = []
            for i in range(reports.RATE_LIMIT + 1):
                module.cache = worker_a if i % 2 else worker_b
                results.append(reports.rate_limited("198.51.100.1"))
            assert results == [False] * reports.RATE_LIMIT + [True]
            assert (
                0
                < raw.ttl(worker_a.make_key(reports._rate_key("198.51.100.1")))
                <= reports.RATE_WINDOW_SECONDS
            )
        finally:
            module.cache = cache
            worker_a.clear()


def test_purge_erases_emails_of_closed_and_old_reports(live, capsys):
    fresh = ReaderReport.objects.create(
        article=live, kind="wrong", description="a", email="a@example.org"
    )
    old = ReaderReport.objects.create(
        article=live, kind="wrong", description="b", email="b@example.org"
    )
    ReaderReport.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=91))
    closed = ReaderReport.objects.create(
        article=live, kind="wrong", description="c", email="c@example.org", state="declined"
    )
    call_command("purge_report_emails")
    assert "2 reader report" in capsys.readouterr().out
    emails = dict(ReaderReport.objects.values_list("pk", "email"))
    assert emails == {fresh.pk: "a@example.org", old.pk: "", closed.pk: ""}


def test_declining_needs_a_reason_and_erases_the_email(live):
    user = make_user("ed")
    report = ReaderReport.objects.create(
        article=live, kind="wrong", description="a", email="a@example.org"
    )
    with pytest.raises(WorkflowError):
        reports.report_decline(report=report, user=user, reason="  ")
    reports.report_decline(report=report, user=user, reason="The source says this.")
    report.refresh_from_db()
    assert (report.state, report.email) == ("declined", "")


def test_open_report_is_a_gate_warning_never_an_error(live):
    ReaderReport.objects.create(
        article=live, claim_key="rapid-onset", kind="wrong", description="a"
    )
    found = [p for p in gates.article_gates(article=live) if p.code == "reader-report"]
    assert [(p.level, p.claim_key) for p in found] == [(gates.WARNING, "rapid-onset")]
    assert "reader-report" in gates.GATES


@pytest.mark.parametrize("payload", PAYLOADS[:40])
def test_hostile_report_text_is_plain_text_in_the_admin(client, live, payload):
    admin = make_user("boss", is_superuser=True)
    report = ReaderReport.objects.create(
        article=live, claim_key="rapid-onset", kind="other", description=payload
    )
    client.force_login(admin)
    for url in (
        reverse("admin:articles_readerreport_changelist"),
        reverse("admin:articles_readerreport_change", args=[report.pk]),
    ):
        html = client.get(url).content.decode()
        if "<" in payload:
            assert payload not in html, url


def test_report_accept_rereview_and_published_correction(client, live):
    team = make_team()
    author, reviewer, publisher = team["author"], team["reviewer2"], team["publisher"]
    post(client, live, description="The 24-hour figure is from a different study.")
    report = ReaderReport.objects.get()

    reports.report_accept(report=report, user=author, send_to_review=True)
    live.refresh_from_db()
    assert live.status == ArticleStatus.IN_REVIEW
    comment = live.events.get(kind=ReviewEvent.Kind.COMMENT, claim_key="rapid-onset")
    assert "different study" in comment.comment

    article_approve(article=live, user=reviewer)
    article_publish(article=live, user=publisher)
    reports.report_fixed(report=report, user=author)
    report.refresh_from_db()
    assert report.state == "fixed"

    html = client.get(live.get_absolute_url()).content.decode()
    assert reports.CHANGE_NOTE in html
    assert "different study" not in html


@pytest.mark.parametrize("payload", PAYLOADS[:40])
def test_hostile_report_text_is_plain_text_on_the_review_page(client, live, payload):
    admin = make_user("boss", is_superuser=True)
    ReaderReport.objects.create(
        article=live, claim_key="rapid-onset", kind="other", description=payload
    )
    ReaderReport.objects.create(article=live, claim_key="", kind="other", description=payload)
    client.force_login(admin)
    html = client.get(reverse("admin:articles_article_change", args=[live.pk])).content.decode()
    assert html.count("Reader report ") >= 2
    if "<" in payload:
        assert payload not in html


def test_dashboard_counts_open_reports(client, live):
    admin = make_user("boss", is_superuser=True)
    ReaderReport.objects.create(article=live, kind="other", description="a")
    ReaderReport.objects.create(article=live, kind="other", description="b", state="fixed")
    client.force_login(admin)
    html = client.get(reverse("admin:index")).content.decode()
    assert "Open reader reports (1)" in html


def test_admin_decline_action_needs_the_reason_written_first(client, live):
    admin = make_user("boss", is_superuser=True)
    report = ReaderReport.objects.create(
        article=live, kind="other", description="a", email="a@example.org"
    )
    client.force_login(admin)
    url = reverse("admin:articles_readerreport_changelist")
    client.post(url, {"action": "decline", "_selected_action": [report.pk]})
    report.refresh_from_db()
    assert report.state == "new"
    ReaderReport.objects.filter(pk=report.pk).update(decision_reason="The source agrees.")
    client.post(url, {"action": "decline", "_selected_action": [report.pk]})
    report.refresh_from_db()
    assert (report.state, report.email) == ("declined", "")


def change_url(report):
    return reverse("admin:articles_readerreport_change", args=[report.pk])


def test_declining_on_the_report_page_is_one_step_and_replies_once(client, live, mailoutbox):
    client.force_login(make_user("boss", is_superuser=True))
    report = ReaderReport.objects.create(
        article=live, claim_key="rapid-onset", kind="wrong", description="a", email="a@example.org"
    )

    response = client.post(
        change_url(report),
        {
            "decision_reason": "The trial reports 24 hours.",
            "reply": "Thank you: the trial measured symptoms at 24 hours, as the page says.",
            "_decline": "Decline",
        },
    )

    report.refresh_from_db()
    assert response.status_code == 302
    assert (report.state, report.decision_reason, report.email) == (
        "declined",
        "The trial reports 24 hours.",
        "",
    )
    [message] = mailoutbox
    assert message.to == ["a@example.org"]
    assert "the trial measured symptoms at 24 hours" in message.body
    assert "deleted your email address" in message.body
    assert live.title in message.subject


def test_declining_without_a_reason_on_the_report_page_changes_nothing(client, live, mailoutbox):
    client.force_login(make_user("boss", is_superuser=True))
    report = ReaderReport.objects.create(
        article=live, kind="wrong", description="a", email="a@example.org"
    )

    response = client.post(
        change_url(report),
        {"decision_reason": "", "reply": "Hello", "_decline": "Decline"},
        follow=True,
    )

    report.refresh_from_db()
    assert (report.state, report.email) == ("new", "a@example.org")
    assert mailoutbox == []
    assert "needs a reason" in response.content.decode()


def test_a_reply_to_a_report_without_email_is_refused(live):
    report = ReaderReport.objects.create(article=live, kind="wrong", description="a")

    with pytest.raises(WorkflowError, match="no email address"):
        reports.report_fixed(report=report, user=make_user("ed"), reply="Fixed, thanks.")

    report.refresh_from_db()
    assert report.state == "new"


def test_a_reply_that_cannot_be_sent_keeps_the_report_open(live, settings):
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 2},
        }
    }
    report = ReaderReport.objects.create(
        article=live, kind="wrong", description="a", email="a@example.org"
    )

    with pytest.raises(WorkflowError, match="could not be sent"):
        reports.report_fixed(report=report, user=make_user("ed"), reply="Fixed, thanks.")

    report.refresh_from_db()
    assert (report.state, report.email) == ("new", "a@example.org")


def test_marking_fixed_on_the_report_page_without_a_reply_sends_nothing(client, live, mailoutbox):
    client.force_login(make_user("boss", is_superuser=True))
    report = ReaderReport.objects.create(
        article=live, kind="broken-link", description="a", email="a@example.org"
    )

    client.post(
        change_url(report), {"decision_reason": "Link updated.", "reply": "", "_fixed": "x"}
    )

    report.refresh_from_db()
    assert (report.state, report.email) == ("fixed", "")
    assert mailoutbox == []


@pytest.mark.parametrize("role", ["author", "reviewer", "publisher"])
def test_every_role_reaches_the_queue_the_dashboard_links_to(client, live, role):
    ReaderReport.objects.create(article=live, kind="other", description="a")
    client.force_login(make_team()[role])

    dashboard = client.get(reverse("admin:index")).content.decode()
    queue = reverse("admin:articles_readerreport_changelist")

    assert f"{queue}?state__exact=new" in dashboard
    assert client.get(f"{queue}?state__exact=new").status_code == 200


@pytest.mark.parametrize(
    ("role", "decides"), [("author", False), ("reviewer", True), ("publisher", True)]
)
def test_clinical_reviewers_and_publishers_decide_reports(client, live, role, decides):
    report = ReaderReport.objects.create(article=live, kind="other", description="a")
    client.force_login(make_team()[role])

    client.post(
        reverse("admin:articles_readerreport_change", args=[report.pk]),
        {"decision_reason": "The source agrees with the page.", "reply": "", "_decline": "1"},
    )

    report.refresh_from_db()
    assert (report.state == "declined") is decides
