"""Issue 11, items 2 and 3: evidence facts and what readers see beside an article.

- A citation's retraction status, its note and its study design change only through
  integrity.citation_evidence_set (check_citations, or a Clinical reviewer with a reason),
  with an append-only audit row; never through the stock admin change form.
- Topics are created and renamed only by Publishers/superusers; an author's draft may only
  use existing topics.
- A permission matrix: each admin-reachable field, which role may change it, checked by
  posting the real admin forms.
"""

import datetime

import pytest
from django.db import DatabaseError, transaction
from django.urls import reverse

from articles.articlefile import ArticleFileError, read_article_file
from articles.models import (
    Article,
    ArticleVersion,
    Citation,
    EvidenceFactChange,
    ReviewEvent,
    StaffProfile,
    Topic,
)
from articles.services.drafts import article_import
from editorial.services import integrity, workflow
from editorial.services.gates import article_gates
from tests.factories import import_article, make_user, write_article

pytestmark = pytest.mark.django_db

TRIAL = {
    "id": "trial2020",
    "type": "article-journal",
    "title": "A randomised trial of an imaginary PTSD treatment",
    "author": [{"family": "Example", "given": "Ann"}],
    "issued": {"date-parts": [[2020]]},
    "DOI": "10.5555/ptsdinfo-test.trial",
}
BODY = (
    "[An imaginary treatment reduced symptoms in one trial [@trial2020]]"
    "{.claim #trial certainty=low}.\n"
)
NOW = datetime.datetime(2026, 1, 2, tzinfo=datetime.UTC)


def draft(tmp_path, team, slug="test-article"):
    path = write_article(tmp_path / slug, slug=slug, bibliography=[TRIAL], body=BODY)
    return import_article(path, user=team["author"]).article


def published(tmp_path, team):
    article = draft(tmp_path, team)
    workflow.article_submit(article=article, user=team["author"])
    workflow.article_approve(article=article, user=team["reviewer"], change_summary="First.")
    workflow.article_publish(article=article, user=team["publisher"])
    article.refresh_from_db()
    return article


def trial():
    return Citation.objects.get(doi="10.5555/ptsdinfo-test.trial")


def retract_by_check(citation):
    return integrity.citation_retraction_apply(
        citation=citation,
        status=Citation.Retraction.RETRACTED,
        evidence="Retraction Watch record 1",
        checked_at=NOW,
    )


def change_url(citation):
    return reverse("admin:articles_citation_change", args=[citation.pk])


def evidence_url(citation):
    return reverse("admin:articles_citation_evidence", args=[citation.pk])


def stock_post(citation, **override):
    data = {"title": citation.title, "year": citation.year or "", "url": citation.url}
    data.update(override)
    return data


def evidence_panel(html: str) -> str:
    start = html.index('class="editor-panel evidence-panel"')
    return html[start : html.index("</section>", start)]


# --- item 2: the reproduction -------------------------------------------------------------


def test_author_posting_the_citation_form_cannot_clear_a_retraction(tmp_path, team, client):
    article = draft(tmp_path, team)
    citation = trial()
    retract_by_check(citation)
    assert any(
        p.code == "retracted-citation" or "retract" in p.message.lower()
        for p in article_gates(article=article)
        if p.is_error
    )

    client.force_login(team["author"])
    response = client.post(
        change_url(citation),
        stock_post(
            citation,
            retraction_status="none",
            retraction_note="",
            study_design="guideline",
            retraction_checked_at="",
        ),
    )

    assert response.status_code == 302  # the form saved what it may save ...
    citation.refresh_from_db()
    assert citation.retraction_status == Citation.Retraction.RETRACTED  # ... not this
    assert citation.retraction_note == "Retraction Watch record 1"
    assert citation.study_design != "guideline"
    assert any(p.is_error for p in article_gates(article=article))
    assert not EvidenceFactChange.objects.filter(actor=team["author"]).exists()


def test_the_change_form_shows_evidence_facts_read_only(team, client):
    citation = Citation.objects.create(key="x2020", title="X", csl={})
    client.force_login(team["author"])
    page = client.get(change_url(citation)).content.decode()
    assert 'name="retraction_status"' not in page
    assert 'name="study_design"' not in page
    assert 'name="title"' not in page  # the CSL item's, as readers get it
    assert "X" in page


