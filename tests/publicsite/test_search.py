import re

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from articles.models import ArticleVersion
from articles.plaintext import document_text
from publicsite.search import (
    MAX_QUERY_CHARS,
    search_published,
    search_query_clean,
    snippet_around,
)
from tests.factories import BIBLIOGRAPHY, import_article, publish, write_article

BODY_TEMPLATE = """\
An opening paragraph about [{lead} [@feder2014]]{{.claim #lead certainty=low}}.

## Details {{#details}}

{details}
"""


def make_live(tmp_path, slug, *, title, lead="recovery", details="More text.", summary=None):
    body = BODY_TEMPLATE.format(lead=lead, details=details)
    path = write_article(tmp_path / slug, slug=slug, title=title, body=body)
    if summary:
        path.write_text(path.read_text().replace("What the research says, in brief.", summary))
    article = import_article(path).article
    publish(article)
    article.refresh_from_db()
    return article


def titles(page) -> list[str]:
    return [hit.title for hit in page.object_list]


def search(text: str, page=1):
    return search_published(query=search_query_clean(text), page=page)


# --- cleaning what readers type (no database) --------------------------------------------


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("", "empty"),
        (None, "empty"),
        ("   \t\n ", "empty"),
        ("\x00\x00", "empty"),
        ("!!! ??? ...", "no-words"),
        ('"""', "no-words"),
        ("-", "no-words"),
        ("ketamine", ""),
        ('"unbalanced quote', ""),
        ("ptsd\x00therapy", ""),
    ],
)
def test_query_cleaning_names_what_cannot_be_searched(raw, problem):
    assert search_query_clean(raw).problem == problem


def test_query_cleaning_drops_nul_and_control_characters():
    query = search_query_clean("ptsd\x00\x1b[31m\u200btherapy")

    assert query.text == "ptsd [31m therapy"
    assert "\x00" not in query.text


def test_query_cleaning_caps_very_long_queries_at_a_word_boundary():
    query = search_query_clean("nightmares " * 10_000)

    assert query.truncated
    assert len(query.text) <= MAX_QUERY_CHARS
    assert query.text.endswith("nightmares")


def test_document_text_keeps_prose_and_leaves_out_references_and_badges():
    html = (
        '<section id="lead" class="lead"><p><span class="claim" data-certainty="high">'
        'Therapy helps <sup class="citations">[<a href="#ref-1">1</a>]</sup> '
        '<span class="certainty-badge certainty-high">High certainty</span></span>.</p></section>'
        '<section id="x"><h2>Sleep &amp; dreams</h2><p>Line one<br>line two</p></section>'
        '<section id="references-section"><h2>References</h2><ol id="references">'
        "<li>Feder A. Ketamine.</li></ol></section>"
    )

    assert document_text(html) == "Therapy helps.\nSleep & dreams\nLine one\nline two"


def test_snippet_is_escaped_and_marks_every_term():
    text = "Before <script>alert(1)</script> the word EMDR and emdr again."

    snippet = snippet_around(text, ["emdr"])

    assert "<script>" not in snippet
    assert "&lt;script&gt;" in snippet
    assert snippet.count("<mark>") == 2


# --- searching published versions (both engines) ----------------------------------------


@pytest.mark.django_db
def test_search_finds_published_articles_and_never_drafts(tmp_path):
    make_live(tmp_path, "live-one", title="Sleep problems", details="Nightmares are common.")
    import_article(
        write_article(
            tmp_path / "draft",
            slug="draft-one",
            title="Nightmares draft",
            body=BODY_TEMPLATE.format(lead="x", details="Nightmares everywhere."),
        )
    )

    assert titles(search("nightmares")) == ["Sleep problems"]


@pytest.mark.django_db
def test_search_never_shows_unpublished_edits_of_a_live_article(tmp_path):
    article = make_live(tmp_path, "edited", title="Therapy options", details="Talking helps.")
    # The draft gains a word, is approved (a new version) but not published.
    path = write_article(
        tmp_path / "edit",
        slug="edited",
        title="Therapy options",
        body=BODY_TEMPLATE.format(lead="recovery", details="Talking helps. Zolpidemish."),
    )
    import_article(path)
    from articles.services.versions import version_create

    version_create(article=article, author=None, reviewer=article.live_version.reviewer)

    assert titles(search("zolpidemish")) == []
    assert titles(search("talking")) == ["Therapy options"]


