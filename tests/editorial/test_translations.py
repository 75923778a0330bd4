"""Translations, claim by claim (issue 18): the evidence facts stay the source's, four
eyes and fluency at approval, staleness after a new source version, withdrawal with
the source."""

import pytest

from articles.models import Article, ArticleTranslation, StaffProfile
from editorial.services import workflow
from editorial.services.translation_files import translation_export_text
from editorial.services.translation_staleness import claims_changed_between, stale_claims
from editorial.services.translations import (
    translation_approve,
    translation_facts_check,
    translation_publish,
    translation_request_changes,
    translation_save,
    translation_start,
    translation_submit,
)
from editorial.services.workflow import WorkflowError
from publicsite import article_page
from tests.factories import ARTICLE_BODY, import_article, publish, write_article

pytestmark = pytest.mark.django_db

SPANISH = {
    "PTSD treatments": "los tratamientos del TEPT",
    "## How it works {#mechanism}": "## Cómo funciona {#mechanism}",
    "A single infusion reduced symptoms at 24 hours": (
        "Una sola infusión redujo los síntomas a las 24 horas"
    ),
    "## Evidence {#evidence}": "## Pruebas {#evidence}",
    "The largest trial in veterans was negative": "El mayor ensayo en veteranos fue negativo",
}


def spanish(body: str) -> str:
    for english, translated in SPANISH.items():
        assert english in body, english
        body = body.replace(english, translated)
    return body


@pytest.fixture
def fluent(team):
    """Rita (reviewer) and Ravi (reviewer and author) read Spanish."""
    StaffProfile.objects.filter(user__in=[team["reviewer"], team["reviewer2"]]).update(
        languages="es"
    )
    for key in ("reviewer", "reviewer2"):
        team[key].refresh_from_db()
    return team


@pytest.fixture
def translation(published_article, fluent):
    started = translation_start(article=published_article, language="es", user=fluent["author"])
    return translation_save(
        translation=started,
        user=fluent["author"],
        title="Artículo de prueba",
        summary="Lo que dice la investigación, en breve.",
        body=spanish(started.body),
    )


def through_review(translation, team, reviewer="reviewer"):
    translation_submit(translation=translation, user=team["author"])
    version = translation_approve(translation=translation, user=team[reviewer])
    translation_publish(translation=translation, user=team["publisher"])
    # What the translation_published receiver does once the publication commits (a
    # test's transaction never commits): store the page.
    article_page.translation_page_store(translation=translation)
    return version


def test_a_translation_starts_as_the_live_versions_markdown_with_anchors_kept(
    published_article, team
):
    translation = translation_start(article=published_article, language="es", user=team["author"])

    assert translation.source_version == published_article.live_version
    assert translation.status == ArticleTranslation.Status.DRAFT
    assert "## How it works {#mechanism}" in translation.body
    assert "{.claim #veterans certainty=low}" in translation.body
    assert translation_facts_check(translation.source_version.snapshot, translation.body) == []


def test_only_configured_languages_and_only_live_articles(published_article, team, tmp_path):
    with pytest.raises(WorkflowError) as refused:
        translation_start(article=published_article, language="fr", user=team["author"])
    assert refused.value.rule == "translation-language"
    draft = import_article(write_article(tmp_path / "d", slug="draft-only")).article
    with pytest.raises(WorkflowError) as refused:
        translation_start(article=draft, language="es", user=team["author"])
    assert refused.value.rule == "translation-source"


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (lambda b: b.replace("[@feder2014, p. 683]", "[@feder2014, p. 684]"), "rapid-onset"),
        (lambda b: b.replace("[@abdallah2022]", "[@feder2014]"), "veterans"),
        (lambda b: b.replace("#rapid-onset certainty=moderate", "#rapid-onset certainty=high"),
         "rapid-onset"),
        (lambda b: b.replace("#veterans certainty=low", "#veterans-es certainty=low"), "veterans"),
        (lambda b: b + "\n[Una frase nueva [@feder2014]]{.claim #extra certainty=low}\n", "extra"),
        (lambda b: b.replace("negativo [@abdallah2022]]{.claim #veterans certainty=low}",
                             "negativo [@abdallah2022]]{.claim #veterans certainty=low "
                             "contradicts=feder2014}"), "veterans"),
    ],
    ids=["changed-locator", "changed-citation", "changed-grade", "removed-claim", "extra-claim",
         "added-contradiction"],
)  # fmt: skip
def test_a_save_that_changes_an_evidence_fact_is_refused_naming_the_claim(
    translation, team, edit, named
):
    before = translation.body
    with pytest.raises(WorkflowError) as refused:
        translation_save(
            translation=translation,
            user=team["author"],
            title=translation.title,
            summary=translation.summary,
            body=edit(before),
        )
    assert refused.value.rule == "translation-facts"
    assert f"Claim {named!r}" in str(refused.value)
    translation.refresh_from_db()
    assert translation.body == before