@pytest.mark.parametrize("role", ["author", "publisher"])
def test_only_a_clinical_reviewer_reaches_the_evidence_form(team, client, role):
    citation = Citation.objects.create(
        key="x2020", title="X", csl={}, retraction_status=Citation.Retraction.RETRACTED
    )
    client.force_login(team[role])
    assert client.get(evidence_url(citation)).status_code == 403
    response = client.post(
        evidence_url(citation),
        {"retraction_status": "none", "study_design": "other", "reason": "I say so"},
    )
    assert response.status_code == 403
    citation.refresh_from_db()
    assert citation.retraction_status == Citation.Retraction.RETRACTED


def test_a_reviewer_must_give_a_reason(team, client):
    citation = Citation.objects.create(
        key="x2020", title="X", csl={}, retraction_status=Citation.Retraction.RETRACTED
    )
    client.force_login(team["reviewer"])
    response = client.post(
        evidence_url(citation),
        {"retraction_status": "none", "study_design": "other", "reason": "  "},
    )
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    citation.refresh_from_db()
    assert citation.retraction_status == Citation.Retraction.RETRACTED
    assert not EvidenceFactChange.objects.exists()


def test_reviewer_change_goes_through_the_service_and_is_audited(tmp_path, team, client):
    article = draft(tmp_path, team)
    citation = trial()
    retract_by_check(citation)
    client.force_login(team["reviewer"])

    response = client.post(
        evidence_url(citation),
        {
            "retraction_status": "correction",
            "retraction_note": "Publisher notice 2026-01-05: the retraction was an error",
            "study_design": "rct",
            "reason": "The journal withdrew the retraction notice.",
        },
    )

    assert response.status_code == 302
    citation.refresh_from_db()
    assert citation.retraction_status == Citation.Retraction.CORRECTION
    row = EvidenceFactChange.objects.get(field="retraction_status", source="reviewer")
    assert (row.from_value, row.to_value) == ("retracted", "correction")
    assert row.actor == team["reviewer"]
    assert row.reason == "The journal withdrew the retraction notice."
    # The relying article's trail names the change and the reason.
    comment = article.events.filter(kind=ReviewEvent.Kind.COMMENT).last().comment
    assert "retracted" in comment and "correction" in comment
    assert "withdrew the retraction notice" in comment


def test_reviewer_marking_retracted_flags_live_articles_like_check_citations(
    tmp_path, team, client
):
    article = published(tmp_path, team)
    client.force_login(team["reviewer"])
    client.post(
        evidence_url(trial()),
        {
            "retraction_status": "retracted",
            "retraction_note": "Journal notice 2026-01-03",
            "study_design": "rct",
            "reason": "Seen on the journal site.",
        },
    )
    article.refresh_from_db()
    assert article.status == Article.Status.IN_REVIEW
    assert article.retraction_notice  # readers are told, the live version stays up
    assert article.live_version is not None
    event = article.events.get(from_state="published", to_state="in_review")
    assert "reviewer rita" in event.comment and "Seen on the journal site." in event.comment


def test_check_citations_changes_are_audited_with_no_actor(tmp_path, team):
    draft(tmp_path, team)
    retract_by_check(trial())
    row = EvidenceFactChange.objects.get(field="retraction_status")
    assert (row.source, row.actor, row.from_value, row.to_value) == (
        "check_citations",
        None,
        "none",
        "retracted",
    )


def test_the_service_refuses_a_non_reviewer_or_no_reason(team):
    citation = Citation.objects.create(key="x2020", title="X", csl={})
    for actor, reason in (
        (team["author"], "why"),
        (team["publisher"], "why"),
        (team["reviewer"], ""),
        (None, "why"),
    ):
        with pytest.raises(integrity.EvidenceChangeRefused):
            integrity.citation_evidence_set(
                citation=citation,
                status="retracted",
                note="",
                source="reviewer",
                actor=actor,
                reason=reason,
            )
    citation.refresh_from_db()
    assert citation.retraction_status == "none"


