"""The reference, regulatory-source, image and unused-reference gates."""

import copy
import json

import pytest
from django.core.management import call_command

from articles.models import ArticleCitation, Citation
from editorial.services import workflow
from editorial.services.gates import article_gates, identifiers_check_online
from editorial.services.workflow import WorkflowError
from tests.evidence.test_fetching import certificate, server  # noqa: F401 - the recorded server
from tests.factories import BIBLIOGRAPHY, import_article, write_article

pytestmark = pytest.mark.django_db


def codes(article, level=None):
    return [p.code for p in article_gates(article=article) if level is None or p.level == level]


def messages(article, code):
    return [p.message for p in article_gates(article=article) if p.code == code]


def imported(tmp_path, user, *, bibliography=None, body=None):
    kwargs = {"bibliography": bibliography}
    if body is not None:
        kwargs["body"] = body
    return import_article(write_article(tmp_path / "a", **kwargs), user=user).article


def bibliography_with(**changes):
    """The factory bibliography with the first item (feder2014) changed."""
    items = copy.deepcopy(BIBLIOGRAPHY)
    for name, value in changes.items():
        if value is None:
            items[0].pop(name, None)
        else:
            items[0][name] = value
    return items


def test_complete_references_pass(tmp_path, team):
    article = imported(tmp_path, team["author"])

    assert "reference-incomplete" not in codes(article)
    assert "unused-reference" not in codes(article)


@pytest.mark.parametrize(
    "title",
    ["[Title UNVERIFIED] Ketamine review", "Ketamine review (UNVERIFIED)", "TODO title", "Ke??"],
)
def test_placeholder_title_is_an_error(tmp_path, team, title):
    article = imported(tmp_path, team["author"], bibliography=bibliography_with(title=title))

    assert messages(article, "reference-incomplete") == [
        "Reference 'feder2014' needs a real title (it still has a placeholder)."
    ]


def test_reference_without_author_year_or_identifier_names_each_gap(tmp_path, team):
    items = bibliography_with(author=None, issued=None, DOI=None)
    article = imported(tmp_path, team["author"], bibliography=items)

    assert messages(article, "reference-incomplete") == [
        "Reference 'feder2014' needs an author or an organisation, a year, a DOI or PMID."
    ]


def test_incomplete_reference_blocks_approval(tmp_path, team):
    article = imported(tmp_path, team["author"], bibliography=bibliography_with(author=None))
    workflow.article_submit(article=article, user=team["author"])

    with pytest.raises(WorkflowError) as caught:
        workflow.article_approve(article=article, user=team["reviewer"])

    assert "reference-incomplete" in [p.code for p in caught.value.problems]


def test_organisation_author_and_web_page_publisher_count_as_authors(tmp_path, team):
    items = copy.deepcopy(BIBLIOGRAPHY)
    items[0] = {
        "id": "feder2014",
        "type": "webpage",
        "title": "Medications for PTSD",
        "author": [{"literal": "National Center for PTSD"}],
        "issued": {"date-parts": [[2023]]},
        "URL": "https://www.ptsd.va.gov/understand_tx/meds_for_ptsd.asp",
    }
    items[1] = {
        "id": "abdallah2022",
        "type": "article-newspaper",
        "title": "A news story",
        "publisher": "Example News Group",
        "container-title": "Example Daily",
        "issued": {"date-parts": [[2025]]},
        "URL": "https://news.example/story",
    }
    article = imported(tmp_path, team["author"], bibliography=items)

    assert "reference-incomplete" not in codes(article)


def test_journal_article_publisher_does_not_replace_authors(tmp_path, team):
    items = bibliography_with(author=None, publisher="American Medical Association")
    article = imported(tmp_path, team["author"], bibliography=items)

    assert messages(article, "reference-incomplete") == [
        "Reference 'feder2014' needs an author or an organisation."
    ]


def test_a_pmid_is_enough_for_a_journal_article(tmp_path, team):
    article = imported(
        tmp_path, team["author"], bibliography=bibliography_with(DOI=None, PMID="24740528")
    )

    assert "reference-incomplete" not in codes(article)


# --- DOI and PMID agreement ------------------------------------------------------------

KRYSTAL = {
    "id": "feder2014",
    "type": "article-journal",
    "title": "Ketamine: A Paradigm Shift for Depression Research and Treatment",
    "author": [{"family": "Krystal", "given": "John H."}],
    "container-title": "Neuron",
    "issued": {"date-parts": [[2019]]},
    "PMID": "30844397",
}


