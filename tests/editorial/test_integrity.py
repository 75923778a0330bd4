import datetime
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from articles.models import Article, ArticleCitation, Citation, Claim, ClaimCitation, ReviewEvent
from articles.services import snapshots
from editorial.services import integrity, workflow
from evidence import fetching
from tests.factories import import_article, write_article

pytestmark = pytest.mark.django_db

RW = Path(__file__).parents[1] / "data" / "retraction-watch"
# Crossref's test prefix (10.5555) and unassigned PMIDs: no claim about a real paper.
TRIAL = {
    "id": "trial2020",
    "type": "article-journal",
    "title": "A randomised trial of an imaginary PTSD treatment",
    "author": [{"family": "Example", "given": "Ann"}],
    "container-title": "Journal of Test Fixtures",
    "issued": {"date-parts": [[2020]]},
    "DOI": "10.5555/ptsdinfo-test.trial",
    "PMID": "99000001",
}
REVIEW = {
    "id": "review2021",
    "type": "article-journal",
    "title": "A systematic review of imaginary PTSD treatments",
    "author": [{"family": "Example", "given": "Bob"}],
    "container-title": "Journal of Test Fixtures",
    "issued": {"date-parts": [[2021]]},
    "PMID": "99000002",
}
BODY = """\
[An imaginary treatment reduced symptoms in one trial [@trial2020]]{.claim #trial certainty=low}.

## Reviews

[Reviews agree it is promising [@review2021]]{.claim #reviews certainty=low}.
"""


def draft(tmp_path, team, *, slug="test-article", bibliography=(TRIAL, REVIEW), body=BODY):
    path = write_article(tmp_path / slug, slug=slug, bibliography=list(bibliography), body=body)
    return import_article(path, user=team["author"]).article


def approve(article, team):
    workflow.article_submit(article=article, user=team["author"])
    return workflow.article_approve(article=article, user=team["reviewer"])


def published(tmp_path, team, **kwargs):
    article = draft(tmp_path, team, **kwargs)
    approve(article, team)
    workflow.article_publish(article=article, user=team["publisher"])
    article.refresh_from_db()
    return article


def check(*args, capsys=None) -> int:
    """Run check_citations offline; the exit code (0 when it returned normally)."""
    try:
        call_command("check_citations", "--offline", *args)
    except SystemExit as exc:
        return exc.code
    return 0


def check_json(capsys, *args) -> tuple[int, dict]:
    code = check("--json", *args)
    return code, json.loads(capsys.readouterr().out)


# --- retractions -------------------------------------------------------------------------


def test_retraction_watch_csv_naming_a_cited_doi_marks_it_and_sends_the_article_back_to_review(
    tmp_path, team, client
):
    article = published(tmp_path, team)
    live = article.live_version

    code = check("--retractions", str(RW / "retracted.csv"))

    assert code == 1
    trial = Citation.objects.get(doi="10.5555/ptsdinfo-test.trial")
    assert trial.retraction_status == Citation.Retraction.RETRACTED
    assert trial.retraction_checked_at is not None
    assert "Retraction Watch record 90101" in trial.retraction_note
    assert "2024-03-01" in trial.retraction_note
    article.refresh_from_db()
    assert article.status == Article.Status.IN_REVIEW
    assert article.live_version == live  # the live version stays up
    event = article.events.get(from_state="published", to_state="in_review")
    assert event.actor is None
    assert "10.5555/ptsdinfo-test.trial" in event.comment
    page = client.get(article.get_absolute_url())
    assert page.status_code == 200
    html = page.content.decode()
    assert 'class="retraction-notice" role="note"' in html
    assert "has been retracted" in html
    assert "A randomised trial of an imaginary PTSD treatment" in html
    assert "A clinician is re-checking this page." in html


def test_clean_retraction_watch_csv_exits_0_and_records_the_check(tmp_path, team, client):
    article = published(tmp_path, team)

    code = check("--retractions", str(RW / "clean.csv"))

    assert code == 0
    assert set(Citation.objects.values_list("retraction_status", flat=True)) == {"none"}
    assert not Citation.objects.filter(retraction_checked_at__isnull=True).exists()
    article.refresh_from_db()
    assert article.status == Article.Status.PUBLISHED
    assert "retraction-notice" not in client.get(article.get_absolute_url()).content.decode()


def test_expression_of_concern_is_matched_by_pmid_when_the_doi_is_unavailable(
    tmp_path, team, client
):
    article = published(tmp_path, team)

    code = check("--retractions", str(RW / "concern.csv"))

    assert code == 1
    review = Citation.objects.get(pmid="99000002")
    assert review.retraction_status == Citation.Retraction.CONCERN
    article.refresh_from_db()
    assert article.status == Article.Status.IN_REVIEW
    assert "has an expression of concern" in client.get(article.get_absolute_url()).content.decode()


