import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from articles.models import Article, ArticleVersion, Citation, ReviewEvent
from articles.roles import ROLES
from articles.services.snapshots import article_content_hash
from editorial.services import workflow
from editorial.services.gates import article_gates
from editorial.services.workflow import WorkflowError
from tests.factories import import_article, make_user, write_article

pytestmark = pytest.mark.django_db

UNCITED = "[Ketamine cures PTSD]{.claim #cure certainty=low}\n"


@pytest.fixture
def article(tmp_path, team):
    return import_article(write_article(tmp_path / "v1"), user=team["author"]).article


def submitted(article, team):
    workflow.article_submit(article=article, user=team["author"])
    return article


def approved(article, team):
    submitted(article, team)
    return workflow.article_approve(article=article, user=team["reviewer"])


def edit(tmp_path, user, old="was negative", new="found no benefit on PTSD symptoms"):
    path = write_article(tmp_path / f"edit-{old[:4]}-{new[:4]}")
    path.write_text(path.read_text().replace(old, new))
    return import_article(path, user=user).article


def test_roles_exist_after_migrate_with_exact_names():
    assert set(Group.objects.filter(name__in=ROLES).values_list("name", flat=True)) == set(ROLES)


def test_setup_roles_recreates_deleted_groups(capsys):
    Group.objects.filter(name="Publishers").delete()

    call_command("setup_roles")

    assert Group.objects.get(name="Publishers").permissions.exists()
    assert "Publishers: created" in capsys.readouterr().out


def test_full_cycle_draft_to_published_writes_an_event_per_transition(article, team):
    version = approved(article, team)
    workflow.article_publish(article=article, user=team["publisher"])

    article.refresh_from_db()
    assert article.status == Article.Status.PUBLISHED
    assert article.live_version == version
    transitions = list(
        article.events.filter(kind="transition").values_list("from_state", "to_state")
    )
    assert transitions == [
        ("draft", "in_review"),
        ("in_review", "approved"),
        ("approved", "published"),
    ]
    approval = article.events.get(to_state="approved")
    assert approval.actor == team["reviewer"]
    assert approval.content_hash == version.content_hash


def test_author_cannot_approve_own_work(tmp_path, team):
    article = import_article(write_article(tmp_path), user=team["reviewer2"]).article
    workflow.article_submit(article=article, user=team["reviewer2"])

    with pytest.raises(WorkflowError) as excinfo:
        workflow.article_approve(article=article, user=team["reviewer2"])

    assert excinfo.value.rule == "four-eyes"
    assert not ArticleVersion.objects.filter(article=article).exists()


def test_reviewer_who_edited_the_draft_cannot_approve_it(article, team, tmp_path):
    edit(tmp_path, team["reviewer2"])
    workflow.article_submit(article=article, user=team["author"])

    with pytest.raises(WorkflowError, match="four eyes"):
        workflow.article_approve(article=article, user=team["reviewer2"])


def test_only_clinical_reviewers_approve(article, team):
    submitted(article, team)
    boss = make_user("root", is_superuser=True)

    for user in (team["publisher"], team["author2"], boss):
        with pytest.raises(WorkflowError) as excinfo:
            workflow.article_approve(article=article, user=user)
        assert excinfo.value.rule == "role"


def test_transition_table_refuses_skipping_review(article, team):
    with pytest.raises(WorkflowError) as excinfo:
        workflow.article_publish(article=article, user=team["publisher"])

    assert excinfo.value.rule == "transition-table"
    assert "draft" in str(excinfo.value).lower()


def test_request_changes_needs_a_comment(article, team):
    submitted(article, team)

    with pytest.raises(WorkflowError) as excinfo:
        workflow.article_request_changes(article=article, user=team["reviewer"], comment=" ")

    assert excinfo.value.rule == "comment-required"


def test_changes_requested_then_edit_returns_to_draft_with_claim_comments(article, team, tmp_path):
    submitted(article, team)
    workflow.article_request_changes(
        article=article,
        user=team["reviewer"],
        comment="Report the veterans' trial accurately.",
        claim_comments={"veterans": "Say it was negative on PTSD outcomes."},
    )
    assert article.events.get(kind="comment").claim_key == "veterans"

    edited = edit(tmp_path, team["author"])

    assert edited.status == Article.Status.DRAFT


def test_edit_after_approval_voids_it(article, team, tmp_path):
    approved(article, team)

    edit(tmp_path, team["author"])

    article.refresh_from_db()
    assert article.status == Article.Status.DRAFT
    with pytest.raises(WorkflowError):
        workflow.article_publish(article=article, user=team["publisher"])


def test_approval_refused_if_draft_changed_since_reviewed(article, team):
    submitted(article, team)

    with pytest.raises(WorkflowError) as excinfo:
        workflow.article_approve(article=article, user=team["reviewer"], expected_hash="0" * 64)

    assert excinfo.value.rule == "content-hash"