def test_the_evidence_audit_is_append_only(team):
    citation = Citation.objects.create(key="x2020", title="X", csl={})
    integrity.citation_evidence_set(
        citation=citation,
        status="retracted",
        note="n",
        source="reviewer",
        actor=team["reviewer"],
        reason="seen",
    )
    row = EvidenceFactChange.objects.first()
    with pytest.raises(DatabaseError), transaction.atomic():
        EvidenceFactChange.objects.filter(pk=row.pk).update(to_value="none")
    with pytest.raises(DatabaseError), transaction.atomic():
        EvidenceFactChange.objects.filter(pk=row.pk).delete()


def test_review_page_lists_evidence_changes_since_the_last_approval(tmp_path, team, client):
    article = published(tmp_path, team)
    citation = trial()
    before = EvidenceFactChange.objects.count()
    integrity.citation_evidence_set(
        citation=citation,
        status="correction",
        note="Erratum 2026",
        source="reviewer",
        actor=team["reviewer"],
        reason="Erratum published",
    )
    assert EvidenceFactChange.objects.count() > before
    client.force_login(team["reviewer"])
    page = client.get(reverse("admin:articles_article_change", args=[article.pk]))
    panel = evidence_panel(page.content.decode())
    assert "Erratum published" in panel
    assert "none → correction" in panel
    assert "rita" in panel  # who


def test_review_page_omits_changes_older_than_the_last_approval(tmp_path, team, client):
    article = draft(tmp_path, team)
    integrity.citation_evidence_set(
        citation=trial(),
        status="correction",
        note="Old erratum",
        source="reviewer",
        actor=team["reviewer"],
        reason="An old erratum",
    )
    workflow.article_submit(article=article, user=team["author"])
    workflow.article_approve(article=article, user=team["reviewer"], change_summary="First.")
    client.force_login(team["reviewer"])
    html = client.get(reverse("admin:articles_article_change", args=[article.pk])).content
    panel = evidence_panel(html.decode())
    assert "An old erratum" not in panel
    assert "No change to the retraction status" in panel


# --- item 3: topics --------------------------------------------------------------------------


def test_an_authors_draft_cannot_create_a_topic(tmp_path, team):
    path = write_article(tmp_path / "a", slug="new-topic", bibliography=[TRIAL], body=BODY)
    path.write_text(
        path.read_text().replace("topics: [ptsd, treatments]", "topics: [ptsd, miracle-cures]")
    )
    with pytest.raises(ArticleFileError) as caught:
        article_import(source=read_article_file(path), user=team["author"])
    assert "unknown topic 'miracle-cures'" in str(caught.value)
    assert f"{path}:5" in str(caught.value)  # the file and the front matter line
    assert not Topic.objects.filter(slug="miracle-cures").exists()
    assert not Article.objects.filter(slug="new-topic").exists()


def test_the_operators_import_may_create_a_topic_and_records_it(tmp_path, team):
    path = write_article(tmp_path / "a", slug="new-topic", bibliography=[TRIAL], body=BODY)
    path.write_text(path.read_text().replace("treatments]", "sleep]"))
    result = article_import(source=read_article_file(path), user=None)
    assert Topic.objects.get(slug="sleep").name == "Sleep"
    assert result.article.events.filter(comment__contains="Topic(s) created by import: sleep")


def test_an_author_cannot_add_or_rename_a_topic_in_the_admin(team, client):
    topic = Topic.objects.get(slug="ptsd")
    client.force_login(team["author"])
    add = client.post(reverse("admin:articles_topic_add"), {"name": "Cures", "slug": "cures"})
    assert add.status_code == 403
    change = client.post(
        reverse("admin:articles_topic_change", args=[topic.pk]),
        {"name": "PTSD is cured", "slug": "ptsd"},
    )
    assert change.status_code == 403
    topic.refresh_from_db()
    assert topic.name == "PTSD"
    assert not Topic.objects.filter(slug="cures").exists()


# --- the permission matrix -----------------------------------------------------------------

ROLES = ["author", "reviewer", "publisher", "superuser"]


def _users(team):
    return {**team, "superuser": make_user("root", is_superuser=True, display_name="Root")}


def _citation():
    return Citation.objects.create(
        key="m2020",
        title="Matrix",
        year=2020,
        csl={},
        study_design="rct",
        retraction_status=Citation.Retraction.CONCERN,
        retraction_note="EoC 2025",
    )