@pytest.mark.parametrize("field", ["title", "summary", "body"])
def test_a_translation_with_a_control_that_reorders_text_is_refused(translation, team, field):
    before = translation.body
    texts = {"title": translation.title, "summary": translation.summary, "body": before}
    texts[field] = texts[field].replace("a", "a\u202e", 1)

    with pytest.raises(WorkflowError) as refused:
        translation_save(translation=translation, user=team["author"], **texts)

    assert "reorders the text around it" in str(refused.value)
    translation.refresh_from_db()
    assert "\u202e" not in translation.title + translation.summary + translation.body


def test_a_translated_heading_must_keep_its_anchor(translation, team):
    with pytest.raises(WorkflowError) as refused:
        translation_save(
            translation=translation,
            user=team["author"],
            title=translation.title,
            summary="",
            body=translation.body.replace("## Pruebas {#evidence}", "## Pruebas"),
        )
    assert "Keep each heading's {#anchor}" in str(refused.value)


def test_claims_must_keep_their_order():
    one = "[One [@a]]{.claim #one certainty=low}"
    two = "[Two [@b]]{.claim #two certainty=low}"
    source = {"sections": [{"heading": "", "anchor": "lead", "body": f"{one} {two}\n"}]}

    assert translation_facts_check(source, f"{one} {two}\n") == []
    assert translation_facts_check(source, f"{two} {one}\n") == [
        "The claims must keep the source's order: one, two."
    ]


def test_the_optimistic_lock_refuses_a_stale_save(translation, team):
    from articles.services.translations import TranslationConflictError

    stale = translation.lock_version - 1
    with pytest.raises(TranslationConflictError):
        translation_save(
            translation=translation,
            user=team["author"],
            title="Otro título",
            summary="",
            body=translation.body,
            expected_lock_version=stale,
        )


def test_four_eyes_and_fluency_at_approval(translation, fluent):
    translation_submit(translation=translation, user=fluent["author"])

    StaffProfile.objects.filter(user=fluent["reviewer"]).update(languages="")
    fluent["reviewer"].refresh_from_db()
    with pytest.raises(WorkflowError) as refused:
        translation_approve(translation=translation, user=fluent["reviewer"])
    assert refused.value.rule == "translation-fluency"

    with pytest.raises(WorkflowError) as refused:
        translation_approve(translation=translation, user=fluent["author"])
    assert refused.value.rule == "role"

    translation_request_changes(translation=translation, user=fluent["reviewer2"], comment="x")
    translation_save(  # Ravi, fluent, edits: he may no longer approve it
        translation=translation,
        user=fluent["reviewer2"],
        title=translation.title,
        summary=translation.summary,
        body=translation.body.replace("negativo", "negativo en general"),
    )
    translation_submit(translation=translation, user=fluent["author"])
    with pytest.raises(WorkflowError) as refused:
        translation_approve(translation=translation, user=fluent["reviewer2"])
    assert refused.value.rule == "four-eyes"

    StaffProfile.objects.filter(user=fluent["reviewer"]).update(languages="es")
    fluent["reviewer"].refresh_from_db()
    version = translation_approve(translation=translation, user=fluent["reviewer"])
    assert version.reviewer == fluent["reviewer"] and version.translator == fluent["reviewer2"]
    assert translation.status == ArticleTranslation.Status.APPROVED

    with pytest.raises(WorkflowError) as refused:
        translation_publish(translation=translation, user=fluent["author"])
    assert refused.value.rule == "role"
    translation_publish(translation=translation, user=fluent["publisher"])
    translation.refresh_from_db()
    version.refresh_from_db()
    assert translation.live_version == version and version.published_at is not None
    assert "El mayor ensayo en veteranos fue negativo en general" in version.html


