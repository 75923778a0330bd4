"""The evidence watch (issue 17, part 2): saved searches, `watch_evidence` on recorded
E-utilities replies, the editor's three decisions through the admin, the gate warning.

The recorded HTTPS server (tests/evidence/test_fetching.py) on 127.0.0.1 serves the
synthetic records of tests/data/recorded/eutils/: Entrez dates 2026-02-11 (cohort),
03-15 (systematic review), 04-20 (guideline), 05-02 (RCT), 06-10 (meta-analysis),
07-03 (letter).
"""

import datetime
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from articles.models import (
    ArticleStatus,
    Citation,
    FoundEvidence,
    LiteratureSearch,
    ReviewEvent,
    SearchClaim,
)
from editorial.services import gates, watch
from editorial.services.workflow import WorkflowError
from evidence.fetching.eutils import Throttle
from tests.evidence.test_fetching import RecordedServer, make_certificate
from tests.factories import import_article, make_team, make_user, publish, write_article

pytestmark = pytest.mark.django_db
APRIL = datetime.date(2026, 4, 1)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = RecordedServer(*make_certificate(tmp_path_factory.mktemp("tls")))
    yield running
    running.close()


@pytest.fixture
def fetch_settings(settings, server, monkeypatch):
    """Every client the code builds from settings talks to the recorded server."""
    settings.PTSDINFO_FETCH_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.PTSDINFO_FETCH_PRIVATE_HOSTS = ["127.0.0.1"]
    settings.PTSDINFO_FETCH_CA_FILE = server.ca_file
    settings.PTSDINFO_FETCH_BASE_URLS = server.base_urls()
    settings.PTSDINFO_FETCH_CONTACT = "editors@example.org"
    monkeypatch.setattr(Throttle, "wait", lambda self: None)  # its own test: test_eutils
    return settings


@pytest.fixture
def team():
    return make_team()


@pytest.fixture
def live(tmp_path, team):
    article = import_article(write_article(tmp_path)).article
    publish(article)
    article.refresh_from_db()
    type(article).objects.filter(pk=article.pk).update(last_reviewed=APRIL)
    article.refresh_from_db()
    return article


def run(*args):
    """call_command, returning (exit code, stdout)."""
    from io import StringIO

    out = StringIO()
    try:
        call_command("watch_evidence", *args, stdout=out)
    except SystemExit as exit_:
        return exit_.code, out.getvalue()
    return 0, out.getvalue()


# --- searches ---------------------------------------------------------------------------


def test_a_live_article_gets_a_default_search_from_its_title_and_topics(live, fetch_settings):
    run()
    search = live.literature_searches.get()
    assert search.name == "Main search"
    assert search.query == "(test[tiab] AND article[tiab]) AND (ptsd[tiab] OR treatments[tiab])"


def test_only_a_clinical_reviewer_edits_a_search(live, team):
    with pytest.raises(WorkflowError, match="Clinical reviewer"):
        watch.search_save(article=live, user=team["author"], query="ketamine[tiab]")
    search = watch.search_save(
        article=live, user=team["reviewer"], query="ketamine[tiab]", claim_keys=["veterans"]
    )
    assert list(search.claims.values_list("claim_key", flat=True)) == ["veterans"]
    assert live.events.filter(kind=ReviewEvent.Kind.COMMENT, comment__contains="ketamine").exists()
    with pytest.raises(WorkflowError, match="No such claim"):
        watch.search_save(
            article=live, user=team["reviewer"], query="x", claim_keys=["nope"], search=search
        )


def test_an_author_cannot_add_or_change_a_search_in_the_admin(client, live, team):
    search = LiteratureSearch.objects.create(article=live, query="ketamine[tiab]")
    client.force_login(team["author"])
    change = reverse("admin:articles_literaturesearch_change", args=[search.pk])
    assert client.get(reverse("admin:articles_literaturesearch_add")).status_code == 403
    assert client.post(change, {"name": "Main search", "query": "hacked"}).status_code == 403
    search.refresh_from_db()
    assert search.query == "ketamine[tiab]"
    assert client.get(change).status_code == 200  # authors may read it