def _profile(team):
    return StaffProfile.objects.get(user=team["reviewer"])


# (model, field, new value, roles that may change it through the stock admin form)
MATRIX = [
    # read from the CSL item readers get: a typed year could pass a check ("needs a
    # year") for a reference that readers see without one
    ("citation", "title", "Changed title", set()),
    ("citation", "year", 2001, set()),
    ("citation", "url", "https://example.org/x", set()),
    ("citation", "retraction_status", "none", set()),  # only citation_evidence_set
    ("citation", "retraction_note", "", set()),
    ("citation", "study_design", "guideline", set()),
    ("topic", "name", "Renamed", {"publisher", "superuser"}),
    # in the content hash and the topic page's address: fixed once made
    ("topic", "slug", "renamed", set()),
    ("staffprofile", "display_name", "Dr Someone Else", {"superuser"}),
    ("staffprofile", "credentials", "Professor", {"superuser"}),
    ("staffprofile", "conflict_of_interest", "None at all", {"superuser"}),
    ("staffprofile", "languages", "es", {"superuser"}),
    ("articleversion", "reviewer_name", "Dr Forged", set()),
    ("articleversion", "reviewer_credentials", "FRCPsych", set()),
]


# The topic page's inline of names in other languages (TopicTranslation), left empty.
NO_TOPIC_NAMES = {"translations-TOTAL_FORMS": "0", "translations-INITIAL_FORMS": "0"}


def _target(model, team, tmp_path):
    if model == "citation":
        obj = _citation()
        data = {"title": obj.title, "year": obj.year, "url": obj.url}
    elif model == "topic":
        obj = Topic.objects.get(slug="treatments")
        data = {"name": obj.name, "slug": obj.slug, **NO_TOPIC_NAMES}
    elif model == "staffprofile":
        obj = _profile(team)
        data = {
            "user": obj.user_id,
            "display_name": obj.display_name,
            "credentials": obj.credentials,
            "conflict_of_interest": obj.conflict_of_interest,
        }
    else:
        article = published(tmp_path, team)
        obj = ArticleVersion.objects.get(article=article)
        data = {"reviewer_name": obj.reviewer_name, "reviewer_credentials": "MD"}
    return obj, data


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("model", "field", "value", "allowed"), MATRIX)
def test_permission_matrix(tmp_path, team, client, role, model, field, value, allowed):
    users = _users(team)
    obj, data = _target(model, team, tmp_path)
    before = getattr(obj, field)
    client.force_login(users[role])
    response = client.post(
        reverse(f"admin:articles_{model}_change", args=[obj.pk]), {**data, field: value}
    )
    obj.refresh_from_db()
    if role in allowed:
        assert response.status_code == 302, response.content[:2000]
        assert getattr(obj, field) == value
    else:
        assert response.status_code in (302, 403)
        assert getattr(obj, field) == before, f"{role} changed {model}.{field}"


# --- item 3: topic names as approved ---------------------------------------------------------


def test_snapshot_carries_topic_names_and_the_public_page_shows_the_approved_ones(
    tmp_path, team, client
):
    article = published(tmp_path, team)
    assert article.live_version.snapshot["topic_names"] == {
        "ptsd": "PTSD",
        "treatments": "Treatments",
    }
    # Renamed later (by a Publisher): the published article keeps the approved name.
    Topic.objects.filter(slug="treatments").update(name="Miracle cures")
    page = client.get(article.get_absolute_url()).content.decode()
    assert "Treatments" in page
    assert "Miracle cures" not in page  # neither in the topic list nor in the JSON-LD


def test_public_page_shows_the_live_versions_topics_not_the_drafts(tmp_path, team, client):
    article = published(tmp_path, team)
    Topic.objects.create(slug="sleep", name="Sleep problems")
    article.topics.add(Topic.objects.get(slug="sleep"))  # a draft change, not yet approved
    page = client.get(article.get_absolute_url()).content.decode()
    assert "Sleep problems" not in page


