"""Issue 11, items 4 to 9: the reproductions, as tests.

4. the Atom feed declares its text as plain text, so no feed reader renders markup from it;
5. staff without a role get the same 404 for every article id on every admin endpoint;
6. the live preview refuses oversized input before it touches the database;
7. admin filters and forms answer bad input with a message, never a 500;
8. the sign-in lockout counts the address a trusted proxy saw, or else the peer's address;
9. re-encoded uploads keep no metadata segment.
"""

import xml.etree.ElementTree as ET

import pytest
from django.urls import reverse

from articles.models import ArticleVersion
from articles.roles import AUTHORS
from tests.factories import import_article, make_user, publish, write_article

pytestmark = pytest.mark.django_db

ATOM = "{http://www.w3.org/2005/Atom}"


# --- 4. the Atom feed --------------------------------------------------------------------

HOSTILE_TITLE = "<b>Bold</b> & <script>alert(1)</script> Tom &amp; Jerry"
HOSTILE_SUMMARY = "Summary with <b>markup</b> & <img src=x onerror=alert(1)>"
HOSTILE_REVIEWER = "Dr <i>Eve</i> & Co"


def _yaml(text):
    return "'" + text.replace("'", "''") + "'"


def test_feed_text_reaches_a_feed_reader_as_the_literal_text(client, tmp_path):
    path = write_article(tmp_path / "a", slug="feed-a", title=_yaml(HOSTILE_TITLE))
    text = path.read_text().replace(
        "summary: What the research says, in brief.", f"summary: {_yaml(HOSTILE_SUMMARY)}"
    )
    path.write_text(text)
    article = import_article(path).article
    reviewer = make_user("evil-reviewer", display_name=HOSTILE_REVIEWER, credentials="<u>MD</u>")
    publish(article, reviewer=reviewer)
    assert ArticleVersion.objects.get(article=article).title == HOSTILE_TITLE

    response = client.get("/feed/")
    root = ET.fromstring(response.content)
    (entry,) = root.findall(f"{ATOM}entry")

    title = entry.find(f"{ATOM}title")
    summary = entry.find(f"{ATOM}summary")
    # A feed reader decodes the XML once and, for type="text" (the default), shows the
    # result as text: it must be exactly what the author typed, markup characters and all.
    assert title.get("type", "text") == "text"
    assert title.text == HOSTILE_TITLE
    assert summary.get("type") == "text"
    assert summary.text.startswith(HOSTILE_SUMMARY)
    assert f"Medically reviewed by {HOSTILE_REVIEWER}, <u>MD</u>." in summary.text
    # No element anywhere in the feed is declared to carry HTML or XHTML.
    declared = [el.tag for el in root.iter() if el.get("type") in ("html", "xhtml")]
    assert declared == []


# --- 5. staff without a role --------------------------------------------------------------

MISSING_PK = 987_654


def _article_id_endpoints(pk):
    """Every admin URL that takes an article id, with the method it answers to."""
    return [
        ("get", reverse("admin:articles_article_change", args=[pk])),
        ("post", reverse("admin:articles_article_change", args=[pk])),
        ("get", reverse("admin:articles_article_diff", args=[pk])),
        ("get", reverse("admin:articles_article_history", args=[pk])),
        ("get", reverse("admin:articles_article_delete", args=[pk])),
        ("post", reverse("admin:articles_article_delete", args=[pk])),
        ("get", f"/admin/articles/article/{pk}/"),
        ("post", reverse("admin:articles_article_claims", args=[pk])),
        *(
            ("post", reverse("admin:articles_article_transition", args=[pk, action]))
            for action in (
                "submit",
                "approve",
                "request_changes",
                "publish",
                "schedule",
                "withdraw",
                "no-such-action",
            )
        ),
        ("get", reverse("editor:preview", args=[pk])),
        ("post", reverse("editor:markdownify") + f"?article={pk}"),
    ]


def test_every_article_id_endpoint_is_covered():
    """A new admin URL that takes an article id must be added to the list above."""
    from django.contrib import admin

    from articles.admin_urls import urlpatterns
    from articles.models import Article

    patterns = [str(p.pattern) for p in admin.site._registry[Article].get_urls()]
    with_id = sorted({p for p in patterns if "pk>" in p or "object_id>" in p})
    assert with_id == [
        "<int:pk>/change/",
        "<int:pk>/claims/",
        "<int:pk>/diff/",
        "<int:pk>/transition/<str:action>/",
        "<path:object_id>/",
        "<path:object_id>/change/",
        "<path:object_id>/delete/",
        "<path:object_id>/history/",
    ]
    assert [str(p.pattern) for p in urlpatterns if "pk>" in str(p.pattern)] == ["preview/<int:pk>/"]


