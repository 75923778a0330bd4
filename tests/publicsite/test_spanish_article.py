"""The Spanish page of an article (issue 18): the published translation at
/es/articles/<slug>/, with the English page's public hooks, localised labels, and a
notice on each claim whose English changed since."""

import re

import pytest

from editorial.services.workflow import article_withdraw
from tests.editorial import test_translations
from tests.editorial.test_translations import new_source_version, through_review
from tests.publicsite import test_caching

# The translation fixtures of the workflow tests: Spanish readers on the team, and a
# draft translation of the test article.
fluent = test_translations.fluent
translation = test_translations.translation
purge_server = test_caching.purge_server

pytestmark = pytest.mark.django_db

URL = "/es/articles/test-article/"


@pytest.fixture
def published(translation, fluent):
    through_review(translation, fluent)
    translation.refresh_from_db()
    return translation


def html_of(response) -> str:
    return response.content.decode()


def test_no_spanish_page_without_a_published_translation(client, translation):
    assert client.get(URL).status_code == 404  # a draft translation is not public
    assert client.get("/es/articles/no-such-article/").status_code == 404


def test_the_spanish_page_shows_the_translation_with_the_english_hooks(client, published):
    response = client.get(URL)
    html = html_of(response)

    assert response.status_code == 200
    assert '<html lang="es">' in html
    assert '<h1 id="article-title">Artículo de prueba</h1>' in html
    assert "Una sola infusión redujo los síntomas a las 24 horas" in html
    english = html_of(client.get("/articles/test-article/"))
    hooks = re.compile(r'id="claim-[^"]+" class="claim" data-certainty="[^"]+"|id="ref-\d+"')
    assert hooks.findall(html) == hooks.findall(english) != []
    assert 'id="references"' in html
    # Localised: certainty labels, the legend, fixed text from the renderer.
    assert "Certeza baja" in html and "Low certainty" not in html
    assert "<h2>Referencias</h2>" in html
    assert "¿Qué tan segura es la evidencia?" in html
    assert "Revisión médica de" in html
    assert '"inLanguage": "es"' in html
    # Both pages name each other; the switcher keeps the reader on the article.
    for page in (html, english):
        assert 'hreflang="es" href="http://testserver/es/articles/test-article/"' in page
        assert 'hreflang="en" href="http://testserver/articles/test-article/"' in page
    assert '<a href="/es/articles/test-article/" lang="es" hreflang="es">Español</a>' in english
    assert '<a href="/articles/test-article/" lang="en" hreflang="en">English</a>' in html
    assert "translation-stale" not in html