@pytest.mark.parametrize(
    ("doi", "mismatch"), [("10.1016/j.neuron.2019.02.005", False), ("10.1000/wrong.1", True)]
)
def test_doi_and_pmid_are_checked_against_pubmed_when_fetching_is_allowed(
    tmp_path,
    team,
    server,  # noqa: F811
    doi,
    mismatch,
):
    items = copy.deepcopy(BIBLIOGRAPHY)
    items[0] = KRYSTAL | {"DOI": doi}
    article = imported(tmp_path, team["author"], bibliography=items)
    assert "identifier-mismatch" not in codes(article)  # nothing cached: nothing known yet

    assert identifiers_check_online(article=article, client=server.client()) == []

    found = messages(article, "identifier-mismatch")
    if mismatch:
        assert found == [
            "Reference 'feder2014': its DOI and PMID disagree (PubMed lists DOI "
            "10.1016/j.neuron.2019.02.005 for PMID 30844397, but the reference has "
            "10.1000/wrong.1)."
        ]
    else:
        assert found == []


def test_identifier_check_works_offline_from_the_cache(tmp_path, team, server):  # noqa: F811
    items = copy.deepcopy(BIBLIOGRAPHY)
    items[0] = KRYSTAL | {"DOI": "10.1000/wrong.1"}
    article = imported(tmp_path, team["author"], bibliography=items)
    identifiers_check_online(article=article, client=server.client())
    requests = len(server.requests)

    assert "identifier-mismatch" in codes(article, "error")
    assert "identifier-mismatch" in codes(article, "error")
    assert len(server.requests) == requests  # the gate itself never asks the network


def test_identifier_check_reports_what_it_could_not_fetch(tmp_path, team, server):  # noqa: F811
    items = copy.deepcopy(BIBLIOGRAPHY)
    items[0] = KRYSTAL | {"PMID": "99999999", "DOI": "10.1000/unknown.1"}
    article = imported(tmp_path, team["author"], bibliography=items)

    failures = identifiers_check_online(article=article, client=server.client())

    assert len(failures) == 1 and failures[0].startswith("feder2014: ")
    assert "identifier-mismatch" not in codes(article)


# --- regulatory and safety claims --------------------------------------------------------

NEWS = {
    "id": "abdallah2022",
    "type": "article-newspaper",
    "title": "FDA approves a nasal spray",
    "container-title": "Example Health News",
    "publisher": "Example Media",
    "issued": {"date-parts": [[2025]]},
    "URL": "https://news.example/spray",
}
FDA = {
    "id": "fda2025",
    "type": "webpage",
    "genre": "News release",
    "title": "FDA approves a nasal spray",
    "author": [{"literal": "U.S. Food and Drug Administration"}],
    "issued": {"date-parts": [[2025]]},
    "URL": "https://www.fda.gov/news-events/example",
}


@pytest.mark.parametrize(
    "statement",
    [
        "The FDA approved the spray in 2025",
        "The spray carries a warning about sedation",
        "The spray is licensed in the UK",
        "Home use is not safe",
    ],
)
def test_regulatory_claim_resting_only_on_news_warns(tmp_path, team, statement):
    body = f"[{statement} [@abdallah2022]]{{.claim #spray certainty=high}}\n"
    items = [BIBLIOGRAPHY[0], NEWS]
    article = imported(tmp_path, team["author"], bibliography=items, body=body)

    problems = [p for p in article_gates(article=article) if p.code == "regulatory-news-only"]
    assert [(p.level, p.claim_key) for p in problems] == [("warning", "spray")]


def test_regulatory_claim_with_a_primary_source_or_other_claims_do_not_warn(tmp_path, team):
    body = (
        "[The FDA approved the spray in 2025 [@abdallah2022; @fda2025]]"
        "{.claim #spray certainty=high}\n\n"
        "[The spray was studied in adults [@abdallah2022]]{.claim #studied certainty=low}\n"
    )
    items = [BIBLIOGRAPHY[0], NEWS, FDA]
    article = imported(tmp_path, team["author"], bibliography=items, body=body)

    assert "regulatory-news-only" not in codes(article)


def test_a_regulators_news_release_is_not_a_news_item(tmp_path, team):
    body = "[The FDA approved the spray in 2025 [@fda2025]]{.claim #spray certainty=high}\n"
    article = imported(tmp_path, team["author"], bibliography=[FDA], body=body)

    assert "regulatory-news-only" not in codes(article)


