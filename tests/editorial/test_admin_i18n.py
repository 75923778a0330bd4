"""The staff side in the language each staff member chose (issue 18): every admin
template string is marked, the interface language on the staff profile decides the
admin's language (never the browser's), and emails go out in the right language."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from articles.models import Article, ReaderReport, StaffProfile
from articles.roles import AUTHORS
from editorial.services import reminders, reports, workflow
from tests.factories import import_article, make_user, publish, write_article
from tests.publicsite.test_i18n import _unmarked

pytestmark = pytest.mark.django_db

ADMIN_TEMPLATES = sorted((Path(__file__).resolve().parents[2] / "templates/admin").rglob("*.html"))


@pytest.mark.parametrize(
    "template", ADMIN_TEMPLATES, ids=lambda path: str(path.relative_to(path.parents[2]))
)
def test_no_visible_text_in_an_admin_template_is_left_unmarked(template):
    assert _unmarked(template.read_text()) == []


def test_every_admin_template_is_checked():
    names = {path.name for path in ADMIN_TEMPLATES}
    assert {"article_editor.html", "article_diff.html", "otp_verify.html", "index.html"} <= names


# --- the admin in the staff member's language -------------------------------------------


@pytest.fixture
def article(tmp_path, team):
    return import_article(write_article(tmp_path), user=team["author"]).article


def speaks(user, language: str) -> None:
    StaffProfile.objects.filter(user=user).update(interface_language=language)


def html_of(response) -> str:
    return response.content.decode()


def change_url(article) -> str:
    return reverse("admin:articles_article_change", args=[article.pk])


def test_a_staff_member_who_chose_spanish_gets_the_editor_in_spanish(client, team, article):
    speaks(team["author"], "es")
    client.force_login(team["author"])

    response = client.get(change_url(article))
    html = html_of(response)

    assert response["Content-Language"] == "es"
    assert '<html lang="es"' in html
    assert "Controles de publicación" in html
    assert "Guardar borrador" in html
    assert "Enviar a revisión clínica" in html  # the workflow button
    assert "Con el autor" in html  # who holds it
    assert ">Borrador</span>" in html  # the state, a model choice
    assert "Publication checks" not in html


def test_english_is_the_default_and_the_browsers_language_decides_nothing(client, team, article):
    client.force_login(team["author"])

    response = client.get(change_url(article), HTTP_ACCEPT_LANGUAGE="es")
    html = html_of(response)

    assert response["Content-Language"] == "en"
    assert "Publication checks" in html
    assert "Save draft" in html
    assert "Controles de publicación" not in html


def test_the_review_page_and_a_gate_refusal_come_in_the_reviewers_language(client, team, article):
    workflow.article_submit(article=article, user=team["author"])
    Article.objects.filter(pk=article.pk).update(summary="")
    speaks(team["reviewer"], "es")
    client.force_login(team["reviewer"])

    page = html_of(client.get(change_url(article)))
    assert "Afirmaciones (" in page and "Registrar" in page  # the claims grading table
    assert "El artículo no tiene resumen." in page  # the gate, before approving

    response = client.post(
        reverse("admin:articles_article_transition", args=[article.pk, "approve"]), follow=True
    )
    html = html_of(response)
    assert "Aprobación rechazada mientras persistan estos problemas:" in html
    assert "missing-summary" in html  # the rule's code is an identifier: never translated
    article.refresh_from_db()
    assert article.status == Article.Status.IN_REVIEW


def test_the_comparison_page_summarises_in_spanish(client, team, article):
    speaks(team["author"], "es")
    client.force_login(team["author"])

    html = html_of(client.get(reverse("admin:articles_article_diff", args=[article.pk])))

    assert "Primera versión:" in html and "afirmaciones" in html
    assert "Comparar" in html


def test_the_same_gate_refusal_in_english_for_an_english_reviewer(client, team, article):
    workflow.article_submit(article=article, user=team["author"])
    Article.objects.filter(pk=article.pk).update(summary="")
    client.force_login(team["reviewer"])

    response = client.post(
        reverse("admin:articles_article_transition", args=[article.pk, "approve"]), follow=True
    )

    html = html_of(response)
    assert "Approval refused while these problems stand:" in html
    assert "The article has no summary." in html


def test_a_refusal_raised_outside_a_request_stays_english(team, article):
    with pytest.raises(workflow.WorkflowError) as refusal:
        workflow.article_approve(article=article, user=team["author"])
    assert "Cannot approve test-article" in str(refusal.value)
    assert refusal.value.rule == "transition-table"


def test_staff_choose_their_language_on_the_language_page(client, team):
    client.force_login(team["publisher"])
    page = html_of(client.get(reverse("interface_language")))
    assert 'href="/admin/language/"' in html_of(client.get(reverse("admin:index")))
    assert 'value="es"' in page

    response = client.post(reverse("interface_language"), {"language": "es"}, follow=True)

    html = html_of(response)
    assert "Idioma guardado." in html
    assert "En espera de usted" in html  # the dashboard, now in Spanish
    assert StaffProfile.objects.get(user=team["publisher"]).interface_language == "es"
    assert client.post(reverse("interface_language"), {"language": "fr"}).status_code == 200
    assert StaffProfile.objects.get(user=team["publisher"]).interface_language == "es"


def test_choosing_a_language_creates_the_profile_of_someone_without_one(client):
    user = make_user("nora", groups=[AUTHORS])
    client.force_login(user)

    client.post(reverse("interface_language"), {"language": "es"})

    assert StaffProfile.objects.get(user=user).interface_language == "es"
    assert StaffProfile.objects.get(user=user).display_name == "nora"


def test_a_spanish_speaking_editor_still_gets_english_public_pages_at_english_addresses(
    client, team
):
    speaks(team["author"], "es")
    client.force_login(team["author"])

    assert '<html lang="en">' in html_of(client.get("/about/"))
    assert '<html lang="es">' in html_of(client.get("/es/about/"))


def test_the_language_of_one_request_does_not_leak_into_the_next(client, team, article):
    speaks(team["author"], "es")
    client.force_login(team["author"])
    client.get(change_url(article))

    assert translation.get_language() == "en"
    assert str(workflow.TRANSITIONS["submit"].label) == "Submit for clinical review"


def test_a_change_made_for_someone_in_the_profile_admin_applies_at_their_next_sign_in(
    client, team, article
):
    client.force_login(team["author"])
    assert "Save draft" in html_of(client.get(change_url(article)))
    speaks(team["author"], "es")
    assert "Save draft" in html_of(client.get(change_url(article)))  # kept in the session

    client.force_login(team["author"])

    assert "Guardar borrador" in html_of(client.get(change_url(article)))


# --- emails ----------------------------------------------------------------------------


def due_article(tmp_path, owner, days=-3):
    article = import_article(write_article(tmp_path), user=owner).article
    publish(article)
    Article.objects.filter(pk=article.pk).update(
        owner=owner, next_review_due=timezone.localdate() + timedelta(days=days)
    )
    return Article.objects.get(pk=article.pk)


REMINDERS = [
    (
        "es",
        "[ptsdinfo] Revisión clínica vencida: Test article",
        ["Hola, Dr Olive:", "VENCIDA desde", "(3 días)"],
    ),
    (
        "en",
        "[ptsdinfo] Clinical review overdue: Test article",
        ["Hello Dr Olive,", "OVERDUE since", "(3 days)"],
    ),
]


@pytest.mark.parametrize(("language", "subject", "phrases"), REMINDERS)
def test_the_review_reminder_is_in_the_editors_language(
    tmp_path, mailoutbox, language, subject, phrases
):
    owner = make_user("olive", email="olive@example.org", display_name="Dr Olive")
    speaks(owner, language)
    article = due_article(tmp_path, owner)

    reminders.review_reminders_send(articles=[article], today=timezone.localdate())

    [mail] = mailoutbox
    assert mail.subject == subject
    for phrase in phrases:
        assert phrase in mail.body
    assert translation.get_language() == "en"


@pytest.fixture
def live(tmp_path, team):
    article = import_article(write_article(tmp_path), user=team["author"]).article
    publish(article)
    return Article.objects.get(pk=article.pk)


def test_a_report_records_the_language_of_the_page_it_came_from(live):
    english = reports.report_submit(
        article=live, claim_key="", kind="wrong", description="x", address="1"
    )
    with translation.override("es"):
        spanish = reports.report_submit(
            article=live, claim_key="", kind="wrong", description="y", address="2"
        )

    assert (english.language, spanish.language) == ("en", "es")


REPLIES = [
    (
        "es",
        "[ptsdinfo] Su reporte sobre «Test article»",
        ["Hola:", "Gracias por informarnos", "Nuestros editores lo revisaron.", "marque 2"],
        "Thank you",
    ),
    (
        "en",
        "[ptsdinfo] Your report about “Test article”",
        ["Hello,", "Thank you for reporting a problem with the page", "call or text 988"],
        "Gracias",
    ),
]


@pytest.mark.parametrize(("language", "subject", "phrases", "absent"), REPLIES)
def test_the_reply_to_a_reader_is_in_the_language_they_reported_in(
    client, team, live, mailoutbox, language, subject, phrases, absent
):
    report = ReaderReport.objects.create(
        article=live, kind="wrong", description="Old", email="r@example.org", language=language
    )
    client.force_login(make_user("boss", is_superuser=True))  # English: no profile

    client.post(
        reverse("admin:articles_readerreport_change", args=[report.pk]),
        {"decision_reason": "Checked", "reply": "We fixed it.", "_fixed": "Mark fixed"},
    )

    [mail] = mailoutbox
    assert mail.subject == subject
    for phrase in phrases:
        assert phrase in mail.body
    assert absent not in mail.body
    assert "We fixed it." in mail.body  # the editor's own words, as written
    report.refresh_from_db()
    assert report.state == ReaderReport.State.FIXED


# --- the editor's JavaScript ------------------------------------------------------------


def test_the_editors_javascript_catalogue_is_in_the_staff_members_language(client, team):
    catalogue = reverse("editor:jsi18n")
    speaks(team["author"], "es")
    client.force_login(team["author"])

    spanish = client.get(catalogue)

    assert spanish.status_code == 200
    assert spanish["Content-Type"].startswith("text/javascript")
    assert '"Formato y citas"' in html_of(spanish)  # the toolbar's name
    assert '"Cite": "Citar"' in html_of(spanish)
    assert "no-cache" in spanish["Cache-Control"]  # one address, two languages

    speaks(team["author"], "en")
    client.force_login(team["author"])
    assert "Formato y citas" not in html_of(client.get(catalogue))


def test_the_editors_javascript_catalogue_is_staff_only(client):
    assert client.get(reverse("editor:jsi18n")).status_code == 404


def test_the_editor_loads_the_catalogue_before_its_modules(client, team, article):
    client.force_login(team["author"])
    html = html_of(client.get(change_url(article)))

    catalogue = html.index(f'<script src="{reverse("editor:jsi18n")}"></script>')
    assert catalogue < html.index('<script type="module" src="/static/js/editor.js">')


def test_the_admin_names_the_models_in_the_staff_members_language(client, team):
    speaks(team["publisher"], "es")
    client.force_login(team["publisher"])

    html = html_of(client.get(reverse("admin:index")))

    assert ">Versiones de artículos</a>" in html
    assert ">Búsquedas bibliográficas</a>" in html
    assert "Article versions" not in html