def test_the_spanish_page_costs_one_query(client, published, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert client.get(URL).status_code == 200


def test_a_claim_changed_in_english_carries_a_notice_until_retranslated(
    client, published, tmp_path
):
    new_source_version(published.article, tmp_path)
    published.article.refresh_from_db()
    updated = published.article.live_version.published_at

    html = html_of(client.get(URL))

    notices = re.findall(
        r'<span class="translation-stale" role="note">([^<]*)</span> <span id="claim-([^"]+)"',
        html,
    )
    assert {claim for _text, claim in notices} == {"lead-claim", "rapid-onset", "veterans"}
    day = f"{updated.day} de "
    assert all(
        text.startswith(f"Esta parte se actualizó en inglés el {day}")
        and text.endswith("la traducción al español está en revisión.")
        for text, _claim in notices
    )
    assert "3 partes de esta página se actualizaron en inglés" in html
    # The English page has no notice.
    assert "translation-stale" not in html_of(client.get("/articles/test-article/"))


def test_a_translation_withdrawn_with_its_article_answers_410_in_spanish(client, published, team):
    article = published.article
    article_withdraw(article=article, user=team["publisher"], reason="Superseded.")

    response = client.get(URL)
    html = html_of(response)

    # As the English page does (test_withdrawn_article_answers_410_with_a_tombstone).
    assert response.status_code == client.get("/articles/test-article/").status_code == 410
    assert '<html lang="es">' in html
    assert "<h1>Este artículo se ha retirado</h1>" in html
    assert "Hemos retirado «Artículo de prueba» y ya no lo publicamos." in html
    # The reason is the editors' own words, in English, and says so.
    assert '<strong>Motivo:</strong> <span lang="en">Superseded.</span>' in html
    assert '<meta name="robots" content="noindex">' in html
    assert "Una sola infusión" not in html and "This article has been withdrawn" not in html
    assert "Read this article in English" not in html and "Lea este artículo en inglés" not in html


def test_a_translation_withdrawn_on_its_own_answers_410_and_offers_the_english(client, published):
    from articles.services.translations import translation_withdraw

    translation_withdraw(translation=published, reason="Se está revisando la traducción.")

    response = client.get(URL)
    html = html_of(response)

    assert response.status_code == 410
    assert "Hemos retirado «Artículo de prueba» y ya no lo publicamos." in html
    assert "<strong>Motivo:</strong> Se está revisando la traducción." in html
    assert '<a href="/articles/test-article/" hreflang="en">Lea este artículo en inglés</a>' in html
    assert client.get("/articles/test-article/").status_code == 200


def test_a_spanish_tombstone_costs_one_query(client, published, team, django_assert_num_queries):
    article_withdraw(article=published.article, user=team["publisher"], reason="Superseded.")

    with django_assert_num_queries(1):
        assert client.get(URL).status_code == 410


def test_a_translation_never_published_has_no_tombstone(client, translation, team):
    article_withdraw(article=translation.article, user=team["publisher"], reason="Superseded.")

    assert client.get(URL).status_code == 404
    assert client.get("/articles/test-article/").status_code == 410


def test_spanish_lists_show_only_translated_articles_in_spanish(client, published, tmp_path):
    from tests.publicsite.test_public_pages import published_article

    published_article(tmp_path, "only-english", title="Only in English")

    for url in ("/es/", "/es/articles/", "/es/topics/ptsd/"):
        html = html_of(client.get(url))
        assert '<a href="/es/articles/test-article/">Artículo de prueba</a>' in html, url
        assert "only-english" not in html and "Only in English" not in html, url
    english = html_of(client.get("/articles/"))
    assert "Only in English" in english and "Artículo de prueba" not in english
    assert "(1 artículo)" in html_of(client.get("/es/topics/"))


def test_spanish_search_finds_the_spanish_pages(client, published, tmp_path):
    from tests.publicsite.test_public_pages import published_article

    published_article(tmp_path, "only-english", title="Only in English")

    html = html_of(client.get("/es/search/?q=infusión"))

    assert '<h2 class="result__title"><a href="/es/articles/test-article/">' in html
    assert "Artículo de prueba" in html and "1 artículo coincide" in html
    assert "Only in English" not in html_of(client.get("/es/search/?q=English"))
    english = html_of(client.get("/search/?q=infusion"))
    assert '<a href="/articles/test-article/">' in english


def test_spanish_search_uses_spanish_stemming_on_postgresql(client, published, on_postgres):
    if not on_postgres:
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://...")

    # "infusiones" and "infusión" share the Spanish stem; "la" is a Spanish stop word.
    html = html_of(client.get("/es/search/?q=la+infusiones"))

    assert '<a href="/es/articles/test-article/">' in html


def test_a_translation_version_stores_its_search_text_which_never_changes(published):
    from django.db import DatabaseError, IntegrityError, transaction

    from articles.models import TranslationVersion

    version = published.live_version
    assert "Una sola infusión redujo los síntomas a las 24 horas" in version.search_text
    assert "Certeza" not in version.search_text and "certainty" not in version.search_text
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        TranslationVersion.objects.filter(pk=version.pk).update(search_text="otra cosa")


def test_spanish_search_stored_vector_weights_title_summary_and_text(published, on_postgres):
    if not on_postgres:
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://...")
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT search_vector::text FROM articles_translationversion WHERE id = %s",
            [published.live_version_id],
        )
        vector = cursor.fetchone()[0]

    # Spanish stems ("articul", accents dropped), Spanish stop words left out.
    assert "'articul':1A" in vector
    assert re.search(r"'investig':\d+B", vector)
    assert re.search(r"'infusion':\d+C", vector)
    assert "'la':" not in vector and "'de':" not in vector


