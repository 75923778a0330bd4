"""Cite while you write: the editor picker's search and add endpoints."""

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from articles.models import Citation
from editorial.admin_views import SEARCH_LIMIT, citation_search_queryset
from tests.factories import make_user

pytestmark = pytest.mark.django_db

RIS = """TY  - JOUR
AU  - Bisson, Jonathan I.
AU  - Olff, Miranda
TI  - Prevention and treatment of PTSD: the current evidence base
JO  - European Journal of Psychotraumatology
PY  - 2021
VL  - 12
DO  - 10.1080/20008198.2020.1824381
ER  -
"""


def citation(n: int, title: str, author: str = "Smith", journal: str = "J Trauma", year=2000):
    return Citation(
        key=f"{author.lower()}{year}-{n}",
        title=title,
        year=year,
        doi=f"10.5555/test.{n}",
        pmid=str(10_000_000 + n),
        csl={
            "id": f"{author.lower()}{year}-{n}",
            "type": "article-journal",
            "title": title,
            "author": [{"family": author, "given": "Ann"}],
            "container-title": journal,
            "issued": {"date-parts": [[year]]},
            "DOI": f"10.5555/test.{n}",
        },
    )


def search(client, q):
    response = client.get(reverse("editor:citation-search"), {"q": q})
    assert response.status_code == 200
    return response.json()["results"]


def test_search_matches_authors_title_year_journal_doi_and_pmid(client, team):
    Citation.objects.bulk_create(
        [
            citation(1, "Prolonged exposure for PTSD", author="Foa", year=2007),
            citation(2, "Sertraline in adults", author="Brady", journal="JAMA", year=2000),
        ]
    )
    client.force_login(team["author"])

    assert [r["key"] for r in search(client, "foa")] == ["foa2007-1"]
    assert [r["key"] for r in search(client, "exposure 2007")] == ["foa2007-1"]
    assert [r["key"] for r in search(client, "JAMA")] == ["brady2000-2"]
    assert [r["key"] for r in search(client, "10.5555/test.2")] == ["brady2000-2"]
    assert [r["key"] for r in search(client, "10000001")] == ["foa2007-1"]
    first = search(client, "sertraline")[0]
    assert first["reference"].startswith("Brady A. Sertraline in adults. JAMA.")


def test_search_ranks_an_identifier_match_first_then_title_start(client, team):
    Citation.objects.bulk_create(
        [
            citation(1, "Therapy and sleep", year=2020),
            citation(2, "Sleep after therapy", year=2010),
        ]
    )
    client.force_login(team["author"])

    assert [r["key"] for r in search(client, "sleep")] == ["smith2010-2", "smith2020-1"]
    assert search(client, "10.5555/test.1")[0]["key"] == "smith2020-1"


def test_search_at_ten_thousand_citations_is_one_bounded_query(client, team):
    Citation.objects.bulk_create(
        [citation(n, f"Trial {n} of trauma therapy", year=1990 + n % 30) for n in range(10_000)]
    )
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        rows = list(citation_search_queryset("trauma therapy"))
        elapsed = time.perf_counter() - started
    assert len(rows) == SEARCH_LIMIT
    assert len(queries) == 1
    assert f"LIMIT {SEARCH_LIMIT}" in queries[0]["sql"]
    print(f"search over 10,000 citations: {elapsed * 1000:.1f} ms")  # for docs/editing.md

    client.force_login(team["author"])
    with CaptureQueriesContext(connection) as queries:
        assert len(search(client, "trauma therapy")) == SEARCH_LIMIT
    # session + user + permissions + the one search query, whatever the library size
    assert len(queries) <= 6


def test_endpoints_are_staff_only_and_writes_need_post(client, team):
    assert client.get(reverse("editor:citation-search"), {"q": "x"}).status_code == 404
    client.force_login(make_user("reader", staff=False))
    assert client.get(reverse("editor:citation-search"), {"q": "x"}).status_code == 404
    assert client.post(reverse("editor:citation-add"), {"text": RIS}).status_code == 404
    client.force_login(make_user("norole"))  # staff without an editorial role
    assert client.get(reverse("editor:citation-search"), {"q": "x"}).status_code == 404
    client.force_login(team["author"])
    assert client.get(reverse("editor:citation-add")).status_code == 405


def test_add_requires_csrf_token(team):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(team["author"])
    assert strict.post(reverse("editor:citation-add"), {"text": RIS}).status_code == 403
    assert not Citation.objects.exists()


def test_pasted_ris_is_added_and_a_duplicate_resolves_to_it(client, team):
    client.force_login(team["author"])

    added = client.post(reverse("editor:citation-add"), {"text": RIS}).json()
    again = client.post(reverse("editor:citation-add"), {"text": RIS}).json()
    by_doi = client.post(
        reverse("editor:citation-add"), {"identifier": "10.1080/20008198.2020.1824381"}
    ).json()

    assert Citation.objects.count() == 1
    key = Citation.objects.get().key
    assert [c["key"] for c in added["citations"]] == [key]
    assert added["message"] == f"Added {key}."
    assert [c["key"] for c in again["citations"]] == [key]
    assert "Already in the library" in again["message"]
    assert [c["key"] for c in by_doi["citations"]] == [key]


def test_failed_lookup_offers_the_paste_route_with_the_identifier(client, team, settings):
    settings.PTSDINFO_FETCH_ALLOWED_HOSTS = ["127.0.0.1"]
    client.force_login(team["author"])

    data = client.post(reverse("editor:citation-add"), {"identifier": "10.1000/nowhere.1"}).json()

    assert data["fetch_failed"] is True
    assert "could not be fetched" in data["message"]
    assert "DO  - 10.1000/nowhere.1" in data["paste_template"]
    assert not Citation.objects.exists()


def test_status_names_flagged_sources_only(client, team):
    sound, retracted = citation(1, "Sound trial"), citation(2, "Withdrawn trial")
    retracted.retraction_status = Citation.Retraction.RETRACTED
    Citation.objects.bulk_create([sound, retracted])
    client.force_login(team["author"])

    url = reverse("editor:citation-status")
    data = client.get(url, {"keys": f"{sound.key},{retracted.key},nosuchkey"}).json()

    assert data == {"flagged": {retracted.key: "Retracted"}}