def test_draft_preview_and_review_page_show_topic_names(tmp_path, team, client):
    article = draft(tmp_path, team)
    client.force_login(team["reviewer"])
    preview = client.get(reverse("editor:preview", args=[article.pk])).content.decode()
    assert "Treatments" in preview and '"keywords": "PTSD, Treatments"' in preview
    review = client.get(reverse("admin:articles_article_change", args=[article.pk]))
    panel = evidence_panel(review.content.decode())
    assert '<span class="topic-name">Treatments</span>' in panel


def test_topic_rename_by_a_publisher_is_logged(team, client):
    from django.contrib.admin.models import LogEntry

    topic = Topic.objects.get(slug="ptsd")
    client.force_login(team["publisher"])
    response = client.post(
        reverse("admin:articles_topic_change", args=[topic.pk]),
        {"name": "Post-traumatic stress disorder", "slug": "ptsd", **NO_TOPIC_NAMES},
    )
    assert response.status_code == 302
    entry = LogEntry.objects.get(object_id=str(topic.pk), user=team["publisher"])
    assert "name" in entry.get_change_message().lower()


def test_reviewer_credentials_shown_are_those_copied_at_approval(tmp_path, team, client):
    article = published(tmp_path, team)
    StaffProfile.objects.filter(user=team["reviewer"]).update(
        credentials="Nobel laureate", conflict_of_interest="None whatsoever"
    )
    page = client.get(article.get_absolute_url()).content.decode()
    assert "MD, psychiatrist" in page
    assert "Nobel laureate" not in page and "None whatsoever" not in page


def test_article_page_takes_topics_from_the_snapshot_without_a_query(
    tmp_path, team, client, django_assert_num_queries, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # stores the version's page
        article = published(tmp_path, team)
    url = article.get_absolute_url()
    client.get(url)
    # The article with its live version and its stored page: no topic query.
    with django_assert_num_queries(1):
        assert client.get(url).status_code == 200
    # Rendered afresh (a stale page): the version's sources and its history, still none.
    ArticleVersion.objects.filter(pk=article.live_version_id).update(page_key=None)
    with django_assert_num_queries(3):
        assert "Treatments" in client.get(url).content.decode()


def test_an_author_cannot_save_an_unknown_topic_from_the_editor(team, client):
    client.force_login(team["author"])
    data = {
        "title": "Sleep and PTSD",
        "slug": "",
        "summary": "Short.",
        "topics": ["ptsd", "miracle-cures"],
        "audience": "public",
        "review_interval_months": "12",
        "body": "Some text.\n",
    }
    response = client.post(reverse("admin:articles_article_add"), data)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "miracle-cures is not one of the available choices" in errors["topics"][0]
    assert not Article.objects.filter(slug="sleep-and-ptsd").exists()
    assert not Topic.objects.filter(slug="miracle-cures").exists()
    # The same draft with existing topics saves.
    data["topics"] = ["ptsd"]
    assert client.post(reverse("admin:articles_article_add"), data).status_code == 302


# --- what the checks read is what readers get ---------------------------------------------


def test_an_author_cannot_give_a_reference_the_year_its_csl_item_lacks(tmp_path, team, client):
    undated = {k: v for k, v in TRIAL.items() if k != "issued"}
    path = write_article(tmp_path / "undated", slug="undated", bibliography=[undated], body=BODY)
    article = import_article(path, user=team["author"]).article
    workflow.article_submit(article=article, user=team["author"])
    citation = trial()

    client.force_login(team["author"])
    client.post(change_url(citation), stock_post(citation, year=2025, title="A big trial"))

    citation.refresh_from_db()
    assert (citation.year, citation.title) == (None, TRIAL["title"])
    assert any("year" in p.message for p in article_gates(article=article) if p.is_error)


def test_adding_a_citation_starts_from_its_source(team, client):
    client.force_login(team["author"])

    response = client.get(reverse("admin:articles_citation_add"))

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:articles_citation_add_from_source")


def test_a_new_topic_gets_the_slug_its_publisher_gives_it(team, client):
    client.force_login(team["publisher"])

    response = client.post(
        reverse("admin:articles_topic_add"), {"name": "Sleep", "slug": "sleep", **NO_TOPIC_NAMES}
    )

    assert response.status_code == 302
    assert Topic.objects.filter(slug="sleep", name="Sleep").exists()