def test_spanish_search_can_use_the_gin_index(published, on_postgres):
    if not on_postgres:
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://...")
    from django.contrib.postgres.search import SearchQuery
    from django.db import connection

    from articles.models import TranslationVersion
    from publicsite.search import StoredTranslationVector

    tsquery = SearchQuery("infusiones", search_type="websearch", config="spanish")
    queryset = TranslationVersion.objects.alias(document=StoredTranslationVector()).filter(
        document=tsquery
    )
    # As test_postgres_search_uses_the_gin_index: with the other plans switched off on
    # this tiny table, the GIN index is what remains.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        plan = queryset.explain()

    assert "articles_translationversion_search_gin" in plan
    assert queryset.count() == 1


def test_spanish_search_quotes_the_matching_text_on_postgresql(client, published, on_postgres):
    if not on_postgres:
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://...")

    html = html_of(client.get("/es/search/?q=ensayo+veteranos"))

    assert "El mayor <mark>ensayo</mark> en <mark>veteranos</mark> fue negativo" in html


def test_spanish_search_ranks_only_the_most_recent_matches_and_says_so(
    client, published, on_postgres, monkeypatch
):
    if not on_postgres:
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://...")
    import publicsite.search

    monkeypatch.setattr(publicsite.search, "RANK_LIMIT", 1)

    page = publicsite.search.search_published(
        query=publicsite.search.search_query_clean("infusión"), language="es"
    )

    assert (page.paginator.count, page.capped, len(page.object_list)) == (1, True, 1)


def test_spanish_search_costs_two_queries(client, published, django_assert_num_queries):
    with django_assert_num_queries(2):
        assert client.get("/es/search/?q=infusión").status_code == 200