def test_notice_stays_until_a_reapproved_version_is_published(tmp_path, team, client):
    article = published(tmp_path, team)
    check("--retractions", str(RW / "concern.csv"))

    workflow.article_approve(article=article, user=team["reviewer"])
    article.refresh_from_db()
    assert article.retraction_notice  # approved, but the old version is still the live one

    workflow.article_publish(article=article, user=team["publisher"])
    article.refresh_from_db()
    assert article.retraction_notice == ""
    assert article.live_version.number == 2
    assert "retraction-notice" not in client.get(article.get_absolute_url()).content.decode()
    assert check() == 0  # nothing left waiting for re-approval


def test_running_the_same_check_again_flags_nothing_twice(tmp_path, team):
    article = published(tmp_path, team)
    check("--retractions", str(RW / "retracted.csv"))
    events = article.events.count()
    notice = Article.objects.get(pk=article.pk).retraction_notice

    code = check("--retractions", str(RW / "retracted.csv"))

    assert code == 1  # still waiting for a clinician
    assert article.events.count() == events
    assert Article.objects.get(pk=article.pk).retraction_notice == notice


def test_concern_that_becomes_a_retraction_is_described_once_as_retracted(tmp_path, team):
    article = published(tmp_path, team)
    Citation.objects.filter(pmid="99000001").update(retraction_status="expression-of-concern")
    trial = Citation.objects.get(pmid="99000001")
    Article.objects.filter(pk=article.pk).update(
        retraction_notice=integrity.notice_with("", citation=trial)
    )

    check("--retractions", str(RW / "retracted.csv"))

    notice = Article.objects.get(pk=article.pk).retraction_notice
    assert "has been retracted" in notice
    assert "expression of concern" not in notice
    assert notice.count(integrity.NOTICE_TAIL) == 1


def test_approved_but_unpublished_article_loses_its_approval(tmp_path, team):
    article = draft(tmp_path, team)
    approve(article, team)

    check("--retractions", str(RW / "retracted.csv"))

    article.refresh_from_db()
    assert article.status == Article.Status.IN_REVIEW
    assert article.retraction_notice == ""  # readers never saw it
    with pytest.raises(workflow.WorkflowError) as refused:
        workflow.article_publish(article=article, user=team["publisher"])
    assert refused.value.rule == "transition-table"


def test_draft_citing_a_retracted_source_gets_a_review_comment_and_keeps_its_state(tmp_path, team):
    article = draft(tmp_path, team)

    check("--retractions", str(RW / "retracted.csv"))

    article.refresh_from_db()
    assert article.status == Article.Status.DRAFT
    comment = article.events.get(kind=ReviewEvent.Kind.COMMENT)
    assert "has been retracted" in comment.comment


def test_reinstatement_is_reported_and_never_lowers_a_status(tmp_path, team, capsys):
    published(tmp_path, team)
    Citation.objects.filter(pmid="99000001").update(retraction_status="retracted")

    code, report = check_json(capsys, "--retractions", str(RW / "reinstated.csv"))

    assert Citation.objects.get(pmid="99000001").retraction_status == "retracted"
    assert report["retractions"] == []
    assert "Reinstatement" in report["notes"][0]
    assert code == 0


def test_retracted_source_blocks_reapproval_until_it_is_replaced(tmp_path, team):
    article = published(tmp_path, team)
    check("--retractions", str(RW / "retracted.csv"))

    with pytest.raises(workflow.WorkflowError) as refused:
        workflow.article_approve(article=article, user=team["reviewer"])

    assert refused.value.rule == "gates"


def test_file_without_retraction_watch_columns_is_refused_before_anything_changes(tmp_path, team):
    published(tmp_path, team)

    with pytest.raises(CommandError, match="not a Retraction Watch CSV"):
        check("--retractions", str(RW / "not-retraction-watch.csv"))
    with pytest.raises(CommandError, match="cannot read the file"):
        check("--retractions", str(RW / "no-such-file.csv"))
    assert not Citation.objects.filter(retraction_checked_at__isnull=False).exists()


# --- the online check ------------------------------------------------------------------------


class FakeClient:
    """Stands in for evidence.fetching.MetadataClient: answers from a dict, no network."""

    def __init__(self, updates=None, error=None):
        self.updates = updates or {}
        self.error = error
        self.asked = []

    def fetch_doi(self, doi):
        return self._answer(doi)

    def fetch_pmid(self, pmid):
        return self._answer(pmid)

    def _answer(self, identifier):
        self.asked.append(identifier)
        if self.error:
            raise self.error
        return fetching.FetchedCitation(
            item={"id": identifier},
            source="crossref",
            url="https://api.crossref.org/works/x",
            updated_by=tuple(self.updates.get(identifier, ())),
        )