NEW_SOURCE = (
    ARTICLE_BODY.replace("24 hours", "24 and 48 hours")
    .replace("#veterans certainty=low", "#veterans certainty=very-low")
    .replace("[@feder2014]]{.claim #lead-claim", "[@feder2014; @abdallah2022]]{.claim #lead-claim")
)


def new_source_version(article, tmp_path, body=NEW_SOURCE):
    import_article(write_article(tmp_path / "v2", body=body))
    article.refresh_from_db()
    publish(article, change_summary="Updated.")
    article.refresh_from_db()
    return article.live_version


def test_a_new_source_version_makes_exactly_the_changed_claims_stale(translation, fluent, tmp_path):
    through_review(translation, fluent)
    translation.refresh_from_db()
    assert stale_claims(translation) == []

    new_source_version(translation.article, tmp_path)
    translation.refresh_from_db()

    stale = {claim.id: claim.reasons for claim in stale_claims(translation)}
    assert stale == {
        "lead-claim": ("citations",),
        "rapid-onset": ("text",),
        "veterans": ("grade",),
    }


def test_a_removed_or_added_source_claim_is_stale_too():
    old = {"claims": [{"id": "a", "statement": "A", "certainty": "low", "supports": []}]}
    new = {"claims": [{"id": "b", "statement": "B", "certainty": "low", "supports": []}]}
    assert [(c.id, c.reasons) for c in claims_changed_between(old, new)] == [
        ("b", ("added",)),
        ("a", ("removed",)),
    ]


def test_approval_is_refused_until_the_translation_translates_the_live_version(
    translation, fluent, tmp_path
):
    through_review(translation, fluent)
    translation.refresh_from_db()
    new_source_version(translation.article, tmp_path)
    translation.refresh_from_db()

    # An edit of the old translation is still checked against its old source ...
    translation_save(
        translation=translation,
        user=fluent["author"],
        title=translation.title,
        summary=translation.summary,
        body=translation.body.replace("fue negativo", "resultó negativo"),
    )
    translation_submit(translation=translation, user=fluent["author"])
    with pytest.raises(WorkflowError) as refused:
        translation_approve(translation=translation, user=fluent["reviewer"])
    assert refused.value.rule == "translation-stale-source"
    assert "bring the translation up to date" in str(refused.value)

    # ... and brought up to date, its saves must carry the new facts.
    translation_request_changes(translation=translation, user=fluent["reviewer"], comment="x")
    translation_start(article=translation.article, language="es", user=fluent["author"])
    translation.refresh_from_db()
    assert translation.source_version == translation.article.live_version
    with pytest.raises(WorkflowError) as refused:
        translation_save(
            translation=translation,
            user=fluent["author"],
            title=translation.title,
            summary=translation.summary,
            body=translation.body,
        )
    problems = "\n".join(refused.value.problems)
    assert "'lead-claim'" in problems and "'veterans'" in problems
    fixed = (
        translation.body.replace("#veterans certainty=low", "#veterans certainty=very-low")
        .replace(
            "[@feder2014]]{.claim #lead-claim", "[@feder2014; @abdallah2022]]{.claim #lead-claim"
        )
        .replace("a las 24 horas", "a las 24 y 48 horas")
    )
    translation_save(
        translation=translation,
        user=fluent["author"],
        title=translation.title,
        summary=translation.summary,
        body=fixed,
    )
    version = through_review(translation, fluent)
    translation.refresh_from_db()
    assert version.number == 2 and translation.live_version == version
    assert stale_claims(translation) == []