def test_a_reviewer_adds_a_search_with_claims_in_the_admin(client, live, team):
    client.force_login(team["reviewer"])
    add = reverse("admin:articles_literaturesearch_add")
    page = client.get(add + f"?article={live.pk}").content.decode()
    assert "(test[tiab] AND article[tiab])" in page  # the default, to edit
    response = client.post(
        add,
        {
            "article": live.pk,
            "name": "Veterans",
            "query": "ketamine[tiab] AND veterans[tiab]",
            "is_active": "on",
            "claim_keys": "veterans, rapid-onset",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    search = live.literature_searches.get(name="Veterans")
    assert search.updated_by == team["reviewer"]
    assert sorted(SearchClaim.objects.values_list("claim_key", flat=True)) == [
        "rapid-onset",
        "veterans",
    ]
    bad = client.post(
        add, {"article": live.pk, "name": "Other", "query": "x", "claim_keys": "unknown-claim"}
    )
    assert bad.status_code == 200 and "No such claim in the article: unknown-claim" in (
        bad.content.decode()
    )


# --- watch_evidence ---------------------------------------------------------------------------


def test_first_run_stores_the_new_works_and_exits_1_a_rerun_adds_nothing(live, fetch_settings):
    code, out = run()
    assert code == 1
    stored = dict(FoundEvidence.objects.values_list("pmid", "kind"))
    assert stored == {  # Entrez date on or after the last review (April 1st)
        "99000101": "meta-analysis",
        "99000102": "rct",
        "99000103": "guideline",
        "99000105": "other",
    }
    assert "4 new work(s), 3 to look at" in out
    assert "Meta-analysis" in out and "PMID 99000101" in out
    item = FoundEvidence.objects.get(pmid="99000101")
    assert item.journal == "Journal of Synthetic Test Records"
    assert item.entered_on == datetime.date(2026, 6, 10)
    assert item.publication_types == ["Journal Article", "Meta-Analysis", "Systematic Review"]
    assert (item.state, item.search.article) == ("new", live)

    code, out = run()
    assert code == 0
    assert FoundEvidence.objects.count() == 4
    assert "0 new work(s)" in out


def test_the_esearch_request_uses_the_last_review_and_the_contact(live, fetch_settings, server):
    run()
    from urllib.parse import parse_qs, urlsplit

    query = parse_qs(
        urlsplit(next(r for r in server.requests if "/esearch" in r["path"])["path"]).query
    )
    assert query["mindate"] == ["2026/04/01"] and query["datetype"] == ["edat"]
    assert query["email"] == ["editors@example.org"] and query["tool"] == ["ptsdinfo"]
    assert query["retmax"] == ["100"]


def test_since_widens_the_window_and_json_lists_each_work(live, fetch_settings):
    code, out = run("--since", "2026-01-01", "--json", "--article", live.slug)
    report = json.loads(out)
    assert code == 1
    assert report["new"] == 6 and report["notable"] == 4 and report["error"] is None
    (search,) = report["searches"]
    assert search["mindate"] == "2026-01-01" and search["count"] == 6
    assert {w["pmid"]: w["kind"] for w in search["new"]}["99000104"] == "systematic-review"


def test_only_unremarkable_news_exits_0(live, fetch_settings):
    code, out = run("--since", "2026-07-01")
    assert code == 0
    assert "1 new work(s), 0 to look at" in out
    assert list(FoundEvidence.objects.values_list("kind", flat=True)) == ["other"]


def test_results_per_search_are_bounded(live, fetch_settings):
    fetch_settings.PTSDINFO_WATCH_MAX_RESULTS = 2
    code, out = run("--since", "2026-01-01")
    assert code == 1  # the two newest: a letter and a meta-analysis
    assert FoundEvidence.objects.count() == 2
    assert "only the newest 2 were read" in out


def test_a_decision_is_never_undone_by_a_rerun(live, fetch_settings, team):
    run()
    item = FoundEvidence.objects.get(pmid="99000102")
    watch.found_dismiss(item=item, user=team["author"], reason="Off topic.")
    code, _ = run("--since", "2026-01-01")
    assert code == 1  # the systematic review of March is new to this wider window
    item.refresh_from_db()
    assert item.state == "dismissed" and FoundEvidence.objects.count() == 6


def test_drafts_are_not_watched_unless_named(tmp_path, team, fetch_settings):
    draft = import_article(write_article(tmp_path, slug="a-draft")).article
    run()
    assert not FoundEvidence.objects.exists()
    run("--article", "a-draft", "--since", "2026-07-01")
    assert draft.found_evidence.count() == 1
    with pytest.raises(CommandError, match="No article"):
        run("--article", "no-such-article")


def test_a_failing_search_exits_2_and_keeps_what_earlier_searches_found(live, fetch_settings):
    LiteratureSearch.objects.create(article=live, name="A", query="ketamine[tiab]")
    LiteratureSearch.objects.create(article=live, name="B", query="bad-query")
    with pytest.raises(CommandError, match="PubMed refused the query") as caught:
        run()
    assert caught.value.returncode == 2
    assert "Works already found are kept" in str(caught.value)
    assert FoundEvidence.objects.count() == 4
    assert live.literature_searches.get(name="A").last_run_at is not None


def test_an_unreachable_service_is_a_clear_error_and_writes_nothing(live, fetch_settings):
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    fetch_settings.PTSDINFO_FETCH_BASE_URLS = {
        "esearch": f"https://127.0.0.1:{port}/esearch",
        "esummary": f"https://127.0.0.1:{port}/esummary",
    }
    with pytest.raises(CommandError, match="could not connect") as caught:
        run()
    assert caught.value.returncode == 2
    assert not FoundEvidence.objects.exists()


def test_a_redirect_is_refused_so_the_watch_fails_safely(live, fetch_settings, server):
    fetch_settings.PTSDINFO_FETCH_BASE_URLS = server.base_urls("redirect")
    with pytest.raises(CommandError, match="redirects are never followed") as caught:
        run()
    assert caught.value.returncode == 2
    assert not FoundEvidence.objects.exists()


def test_a_host_off_the_allow_list_is_refused(live, fetch_settings):
    fetch_settings.PTSDINFO_FETCH_BASE_URLS = {"esearch": "https://evil.example/esearch"}
    with pytest.raises(CommandError, match="not one of the metadata services"):
        run()


def test_a_bad_since_date_is_refused():
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("watch_evidence", "--since", "last tuesday")


# --- the gate -------------------------------------------------------------------------------


def found(article, pmid, kind, entered, state="new", **extra):
    return FoundEvidence.objects.create(
        article=article, pmid=pmid, title=f"Work {pmid}", kind=kind, entered_on=entered,
        state=state, decided_at=None if state == "new" else datetime.datetime.now(datetime.UTC),
        **extra,
    )  # fmt: skip


def test_a_new_systematic_review_or_guideline_is_a_gate_warning_never_an_error(live):
    found(live, "11", "systematic-review", datetime.date(2026, 5, 1))
    found(live, "12", "guideline", datetime.date(2026, 5, 2))
    found(live, "13", "rct", datetime.date(2026, 5, 3))  # a trial: seen, but no warning
    found(live, "14", "systematic-review", datetime.date(2026, 3, 1))  # before the review
    found(live, "15", "guideline", datetime.date(2026, 5, 4), state="dismissed",
          decision_reason="Paediatric only.")  # fmt: skip
    found(live, "16", "meta-analysis", datetime.date(2026, 5, 5), state="added")
    problems = [p for p in gates.article_gates(article=live) if p.code == "new-evidence"]
    assert {p.level for p in problems} == {gates.WARNING}
    assert sorted(p.message.split("PMID ")[1][:2] for p in problems) == ["11", "12"]
    assert "new-evidence" in gates.GATES


def test_article_info_names_the_new_evidence_warning(live, capsys):
    found(live, "11", "guideline", datetime.date(2026, 5, 1))
    call_command("article_info", live.slug, "--json")
    report = json.loads(capsys.readouterr().out)
    codes = [p["code"] for p in report["gates"]]
    assert "new-evidence" in codes


# --- the admin: dashboard, review page, the three decisions ----------------------------------


def review_url(article):
    return reverse("admin:articles_article_change", args=[article.pk])


def action_url(item, action):
    return reverse("admin:articles_article_found", args=[item.article_id, item.pk, action])


def test_dashboard_and_review_page_show_new_evidence(client, live, team):
    found(live, "11", "guideline", datetime.date(2026, 5, 1))
    found(live, "12", "other", datetime.date(2026, 5, 2))
    found(live, "13", "rct", datetime.date(2026, 5, 2), state="dismissed", decision_reason="x")
    client.force_login(team["author"])
    dashboard = client.get(reverse("admin:index")).content.decode()
    assert "New evidence since last review (2)" in dashboard
    assert f"{review_url(live)}#new-evidence" in dashboard
    page = client.get(review_url(live)).content.decode()
    assert "New evidence since last review (2)" in page
    assert "Work 11" in page and "Work 13" not in page
    assert page.count("Start a re-review") == 2
    search = LiteratureSearch.objects.create(article=live, query="ketamine[tiab]")
    SearchClaim.objects.create(search=search, claim_key="veterans")
    FoundEvidence.objects.filter(pmid="11").update(search=search)
    page = client.get(review_url(live)).content.decode()
    assert 'May bear on <a href="#claim-row-veterans">veterans</a>' in page
    # The gate warning, named on the review page.
    assert '<code class="gate-code">new-evidence</code>' in page


def test_adding_to_the_library_uses_the_pmid_intake(client, live, team, fetch_settings):
    item = found(live, "99000104", "systematic-review", datetime.date(2026, 5, 1))
    client.force_login(team["author"])
    response = client.post(action_url(item, "add"))
    assert response.status_code == 302 and response["Location"].endswith("#new-evidence")
    item.refresh_from_db()
    citation = Citation.objects.get(pmid="99000104")
    assert (item.state, item.citation, item.decided_by) == ("added", citation, team["author"])
    assert citation.doi == "10.5555/synthetic.99000104"
    again = client.post(action_url(item, "add"), follow=True).content.decode()
    assert "already decided" in again


def test_a_work_already_in_the_library_is_linked_not_added_twice(live, team, fetch_settings):
    existing = Citation.objects.create(key="synthetic2026", title="Synthetic", pmid="99000104")
    item = found(live, "99000104", "systematic-review", datetime.date(2026, 5, 1))
    item, created = watch.found_add_to_library(item=item, user=team["author"])
    assert (created, item.citation, Citation.objects.count()) == (False, existing, 3)


def test_dismissing_needs_a_reason(client, live, team):
    item = found(live, "11", "guideline", datetime.date(2026, 5, 1))
    client.force_login(team["reviewer"])
    page = client.post(action_url(item, "dismiss"), {"reason": "  "}, follow=True)
    assert "Dismissing needs a reason" in page.content.decode()
    item.refresh_from_db()
    assert item.state == "new"
    client.post(action_url(item, "dismiss"), {"reason": "Children only; the page is for adults."})
    item.refresh_from_db()
    assert (item.state, item.decided_by, item.decision_reason) == (
        "dismissed",
        team["reviewer"],
        "Children only; the page is for adults.",
    )
    assert not [p for p in gates.article_gates(article=live) if p.code == "new-evidence"]


def test_starting_a_re_review_sends_the_live_article_back_to_review(client, live, team):
    item = found(live, "11", "guideline", datetime.date(2026, 5, 1))
    client.force_login(team["author"])
    client.post(action_url(item, "rereview"))
    live.refresh_from_db()
    item.refresh_from_db()
    assert live.status == ArticleStatus.IN_REVIEW
    assert item.state == "re-review" and item.decided_by == team["author"]
    note = live.events.get(kind=ReviewEvent.Kind.COMMENT, comment__contains="PMID 11")
    assert "Guideline" in note.comment
    # Still weighed in this review: the gate keeps warning until the re-approval.
    assert [p.code for p in gates.article_gates(article=live) if p.code == "new-evidence"]
    page = client.get(review_url(live)).content.decode()
    assert "Being weighed in a re-review" in page


def test_a_re_review_needs_the_submit_role(client, live, team):
    item = found(live, "11", "guideline", datetime.date(2026, 5, 1))
    client.force_login(team["reviewer"])  # a Clinical reviewer who is not an Author
    page = client.post(action_url(item, "rereview"), follow=True).content.decode()
    assert "may not submit" in page
    item.refresh_from_db()
    live.refresh_from_db()
    assert (item.state, live.status) == ("new", ArticleStatus.PUBLISHED)


def test_staff_without_a_role_cannot_decide(client, live):
    item = found(live, "11", "guideline", datetime.date(2026, 5, 1))
    client.force_login(make_user("nobody"))
    assert client.post(action_url(item, "dismiss"), {"reason": "x"}).status_code == 404
    assert client.get(action_url(item, "dismiss")).status_code in (404, 405)
    item.refresh_from_db()
    assert item.state == "new"


def test_an_item_of_another_article_or_an_unknown_action_is_404(client, live, team, tmp_path):
    other = import_article(write_article(tmp_path / "o", slug="other")).article
    item = found(other, "11", "guideline", datetime.date(2026, 5, 1))
    client.force_login(team["author"])
    url = reverse("admin:articles_article_found", args=[live.pk, item.pk, "dismiss"])
    assert client.post(url, {"reason": "x"}).status_code == 404
    assert client.post(action_url(item, "delete")).status_code == 404


# --- query counts ---------------------------------------------------------------------------


def queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_review_page_and_lists_query_count_does_not_grow_with_found_works(client, live, team):
    client.force_login(team["author"])
    search = LiteratureSearch.objects.create(article=live, query="ketamine[tiab]")
    SearchClaim.objects.create(search=search, claim_key="veterans")
    found(live, "11", "guideline", datetime.date(2026, 5, 1), search=search)
    urls = [
        review_url(live),
        reverse("admin:index"),
        reverse("admin:articles_foundevidence_changelist"),
        reverse("admin:articles_literaturesearch_changelist"),
    ]
    before = [queries(client, url) for url in urls]
    for n in range(12, 30):
        found(live, str(n), "rct", datetime.date(2026, 5, 1), search=search)
    LiteratureSearch.objects.create(article=live, name="Second", query="esketamine[tiab]")
    assert [queries(client, url) for url in urls] == before


def test_hostile_titles_from_pubmed_are_plain_text_in_the_admin(client, live, team):
    payload = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    found(live, "11", "guideline", datetime.date(2026, 5, 1), journal=payload)
    FoundEvidence.objects.filter(pmid="11").update(title=payload)
    client.force_login(team["author"])
    for url in (review_url(live), reverse("admin:articles_foundevidence_changelist")):
        html = client.get(url).content.decode()
        assert payload not in html and "&lt;script&gt;" in html, url