def test_approval_with_uncited_claim_is_refused_and_names_the_claim(tmp_path, team):
    article = import_article(write_article(tmp_path, body=UNCITED), user=team["author"]).article
    submitted(article, team)

    with pytest.raises(WorkflowError) as excinfo:
        workflow.article_approve(article=article, user=team["reviewer"])

    assert excinfo.value.rule == "gates"
    assert "'cure'" in str(excinfo.value)
    assert "no supporting citation" in str(excinfo.value)


def test_approval_with_retracted_source_is_refused_and_names_the_claim(article, team):
    Citation.objects.filter(doi="10.1038/s41386-022-01266-9").update(retraction_status="retracted")
    submitted(article, team)

    with pytest.raises(WorkflowError) as excinfo:
        workflow.article_approve(article=article, user=team["reviewer"])

    assert "'veterans'" in str(excinfo.value)
    assert "retracted" in str(excinfo.value)


def test_approval_refused_without_summary_or_reviewer_credentials(tmp_path, team):
    path = write_article(tmp_path)
    path.write_text(path.read_text().replace("summary: What the research says, in brief.\n", ""))
    article = import_article(path, user=team["author"]).article
    submitted(article, team)
    team["reviewer"].profile.credentials = ""
    team["reviewer"].profile.save()

    with pytest.raises(WorkflowError) as excinfo:
        workflow.article_approve(article=article, user=team["reviewer"])

    codes = {p.code for p in excinfo.value.problems}
    assert codes == {"missing-summary", "reviewer-credentials"}


def test_gate_warnings_do_not_block(article, team):
    Citation.objects.update(study_design="rct", year=2001)

    problems = article_gates(article=article, reviewer=team["reviewer"])

    codes = {p.code for p in problems if not p.is_error}
    assert {"primary-only", "old-source"} <= codes
    assert not [p for p in problems if p.is_error]
    approved(article, team)


def test_reading_grade_above_target_warns(article, settings):
    settings.PTSDINFO_READING_GRADE_TARGET = 1

    problems = article_gates(article=article)

    assert any(p.code == "reading-grade" for p in problems)


def test_public_page_does_not_change_until_publish(article, team, tmp_path, client):
    approved(article, team)
    workflow.article_publish(article=article, user=team["publisher"])
    edit(tmp_path, team["author"])
    workflow.article_submit(article=article, user=team["author"])
    workflow.article_approve(article=article, user=team["reviewer"])

    assert "was negative" in client.get("/articles/test-article/").content.decode()

    workflow.article_publish(article=article, user=team["publisher"])
    page = client.get("/articles/test-article/").content.decode()
    assert "found no benefit on PTSD symptoms" in page


def test_approval_sets_review_dates_from_the_interval(article, team):
    version = approved(article, team)

    article.refresh_from_db()
    today = timezone.localdate()
    assert article.last_reviewed == today == version.last_reviewed
    assert article.next_review_due == version.next_review_due
    assert (article.next_review_due - today).days in range(365, 367)


def test_last_reviewed_moves_only_when_a_clinician_approves_again(article, team):
    approved(article, team)
    workflow.article_publish(article=article, user=team["publisher"])
    first_due = Article.objects.get(pk=article.pk).next_review_due

    workflow.article_submit(article=article, user=team["author"], comment="Annual re-review")
    article.refresh_from_db()
    assert article.next_review_due == first_due  # submitting does not move it
    second = workflow.article_approve(article=article, user=team["reviewer"])
    workflow.article_publish(article=article, user=team["publisher"])

    article.refresh_from_db()
    assert second.number == 2
    assert second.content_hash == article.versions.get(number=1).content_hash
    assert article.live_version == second


def test_scheduled_publishing_publishes_exactly_once(article, team, client):
    approved(article, team)
    go_live = timezone.now() + timedelta(hours=1)
    workflow.article_schedule(article=article, user=team["publisher"], at=go_live)

    assert workflow.publish_scheduled(now=go_live - timedelta(minutes=1)) == []
    assert client.get("/articles/test-article/").status_code == 404
    first = workflow.publish_scheduled(now=go_live + timedelta(minutes=1))
    second = workflow.publish_scheduled(now=go_live + timedelta(minutes=2))

    assert len(first) == 1 and second == []
    assert article.events.filter(to_state="published").count() == 1
    assert client.get("/articles/test-article/").status_code == 200


def test_schedule_in_the_past_is_refused(article, team):
    approved(article, team)

    with pytest.raises(WorkflowError, match="future"):
        workflow.article_schedule(
            article=article, user=team["publisher"], at=timezone.now() - timedelta(hours=1)
        )


def test_withdrawn_article_shows_tombstone_and_keeps_every_version(article, team, client):
    approved(article, team)
    workflow.article_publish(article=article, user=team["publisher"])

    workflow.article_withdraw(article=article, user=team["publisher"], reason="Superseded by X.")

    response = client.get("/articles/test-article/")
    assert response.status_code == 410
    assert "Superseded by X." in response.content.decode()
    assert ArticleVersion.objects.filter(article=article).count() == 1
    assert ArticleVersion.objects.get(article=article).withdrawn_at is not None