@pytest.mark.django_db
def test_withdrawn_articles_leave_search(tmp_path):
    article = make_live(tmp_path, "gone", title="Withdrawn topic", details="Quetiapine.")
    type(article).objects.filter(pk=article.pk).update(live_version=None, status="withdrawn")

    assert titles(search("quetiapine")) == []


@pytest.mark.django_db
def test_title_match_ranks_above_body_match(tmp_path):
    make_live(
        tmp_path,
        "body-match",
        title="Living with trauma",
        details="Prazosin was tried. Prazosin again. Prazosin for nightmares.",
    )
    make_live(tmp_path, "title-match", title="Prazosin", details="A medicine.")

    assert titles(search("prazosin")) == ["Prazosin", "Living with trauma"]


@pytest.mark.django_db
def test_summary_match_ranks_between_title_and_body(tmp_path):
    make_live(tmp_path, "in-body", title="Alpha", details="Sertraline is an option.")
    make_live(tmp_path, "in-title", title="Sertraline", details="Text.")
    make_live(
        tmp_path, "in-summary", title="Beta", details="Text.", summary="About sertraline use."
    )

    assert titles(search("sertraline")) == ["Sertraline", "Beta", "Alpha"]


@pytest.mark.django_db
def test_every_term_must_match_and_minus_excludes(tmp_path):
    make_live(tmp_path, "a", title="Ketamine and esketamine", details="Nasal spray.")
    make_live(tmp_path, "b", title="Ketamine infusions", details="Given into a vein.")

    assert titles(search("ketamine vein")) == ["Ketamine infusions"]
    assert titles(search("ketamine -esketamine")) == ["Ketamine infusions"]


@pytest.mark.django_db
def test_or_finds_either_word(tmp_path):
    make_live(tmp_path, "a", title="Sertraline", details="An SSRI.")
    make_live(tmp_path, "b", title="Paroxetine", details="Another SSRI.")

    assert sorted(titles(search("sertraline or paroxetine"))) == ["Paroxetine", "Sertraline"]


@pytest.mark.django_db
def test_quoted_phrase_matches_the_words_together(tmp_path):
    make_live(tmp_path, "a", title="A", details="Prolonged exposure therapy works.")
    make_live(tmp_path, "b", title="B", details="Exposure to noise. Prolonged waits.")

    assert titles(search('"prolonged exposure"')) == ["A"]


@pytest.mark.django_db
def test_results_quote_the_body_with_the_terms_highlighted(tmp_path):
    make_live(tmp_path, "a", title="Sleep", details="Many people find that nightmares ease.")

    hit = search("nightmares").object_list[0]

    assert re.search(r"<mark>nightmares</mark>", hit.snippet, re.I)


@pytest.mark.django_db
def test_search_results_are_paginated(tmp_path):
    for index in range(12):
        make_live(tmp_path, f"a-{index}", title=f"Grounding {index}", details="Grounding skills.")

    first, second = search("grounding"), search("grounding", page=2)

    assert first.paginator.count == 12
    assert len(first.object_list) == 10 and len(second.object_list) == 2
    assert search("grounding", page="999").number == 2  # out of range: the last page


# --- the search page ------------------------------------------------------------------------


ABSURD_QUERIES = [
    "",
    "    ",
    "!!!!",
    '"',
    '"unbalanced',
    "a" * 100_000,
    "ptsd " * 5000,
    "\x00",
    "ptsd\x00therapy",
    "%00",
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "&|!:*()<->",
    "-",
    "or or or",
    "the and of",
    "\U0001f600\U0001f4a5",
    "ketamine" + "\u0301" * 500,
]


@pytest.mark.django_db
@pytest.mark.parametrize("q", ABSURD_QUERIES)
def test_absurd_queries_get_a_helpful_page_not_an_error(client, tmp_path, q):
    make_live(tmp_path, "a", title="Ketamine", details="Text.")

    response = client.get("/search/", {"q": q})

    assert response.status_code == 200
    html = response.content.decode()
    assert '<div class="search-status" role="status">' in html
    assert "<script>alert(1)" not in html


@pytest.mark.django_db
@pytest.mark.parametrize("raw", ["q=%ff%fe%ED%A0%80", "q=%", "q=%%00", "q&q=", "q[]=1", "page=-1"])
def test_malformed_query_strings_get_a_helpful_page(client, raw):
    response = client.get(f"/search/?{raw}")

    assert response.status_code == 200
    assert b'role="status"' in response.content


@pytest.mark.django_db
def test_empty_search_suggests_what_to_type(client):
    html = client.get("/search/").content.decode()

    assert "Type a word or two" in html