@pytest.mark.parametrize("url", ["/es/", "/es/articles/", "/es/topics/", "/es/topics/ptsd/"])
def test_spanish_list_pages_cost_what_english_ones_do(
    client, published, url, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as english:
        client.get(url.removeprefix("/es"))
    with django_assert_num_queries(len(english.captured_queries)):
        assert client.get(url).status_code == 200


def test_the_spanish_feed_lists_the_published_translations(client, published, tmp_path):
    from tests.publicsite.test_public_pages import published_article

    published_article(tmp_path, "only-english", title="Only in English")

    spanish = html_of(client.get("/es/feed/"))
    english = html_of(client.get("/feed/"))

    assert "<title>Artículo de prueba</title>" in spanish
    assert 'href="http://testserver/es/articles/test-article/"' in spanish
    assert "Only in English" not in spanish and 'xml:lang="es"' in spanish
    assert "Only in English" in english and "Artículo de prueba" not in english


def test_the_spanish_feed_costs_one_query(client, published, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert client.get("/es/feed/").status_code == 200


def test_the_sitemap_lists_each_page_in_its_languages_with_alternates(client, published, tmp_path):
    from tests.publicsite.test_public_pages import published_article

    published_article(tmp_path, "only-english", title="Only in English")

    xml = html_of(client.get("/sitemap.xml"))

    assert "<loc>http://testserver/es/articles/test-article/</loc>" in xml
    assert (
        '<xhtml:link rel="alternate" hreflang="es" href="http://testserver/es/articles/test-article/"/>'
        in xml
    )
    assert "<loc>http://testserver/articles/only-english/</loc>" in xml
    assert "/es/articles/only-english/" not in xml
    assert "<loc>http://testserver/es/editorial-policy/</loc>" in xml


def test_publishing_or_withdrawing_a_translation_purges_its_pages(
    translation, fluent, purge_server, django_capture_on_commit_callbacks
):
    from articles.services.translations import translation_withdraw

    with django_capture_on_commit_callbacks(execute=True):
        through_review(translation, fluent)
    assert URL in purge_server.purged and "/es/" in purge_server.purged

    purge_server.purged.clear()
    with django_capture_on_commit_callbacks(execute=True):
        translation_withdraw(translation=translation, reason="En revisión.")
    assert URL in purge_server.purged and "/es/feed/" in purge_server.purged


# --- the reader's report form in Spanish ----------------------------------------------

REPORT_URL = "/es/articles/test-article/report/"


def test_the_spanish_page_links_its_claims_to_the_spanish_report_form(client, published):
    html = html_of(client.get(URL))

    assert f'href="{REPORT_URL}?claim=rapid-onset"' in html
    assert 'href="/articles/test-article/report/' not in html


def test_the_spanish_report_form_shows_the_spanish_title_and_claims(client, published):
    response = client.get(REPORT_URL + "?claim=rapid-onset")
    html = html_of(response)

    assert response.status_code == 200
    assert '<html lang="es">' in html
    assert "Informar de un problema con «Artículo de prueba»" in html
    assert (
        '<option value="rapid-onset" selected>Una sola infusión redujo los síntomas a las '
        "24 horas</option>"
    ) in html
    assert '<option value="veterans">El mayor ensayo en veteranos fue negativo</option>' in html
    assert "A single infusion" not in html and "Test article" not in html
    assert f'action="{REPORT_URL}"' in html
    assert 'href="/es/articles/test-article/"' in html


def test_a_report_sent_from_the_spanish_page_records_spanish(client, published):
    from articles.models import ReaderReport

    client.post(
        REPORT_URL,
        {"claim": "veterans", "kind": "unclear", "description": "No se entiende."},
    )
    client.post(
        "/articles/test-article/report/",
        {"claim": "veterans", "kind": "unclear", "description": "Unclear."},
    )

    languages = dict(ReaderReport.objects.values_list("description", "language"))
    assert languages == {"No se entiende.": "es", "Unclear.": "en"}


def test_a_refused_spanish_report_says_why_in_spanish(client, published):
    from editorial.services import reports

    fields = {"claim": "veterans", "kind": "wrong", "description": "Falta un dato."}
    for _ in range(reports.RATE_LIMIT):
        assert client.post(REPORT_URL, fields).status_code == 200
    response = client.post(REPORT_URL, fields)

    assert response.status_code == 429
    assert "Recibimos demasiados avisos desde esta dirección" in html_of(response)
    assert "Too many" not in html_of(response)


def test_no_spanish_report_form_without_a_live_translation(client, translation, published_article):
    assert client.get(REPORT_URL).status_code == 404
    assert client.get("/articles/test-article/report/").status_code == 200


def test_the_spanish_report_form_costs_one_query(client, published, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert client.get(REPORT_URL).status_code == 200


# --- topic names in Spanish -----------------------------------------------------------


@pytest.fixture
def named(translation, fluent):
    """The "ptsd" topic named in Spanish before the translation is approved; the test
    article's other topic, "treatments", has no Spanish name."""
    from articles.models import Topic, TopicTranslation

    TopicTranslation.objects.create(
        topic=Topic.objects.get(slug="ptsd"),
        language="es",
        name="TEPT",
        description="El trastorno de estrés postraumático.",
    )
    Topic.objects.filter(slug="treatments").update(description="Therapies and medicines.")
    through_review(translation, fluent)
    translation.refresh_from_db()
    return translation


def test_spanish_topic_pages_use_the_spanish_names(client, named):
    topics = html_of(client.get("/es/topics/"))
    assert '<a href="/es/topics/ptsd/">TEPT</a>' in topics
    assert "<p>El trastorno de estrés postraumático.</p>" in topics
    # No Spanish name: the English one, and no English description on a Spanish page.
    assert '<a href="/es/topics/treatments/">Treatments</a> <span class="meta">' in topics
    assert "Therapies" not in topics and "Therapies" in html_of(client.get("/topics/"))
    # Sorted by the name readers see.
    assert topics.index(">TEPT<") < topics.index(">Treatments<")

    page = html_of(client.get("/es/topics/ptsd/"))
    assert "<title>TEPT · ptsdinfo</title>" in page
    assert "<h1>TEPT</h1>" in page
    assert '<meta property="og:title" content="TEPT">' in page
    assert '<p class="standfirst">El trastorno de estrés postraumático.</p>' in page

    assert '<a href="/es/topics/ptsd/">TEPT</a>' in html_of(client.get("/es/"))
    english = html_of(client.get("/topics/"))
    assert '<a href="/topics/ptsd/">PTSD</a>' in english and "TEPT" not in english


def test_the_spanish_article_names_its_topics_in_spanish(client, named):
    html = html_of(client.get(URL))

    assert '<li><a href="/es/topics/ptsd/">TEPT</a></li>' in html
    assert '<li><a href="/es/topics/treatments/">Treatments</a></li>' in html
    assert '"keywords": "TEPT, Treatments"' in html
    english = html_of(client.get("/articles/test-article/"))
    assert '<li><a href="/topics/ptsd/">PTSD</a></li>' in english and "TEPT" not in english


def test_a_spanish_topic_name_given_after_approval_shows_on_topic_pages_at_once(client, published):
    from articles.models import Topic, TopicTranslation

    TopicTranslation.objects.create(
        topic=Topic.objects.get(slug="ptsd"), language="es", name="TEPT"
    )

    assert "<h1>TEPT</h1>" in html_of(client.get("/es/topics/ptsd/"))
    # The article keeps the names its translation was approved with.
    assert '<a href="/es/topics/ptsd/">PTSD</a>' in html_of(client.get(URL))


@pytest.mark.parametrize("url", ["/es/", "/es/topics/", "/es/topics/ptsd/", URL])
def test_spanish_topic_names_cost_no_query(client, named, url, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as english:
        client.get(url.removeprefix("/es"))
    with django_assert_num_queries(len(english.captured_queries)):
        assert client.get(url).status_code == 200


# --- the stored page ------------------------------------------------------------------


def test_the_spanish_page_is_stored_when_published_and_served_from_it(
    client, published, django_assert_num_queries
):
    version = published.live_version
    version.refresh_from_db()
    assert version.page_key.endswith(f":test-article:{published.article.live_version_id}")
    assert "Una sola infusión" in version.page_body and version.page_stale == 0

    with django_assert_num_queries(1):
        stored = html_of(client.get(URL))

    # A stored page whose key no longer matches (templates or catalogue changed) is not
    # served: the page is rendered for the request, the same HTML, at one more query.
    from articles.models import TranslationVersion

    TranslationVersion.objects.filter(pk=version.pk).update(page_key="old")
    with django_assert_num_queries(2):
        fresh = html_of(client.get(URL))
    assert fresh == stored


def test_re_publishing_the_english_stores_the_spanish_page_with_its_stale_claims(
    client, published, tmp_path, django_assert_num_queries
):
    new_source_version(published.article, tmp_path)  # runs the receivers' work
    published.live_version.refresh_from_db()
    assert published.live_version.page_stale == 3

    with django_assert_num_queries(1):
        html = html_of(client.get(URL))
    assert "3 partes de esta página se actualizaron en inglés" in html
    assert html.count('class="translation-stale"') == 3


def test_render_article_pages_refreshes_stale_spanish_pages(published):
    from articles.models import TranslationVersion
    from publicsite.article_page import pages_refresh

    TranslationVersion.objects.filter(pk=published.live_version_id).update(page_key=None)

    assert pages_refresh() == 1
    assert pages_refresh() == 0
    assert TranslationVersion.objects.get(pk=published.live_version_id).page_key