def test_online_check_marks_a_retraction_from_crossref_updated_by(tmp_path, team, monkeypatch):
    article = published(tmp_path, team)
    notice = fetching.RetractionInfo(
        kind="retraction",
        date=datetime.date(2024, 3, 1),
        notice_doi="10.5555/ptsdinfo-test.notice",
        source="retraction-watch",
        label="Retraction",
    )
    client = FakeClient({"10.5555/ptsdinfo-test.trial": [notice]})
    monkeypatch.setattr(integrity, "crossref_client", lambda: client)

    with pytest.raises(SystemExit) as exited:
        call_command("check_citations")

    assert exited.value.code == 1
    assert set(client.asked) == {"10.5555/ptsdinfo-test.trial", "99000002"}  # PubMed by PMID
    assert Citation.objects.get(pmid="99000001").retraction_status == "retracted"
    assert (
        "Crossref: Retraction on 2024-03-01"
        in Citation.objects.get(pmid="99000001").retraction_note
    )
    article.refresh_from_db()
    assert article.status == Article.Status.IN_REVIEW


def test_online_check_is_skipped_with_the_reason_when_the_network_is_down(
    tmp_path, team, monkeypatch, capsys
):
    published(tmp_path, team)
    client = FakeClient(error=fetching.Unreachable("the address of api.crossref.org was not found"))
    monkeypatch.setattr(integrity, "crossref_client", lambda: client)

    call_command("check_citations")

    out = capsys.readouterr().out
    assert "crossref check skipped: the address of api.crossref.org was not found" in out
    assert len(client.asked) == 1  # it stops asking


def test_online_check_is_skipped_when_the_fetcher_is_missing(tmp_path, team, monkeypatch, capsys):
    published(tmp_path, team)

    def missing():
        raise integrity.CrossrefUnavailable("the metadata fetcher is not installed")

    monkeypatch.setattr(integrity, "crossref_client", missing)

    call_command("check_citations", "--json")

    report = json.loads(capsys.readouterr().out)
    assert report["online"] == {"checked": 0, "skipped": "the metadata fetcher is not installed"}
    assert report["needs_attention"] is False


# --- identifiers, duplicates, unused -------------------------------------------------------------


def test_identifier_that_disagrees_with_its_csl_record_is_reported_and_exits_1(
    tmp_path, team, capsys
):
    published(tmp_path, team)
    trial = Citation.objects.get(pmid="99000001")
    Citation.objects.filter(pk=trial.pk).update(csl={**trial.csl, "DOI": "doi: not a doi"})

    code, report = check_json(capsys)

    assert code == 1
    [problem] = report["identifier_problems"]
    assert problem["citation_id"] == trial.pk
    assert "not a valid DOI" in problem["message"]


def identifierless(key, title="Practice guideline for imaginary PTSD treatments"):
    return {
        "id": key,
        "type": "report",
        "title": title,
        "author": [{"literal": "Imaginary Guideline Group"}],
        "issued": {"date-parts": [[2022]]},
    }


SHARED_BODY = """\
[Guidelines recommend it [@guide]]{.claim #guide certainty=low}.

[Some trials agree [@trial2020; @guide]]{.claim #both certainty=low}.
"""
ONE_CLAIM = "[Guidelines recommend it [@guide]]{.claim #guide certainty=low}.\n"
DOUBLE_BODY = """\
[Cited twice under two keys [@guide-a; @guide-b, p. 4]]{.claim #twice certainty=low}.
"""


def test_merge_keeps_the_oldest_and_repoints_every_claim_without_losing_one(tmp_path, team, capsys):
    # Works without an identifier are created afresh by each import: real duplicates.
    first = published(
        tmp_path,
        team,
        slug="first",
        bibliography=[TRIAL, identifierless("guide")],
        body=SHARED_BODY,
    )
    second = draft(
        tmp_path,
        team,
        slug="second",
        bibliography=[identifierless("guide-a"), identifierless("guide-b")],
        body=DOUBLE_BODY,
    )
    guides = list(Citation.objects.filter(doi="", pmid="").order_by("created_at", "pk"))
    assert len(guides) == 3
    claims_before = {
        c.pk: set(c.claim_citations.values_list("relation", flat=True)) for c in Claim.objects.all()
    }
    first_hash = snapshots.article_content_hash(first)

    code, report = check_json(capsys, "--merge")

    assert code == 0
    [merged] = report["merged"]
    assert merged["keeper_id"] == guides[0].pk
    assert sorted(merged["merged_ids"]) == sorted(g.pk for g in guides[1:])
    assert merged["links_combined"] == 1  # claim "twice" cited both
    assert Citation.objects.filter(doi="", pmid="").count() == 1
    for claim in Claim.objects.all():  # every claim still has its support
        assert (
            set(claim.claim_citations.values_list("relation", flat=True)) == claims_before[claim.pk]
        )
    twice = ClaimCitation.objects.get(claim__key="twice")
    assert (twice.citation_id, twice.locator) == (guides[0].pk, "p. 4")
    assert set(ArticleCitation.objects.filter(article=second).values_list("key", "citation")) == {
        ("guide-a", guides[0].pk),
        ("guide-b", guides[0].pk),
    }
    # The article whose links moved has the merge in its trail; the keeper's own did not change.
    assert second.events.filter(comment__contains="Citation library merge").count() == 1
    assert not first.events.filter(comment__contains="Citation library merge").exists()
    first.refresh_from_db()
    assert first.status == Article.Status.PUBLISHED  # identical records: the draft is unchanged
    assert snapshots.article_content_hash(first) == first_hash