def test_staff_without_a_role_get_the_same_404_for_every_article_id(client, tmp_path):
    owner = make_user("owner", groups=[AUTHORS], display_name="Dr Owner", credentials="MD")
    secret = import_article(
        write_article(tmp_path / "s", slug="secret-draft-plans", title="Secret plans"),
        user=owner,
    ).article
    client.force_login(make_user("staffer"))

    def answers(pk):
        out = []
        for method, url in _article_id_endpoints(pk):
            data = {"claim": "lead-claim", "certainty": "high", "at": "2030-01-01T00:00"}
            response = getattr(client, method)(url, data)
            body = response.content.decode()
            out.append((method, url.replace(str(pk), "ID"), response.status_code, body))
        return out

    real, missing = answers(secret.pk), answers(MISSING_PK)

    assert [(m, u, status) for m, u, status, _ in real] == [(m, u, 404) for m, u, _, _ in real]
    assert [r[:3] for r in real] == [m[:3] for m in missing]
    for method, url, _, body in real:
        assert "secret-draft" not in body and "Secret plans" not in body, (method, url)
        assert "Draft" not in body, (method, url)
    secret.refresh_from_db()
    assert secret.status == "draft"


# --- 6. the live preview's limits come before the database ----------------------------------


def _key(i):
    digits = "abcdefghijklmnopqrstuvwxyz0123456789"
    out = ""
    while True:
        i, rest = divmod(i, 36)
        out = digits[rest] + out
        if i == 0:
            return out


def _cites(count, *, size=None):
    text = " ".join(f"@{_key(i)}" for i in range(count))
    if size is not None:
        assert len(text) <= size
        text += " " + "x" * (size - len(text) - 1)
    return text


def _preview(client, text, article_pk=None):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = reverse("editor:markdownify")
    if article_pk is not None:
        url += f"?article={article_pk}"
    with CaptureQueriesContext(connection) as queries:
        response = client.post(url, {"content": text})
    citation_queries = [q["sql"] for q in queries if "citation" in q["sql"].lower()]
    return response, citation_queries


@pytest.fixture
def author_client(client):
    client.force_login(make_user("typist", groups=[AUTHORS]))
    return client


@pytest.mark.parametrize(
    "keys, size",
    [(260_000, 1_750_000), (120_000, 1_000_000)],
    ids=["260k-keys-1.75MB", "120k-keys-1MB"],
)
def test_a_huge_preview_is_refused_before_any_citation_query(author_client, keys, size):
    text = _cites(keys, size=size)

    response, citation_queries = _preview(author_client, text, article_pk=1)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="format-error"' in html
    assert "characters long; at most 500,000 are allowed" in html
    assert citation_queries == []


def test_a_preview_naming_too_many_keys_is_refused_before_any_citation_query(author_client):
    from articles.admin_views import MAX_PREVIEW_KEYS
    from articles.rendering import MAX_BODY_CHARS

    text = _cites(MAX_PREVIEW_KEYS + 1)
    assert len(text) < MAX_BODY_CHARS  # within the size limit: the key bound refuses it

    response, citation_queries = _preview(author_client, text, article_pk=1)

    html = response.content.decode()
    assert f"names {MAX_PREVIEW_KEYS + 1:,} different citation keys; at most" in html
    assert citation_queries == []


def test_a_preview_within_the_key_bound_runs_two_bounded_lookups(author_client, tmp_path):
    from articles.admin_views import MAX_PREVIEW_KEYS

    article = import_article(write_article(tmp_path / "p", slug="preview-keys")).article
    text = _cites(MAX_PREVIEW_KEYS - 1) + " [@feder2014]"

    response, citation_queries = _preview(author_client, text, article_pk=article.pk)

    html = response.content.decode()
    assert "different citation keys" not in html
    assert 'href="#ref-1"' in html  # the article's own key resolved
    assert len(citation_queries) == 2  # the article's keys, then the library's


def test_a_preview_with_an_out_of_range_article_id_still_renders(author_client):
    response, _ = _preview(author_client, "Plain text.", article_pk="9" * 40)

    assert response.status_code == 200
    assert "Plain text." in response.content.decode()