def test_withdraw_needs_a_reason(article, team):
    approved(article, team)
    workflow.article_publish(article=article, user=team["publisher"])

    with pytest.raises(WorkflowError, match="comment"):
        workflow.article_withdraw(article=article, user=team["publisher"], reason="")


def test_available_transitions_depend_on_state_and_role(article, team):
    names = {t.name for t in workflow.available_transitions(article=article, user=team["author"])}
    assert names == {"submit"}
    submitted(article, team)
    names = {t.name for t in workflow.available_transitions(article=article, user=team["reviewer"])}
    assert names == {"approve", "request_changes"}


def test_workflow_command_refusal_exits_nonzero_with_the_rule(article, team):
    call_command("workflow", article.slug, "submit", "--user", "alice")

    with pytest.raises(CommandError, match=r"refused \(role\)"):
        call_command("workflow", article.slug, "approve", "--user", "paul")


def test_workflow_command_takes_an_article_to_publication(article, team, capsys):
    for action, user in (("submit", "alice"), ("approve", "rita"), ("publish", "paul")):
        call_command("workflow", article.slug, action, "--user", user)

    assert "state is published" in capsys.readouterr().out


def test_article_info_json_reports_state_hash_and_gates(article, capsys):
    call_command("article_info", article.slug, "--json")

    info = json.loads(capsys.readouterr().out)
    assert info["state"] == "draft"
    assert info["draft_content_hash"] == article_content_hash(article)
    assert info["live_version"] is None
    assert isinstance(info["gates"], list)


def test_review_due_exits_1_when_any_review_is_overdue(article, team, capsys):
    approved(article, team)
    workflow.article_publish(article=article, user=team["publisher"])
    Article.objects.filter(pk=article.pk).update(
        next_review_due=timezone.localdate() - timedelta(days=3)
    )

    with pytest.raises(SystemExit) as excinfo:
        call_command("review_due", "--json")

    assert excinfo.value.code == 1
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["slug"] == "test-article" and rows[0]["overdue"]


def test_review_due_exits_0_when_nothing_is_overdue(article, team, capsys):
    approved(article, team)
    workflow.article_publish(article=article, user=team["publisher"])

    call_command("review_due", "--within", "400")

    assert "due in" in capsys.readouterr().out


def test_review_events_record_who_when_and_hash(article, team):
    before = timezone.now()
    submitted(article, team)

    event = ReviewEvent.objects.filter(article=article, kind="transition").get()
    assert event.actor == team["author"]
    assert before <= event.created_at <= timezone.now()
    assert event.content_hash == article_content_hash(article)


def test_public_page_lists_what_changed_from_version_summaries(article, team, tmp_path, client):
    approved(article, team)
    workflow.article_publish(article=article, user=team["publisher"])
    edit(tmp_path, team["author"])
    workflow.article_submit(
        article=article, user=team["author"], comment="Veterans' trial reworded."
    )
    workflow.article_approve(article=article, user=team["reviewer"])
    workflow.article_publish(article=article, user=team["publisher"])

    html = client.get("/articles/test-article/").content.decode()

    assert "What changed" in html
    assert "Veterans&#x27; trial reworded." in html


def test_diff_versions_command_shows_changed_text_and_claims(article, team, tmp_path, capsys):
    approved(article, team)
    workflow.article_publish(article=article, user=team["publisher"])
    path = write_article(tmp_path / "regrade")
    path.write_text(
        path.read_text()
        .replace("#veterans certainty=low", "#veterans certainty=moderate")
        .replace("was negative", "found no benefit")
    )
    import_article(path, user=team["author"])

    call_command("diff_versions", article.slug)

    out = capsys.readouterr().out
    assert "veterans" in out
    assert "moderate" in out
    assert "found no benefit" in out


def test_reviewer_grades_a_claim_in_the_text_and_may_still_approve(article, team):
    submitted(article, team)

    workflow.claim_grade(
        article=article,
        user=team["reviewer"],
        key="veterans",
        certainty="moderate",
        comment="One adequately sized RCT.",
    )

    body = article.sections.get(anchor="evidence").body
    assert "{.claim #veterans certainty=moderate}" in body
    assert article.claims.get(key="veterans").certainty == "moderate"
    assert article.events.filter(kind="comment", claim_key="veterans").exists()
    version = workflow.article_approve(article=article, user=team["reviewer"])
    assert 'id="claim-veterans" class="claim" data-certainty="moderate"' in version.html


def test_only_reviewers_grade_claims(article, team):
    submitted(article, team)

    with pytest.raises(WorkflowError) as excinfo:
        workflow.claim_grade(article=article, user=team["author"], key="veterans", certainty="high")

    assert excinfo.value.rule == "role"