@pytest.mark.django_db
def test_punctuation_only_search_explains_why_nothing_was_searched(client):
    html = client.get("/search/", {"q": "?!?!"}).content.decode()

    assert "no letters or numbers" in html


@pytest.mark.django_db
def test_very_long_search_says_it_was_shortened(client):
    html = client.get("/search/", {"q": "trauma " * 100}).content.decode()

    assert "first 200 characters" in html


@pytest.mark.django_db
def test_search_without_results_offers_suggestions(client, tmp_path):
    make_live(tmp_path, "a", title="Ketamine", details="Text.")

    html = client.get("/search/", {"q": "xylophone"}).content.decode()

    assert "No articles match" in html
    assert 'href="/topics/"' in html


@pytest.mark.django_db
def test_search_page_lists_hits_with_links_and_is_not_indexed(client, tmp_path):
    make_live(tmp_path, "ketamine-page", title="Ketamine", details="Text.")

    html = client.get("/search/", {"q": "ketamine"}).content.decode()

    assert '<a href="/articles/ketamine-page/">Ketamine</a>' in html
    assert "1 article matches" in html
    assert '<meta name="robots" content="noindex, follow">' in html


@pytest.mark.django_db
def test_search_page_costs_two_queries(client, tmp_path, django_assert_max_num_queries):
    for index in range(3):
        make_live(tmp_path, f"a-{index}", title=f"Ketamine {index}", details="Text.")

    with django_assert_max_num_queries(2):
        assert client.get("/search/", {"q": "ketamine"}).status_code == 200


# --- PostgreSQL: full-text search ---------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgres_search_matches_word_forms(tmp_path):
    make_live(tmp_path, "a", title="Coping", details="Many veterans were treated.")

    assert titles(search("veteran treating")) == ["Coping"]  # stems: veterans, treated


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgres_stored_vector_weights_title_summary_and_body(tmp_path):
    article = make_live(tmp_path, "a", title="Sleep", details="Nightmares.", summary="Dreams.")

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT search_vector::text FROM articles_articleversion WHERE id = %s",
            [article.live_version_id],
        )
        vector = cursor.fetchone()[0]

    assert "'sleep':1A" in vector
    assert re.search(r"'dream':\d+B", vector)
    assert re.search(r"'nightmar':\d+C", vector)


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgres_search_uses_the_gin_index(tmp_path):
    """The match on the stored vector, which search's first query filters on, can be
    answered from the GIN index. (The whole candidate query's plan varies with the
    table statistics: on a large table a frequent word is read in review order through
    article_version_reviewed_idx instead; see docs/performance.md.)"""
    make_live(tmp_path, "a", title="Sleep", details="Nightmares.")
    from django.contrib.postgres.search import SearchQuery

    from articles.models import ArticleVersion
    from publicsite.search import SEARCH_CONFIG, StoredSearchVector

    tsquery = SearchQuery("nightmares", search_type="websearch", config=SEARCH_CONFIG)
    queryset = ArticleVersion.objects.alias(document=StoredSearchVector()).filter(document=tsquery)

    # On a table this small the planner prefers other plans; switched off, the
    # remaining way is the GIN index, which proves the query can use it.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        plan = queryset.explain()

    assert "articles_version_search_gin" in plan


@pytest.mark.django_db
def test_search_text_cannot_be_changed_after_approval(tmp_path):
    article = make_live(tmp_path, "a", title="Sleep", details="Nightmares.")

    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        ArticleVersion.objects.filter(pk=article.live_version_id).update(search_text="changed")


@pytest.mark.django_db
def test_new_versions_store_their_search_text(tmp_path):
    article = make_live(tmp_path, "a", title="Sleep", details="Nightmares *ease* with time.")

    text = article.live_version.search_text

    assert "Nightmares ease with time." in text
    assert "Details" in text  # the section heading
    assert BIBLIOGRAPHY[0]["title"] not in text  # the reference list is left out


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgres_ranks_only_the_most_recently_reviewed_matches_and_says_so(
    tmp_path, client, monkeypatch
):
    import publicsite.search

    monkeypatch.setattr(publicsite.search, "RANK_LIMIT", 2)
    for index in range(3):
        make_live(tmp_path, f"a-{index}", title=f"Sleep {index}", details="Sleep.")

    page = search("sleep")
    html = client.get("/search/", {"q": "sleep"}).content.decode()

    assert (page.paginator.count, page.capped, len(page.object_list)) == (2, True, 2)
    assert "2 or more articles match" in html