def test_merge_that_changes_a_published_draft_reopens_it_and_keeps_the_live_version(
    tmp_path, team, capsys
):
    keeper_article = published(
        tmp_path, team, slug="keeper", bibliography=[identifierless("guide")], body=ONE_CLAIM
    )
    # Another article cites the same work under another key: a second library record.
    edited = {**identifierless("guideline"), "note": "Seen in a later printing."}
    body = ONE_CLAIM.replace("@guide]", "@guideline]")
    other = published(tmp_path, team, slug="other", bibliography=[edited], body=body)
    live = other.live_version

    code, report = check_json(capsys, "--merge")

    assert code == 0
    assert report["merged"][0]["articles"] == ["other"]
    other.refresh_from_db()
    assert other.status == Article.Status.DRAFT  # its bibliography now shows the kept record
    assert other.live_version == live
    event = other.events.get(comment__contains="Citation library merge")
    assert (event.kind, event.from_state, event.to_state) == ("edit", "published", "draft")
    keeper_article.refresh_from_db()
    assert keeper_article.status == Article.Status.PUBLISHED


def test_duplicates_are_listed_and_exit_1_until_merged(tmp_path, team, capsys):
    draft(
        tmp_path,
        team,
        slug="one",
        bibliography=[identifierless("guide")],
        body=ONE_CLAIM,
    )
    draft(
        tmp_path,
        team,
        slug="two",
        bibliography=[identifierless("guide-copy")],
        body=ONE_CLAIM.replace("@guide]", "@guide-copy]"),
    )

    code, report = check_json(capsys)

    assert code == 1
    [group] = report["duplicates"]
    assert group["reasons"] == ["same title, year and first author"]
    assert group["mergeable"] is True
    assert Citation.objects.filter(doi="", pmid="").count() == 2  # nothing merged


def test_same_title_with_different_dois_is_never_merged(tmp_path, team, capsys):
    erratum = {**TRIAL, "id": "erratum", "DOI": "10.5555/ptsdinfo-test.other", "PMID": "99000009"}
    draft(
        tmp_path,
        team,
        bibliography=[TRIAL, erratum],
        body="[Both [@trial2020; @erratum]]{.claim #both certainty=low}.\n",
    )

    code, report = check_json(capsys, "--merge")

    assert code == 0  # listed for an editor, not an alarm: often two real works
    assert report["merged"] == []
    [group] = report["duplicates"]
    assert group["mergeable"] is False
    assert "different DOIs" in group["conflicts"][0]
    assert Citation.objects.count() == 2


def test_unused_citations_are_listed_without_failing(tmp_path, team, capsys):
    article = published(tmp_path, team)
    path = write_article(tmp_path / "v2", bibliography=[TRIAL], body=BODY.split("\n\n")[0] + "\n")
    import_article(path, user=team["author"])

    code, report = check_json(capsys)

    assert code == 0
    assert [row["key"] for row in report["unused"]] == ["review2021"]
    assert report["unused"][0]["in_bibliography"] is False
    article.refresh_from_db()
    assert article.status == Article.Status.DRAFT


def test_human_report_names_what_needs_attention(tmp_path, team, capsys):
    published(tmp_path, team)

    check("--retractions", str(RW / "retracted.csv"))

    out = capsys.readouterr().out
    assert "retracted (was none)" in out
    assert "test-article: published -> in_review, notice shown to readers" in out
    assert "crossref check skipped: offline (--offline)" in out
    assert out.rstrip().endswith("Needs attention.")


@pytest.mark.parametrize(
    "command",
    ["check_citations", "import_articles", "export_articles", "backup", "restore", "review_due"],
)
def test_every_operations_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exited:
        call_command(command, "--help")

    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "--json" in out
    assert len(out) > 300