# --- images ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("markdown", "error"),
    [
        ("![](/static/chart.png)", True),
        ("![   ](/static/chart.png)", True),
        ("![A bar chart of response rates](/static/chart.png)", False),
        ("[![](/static/divider.png)]{.decorative}", False),
        ("[Some text ![](/static/divider.png) more]{.decorative}", False),
        ("[![](/static/chart.png)]{.note}", True),
    ],
)
def test_image_needs_alt_text_unless_marked_decorative(tmp_path, team, markdown, error):
    claim = "[A claim [@feder2014]]{.claim #c certainty=low}"
    body = f"Intro.\n\n## Pictures\n\n{markdown}\n\n{claim}\n"
    article = imported(tmp_path, team["author"], bibliography=[BIBLIOGRAPHY[0]], body=body)

    found = messages(article, "image-alt")
    if error:
        assert found == [
            "Image '/static/chart.png' in section 'pictures' has no alternative text; describe "
            "it, or mark it decorative with [![](...)]{.decorative}."
        ]
    else:
        assert found == []


def test_image_without_alt_text_blocks_approval(tmp_path, team):
    body = "![](/media/uploads/chart.png)\n\n[A claim [@feder2014]]{.claim #c certainty=low}\n"
    article = imported(tmp_path, team["author"], bibliography=[BIBLIOGRAPHY[0]], body=body)
    workflow.article_submit(article=article, user=team["author"])

    with pytest.raises(WorkflowError) as caught:
        workflow.article_approve(article=article, user=team["reviewer"])

    assert [p.code for p in caught.value.problems] == ["image-alt"]


@pytest.mark.parametrize(
    "image",
    [
        "![A chart](https://images.example.org/chart.png)",
        "![A chart](//images.example.org/chart.png)",
        "![A chart](chart.png)",
        "![A chart](/static/chart.png)",
        "![A chart](/media/uploads/../../static/chart.png)",
        "[![](https://images.example.org/divider.png)]{.decorative}",
    ],
)
def test_an_image_not_uploaded_to_this_site_blocks_approval(tmp_path, team, image):
    body = f"{image}\n\n[A claim [@feder2014]]{{.claim #c certainty=low}}\n"
    article = imported(tmp_path, team["author"], bibliography=[BIBLIOGRAPHY[0]], body=body)
    workflow.article_submit(article=article, user=team["author"])

    with pytest.raises(WorkflowError) as caught:
        workflow.article_approve(article=article, user=team["reviewer"])

    assert [p.code for p in caught.value.problems] == ["image-source"]


def test_an_uploaded_image_with_its_description_passes(tmp_path, team):
    body = (
        "![A chart](/media/uploads/chart.png)\n\n[A claim [@feder2014]]{.claim #c certainty=low}\n"
    )
    article = imported(tmp_path, team["author"], bibliography=[BIBLIOGRAPHY[0]], body=body)

    assert not {"image-source", "image-alt"} & set(codes(article))


# --- unused references ------------------------------------------------------------------


def test_reference_nothing_cites_is_a_warning(tmp_path, team):
    article = imported(tmp_path, team["author"])
    spare = Citation.objects.create(key="spare2020", title="A spare source", year=2020)
    ArticleCitation.objects.create(article=article, key="spare2020", citation=spare)

    problems = [p for p in article_gates(article=article) if p.code == "unused-reference"]

    assert [(p.level, p.message) for p in problems] == [
        ("warning", "Reference 'spare2020' is in the bibliography but nothing cites it.")
    ]
    assert "reference-incomplete" not in codes(article)  # unused: not shown, so not judged


# --- where the gates are named --------------------------------------------------------------


def test_article_info_names_each_gate(tmp_path, team, capsys):
    imported(tmp_path, team["author"], bibliography=bibliography_with(title="[TODO] title"))

    call_command("article_info", "test-article")
    text = capsys.readouterr().out
    call_command("article_info", "test-article", "--json")
    data = json.loads(capsys.readouterr().out)

    assert "ERROR [reference-incomplete]: Reference 'feder2014' needs a real title" in text
    assert "reference-incomplete" in [gate["code"] for gate in data["gates"]]


def test_review_page_names_the_gate_of_each_problem(tmp_path, team, client):
    from django.urls import reverse

    body = "![](/static/chart.png)\n\n[A claim [@feder2014]]{.claim #c certainty=low}\n"
    article = imported(tmp_path, team["author"], bibliography=[BIBLIOGRAPHY[0]], body=body)
    client.force_login(team["reviewer"])

    html = client.get(reverse("admin:articles_article_change", args=[article.pk])).content
    html = html.decode()

    assert '<code class="gate-code">image-alt</code>' in html
    assert "has no alternative text" in html