def test_withdrawing_the_article_withdraws_its_published_translation(
    translation, fluent, django_capture_on_commit_callbacks
):
    version = through_review(translation, fluent)
    article = Article.objects.get(pk=translation.article_id)

    with django_capture_on_commit_callbacks(execute=True):
        workflow.article_withdraw(article=article, user=fluent["publisher"], reason="Outdated.")

    translation.refresh_from_db()
    version.refresh_from_db()
    assert translation.status == ArticleTranslation.Status.WITHDRAWN
    assert translation.live_version is None and version.withdrawn_at is not None
    assert "Outdated." in translation.withdrawn_reason
    with pytest.raises(WorkflowError):
        translation_start(article=article, language="es", user=fluent["author"])


def test_a_translation_file_round_trips_through_export_and_import(translation, team, tmp_path):
    from django.core.management import call_command

    call_command("export_translation", "test-article", "es", "-o", str(tmp_path))
    path = tmp_path / "test-article.es.md"
    text = path.read_text()
    assert "language: es\ntranslation_of: test-article@1\n" in text
    assert "## Cómo funciona {#mechanism}" in text

    path.write_text(text.replace("fue negativo", "no mostró beneficio"))
    call_command("import_translation", str(path), "--user", team["author2"].username)

    translation.refresh_from_db()
    assert "no mostró beneficio" in translation.body
    assert translation.title == "Artículo de prueba"
    assert translation.contributors.filter(pk=team["author2"].pk).exists()
    assert translation_export_text(translation) == path.read_text()


def test_an_imported_translation_that_changes_a_fact_writes_nothing(translation, team, tmp_path):
    from django.core.management import CommandError, call_command

    path = tmp_path / "t.es.md"
    path.write_text(translation_export_text(translation).replace("certainty=low", "certainty=high"))
    before = translation.body
    with pytest.raises(CommandError, match="Claim 'lead-claim'"):
        call_command("import_translation", str(path), "--user", team["author"].username)
    translation.refresh_from_db()
    assert translation.body == before


def test_the_translation_command_takes_the_workflow_and_lists_stale_claims(
    translation, fluent, tmp_path
):
    import json
    from io import StringIO

    from django.core.management import CommandError, call_command

    def run(*args):
        out = StringIO()
        call_command("translation", "test-article", "es", *args, stdout=out)
        return out.getvalue()

    run("submit", "--user", fluent["author"].username)
    with pytest.raises(CommandError, match=r"refused \(role\)"):
        run("approve", "--user", fluent["author"].username)
    run("approve", "--user", fluent["reviewer"].username)
    assert "state is published" in run("publish", "--user", fluent["publisher"].username)

    new_source_version(translation.article, tmp_path)
    status = json.loads(run("status", "--json"))
    assert status["live_translates"] == 1 and status["english_live"] == 2
    assert {c["id"] for c in status["stale_claims"]} == {"lead-claim", "rapid-onset", "veterans"}


def test_every_step_of_a_translation_is_on_its_append_only_trail(
    translation, fluent, django_capture_on_commit_callbacks
):
    through_review(translation, fluent)
    with django_capture_on_commit_callbacks(execute=True):
        workflow.article_withdraw(
            article=translation.article, user=fluent["publisher"], reason="Outdated."
        )

    trail = [
        (e.kind, e.from_state, e.to_state, e.actor.username if e.actor else None)
        for e in translation.events.order_by("created_at", "id")
    ]
    assert trail == [
        ("start", "", "draft", "alice"),
        ("edit", "draft", "draft", "alice"),
        ("transition", "draft", "in_review", "alice"),
        ("transition", "in_review", "approved", "rita"),
        ("transition", "approved", "published", "paul"),
        ("transition", "published", "withdrawn", None),
    ]
    approved = translation.events.get(to_state="approved")
    assert approved.version.content_hash == approved.content_hash
    assert approved.source_number == 1
