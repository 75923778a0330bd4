import json
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from articles.articlefile import ArticleFileError, read_article_file
from articles.models import Article, ArticleCitation, Citation, Claim, ClaimCitation, Section
from articles.services.exports import article_export
from articles.services.snapshots import article_content_hash, draft_snapshot
from tests.factories import BIBLIOGRAPHY, import_article, write_article

pytestmark = pytest.mark.django_db


def table_counts():
    return {
        model.__name__: model.objects.count()
        for model in (Article, Section, Claim, Citation, ClaimCitation, ArticleCitation)
    }


def test_import_creates_draft_with_sections_claims_and_citations(tmp_path):
    result = import_article(write_article(tmp_path))

    article = result.article
    assert result.outcome == "created"
    assert article.status == Article.Status.DRAFT
    assert article.live_version is None
    assert [s.anchor for s in article.sections.all()] == ["lead", "mechanism", "evidence"]
    claim = article.claims.get(key="rapid-onset")
    assert claim.certainty == "moderate"
    assert claim.section.anchor == "mechanism"
    link = claim.claim_citations.get()
    assert link.citation.doi == "10.1001/jamapsychiatry.2014.62"
    assert link.locator == "p. 683"
    assert sorted(article.topics.values_list("slug", flat=True)) == ["ptsd", "treatments"]


def test_reimporting_the_same_file_is_unchanged_and_duplicates_nothing(tmp_path):
    path = write_article(tmp_path)
    import_article(path)
    before = table_counts()

    result = import_article(path)

    assert result.outcome == "unchanged"
    assert table_counts() == before


def test_citations_are_shared_across_articles_by_doi(tmp_path):
    import_article(write_article(tmp_path / "a", slug="first"))
    renamed = [dict(item, id=f"other-{item['id']}") for item in BIBLIOGRAPHY]
    body = "[Claim [@other-feder2014]]{.claim #c1 certainty=low}\n"
    import_article(write_article(tmp_path / "b", slug="second", bibliography=renamed, body=body))

    assert Citation.objects.filter(doi="10.1001/jamapsychiatry.2014.62").count() == 1
    second = Article.objects.get(slug="second")
    assert second.bibliography.get().key == "other-feder2014"


def test_unknown_citation_key_names_file_line_and_key_and_writes_nothing(tmp_path):
    body = "Intro.\n\n## Part\n\nText [@nosuchkey].\n"
    path = write_article(tmp_path, body=body)
    before = table_counts()

    with pytest.raises(CommandError) as excinfo:
        call_command("import_article", str(path))

    message = str(excinfo.value)
    assert str(path) in message
    assert "nosuchkey" in message
    assert ":13:" in message  # the body line of the citation, counted in the whole file
    assert table_counts() == before


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("[A [@feder2014]]{.claim #same}\n\n[B [@feder2014]]{.claim #same}\n", "same"),
        ("[A [@feder2014]]{.claim #x certainty=sure}\n", "certainty"),
        ("[A [@feder2014]]{.claim}\n", "id"),
    ],
    ids=["duplicate-claim-id", "bad-certainty", "claim-without-id"],
)
def test_malformed_claims_fail_with_the_line_and_write_nothing(tmp_path, body, expected):
    path = write_article(tmp_path, body=body)

    with pytest.raises(CommandError) as excinfo:
        call_command("import_article", str(path))

    assert expected in str(excinfo.value)
    assert f"{path}:" in str(excinfo.value)
    assert Article.objects.count() == 0


def test_bad_front_matter_is_refused(tmp_path):
    path = tmp_path / "bad.md"
    path.write_text("---\ntitle: [unclosed\n---\n\nBody\n")

    with pytest.raises(CommandError, match=r"bad\.md:\d+: front matter is not valid YAML"):
        call_command("import_article", str(path))


def test_missing_title_is_refused(tmp_path):
    path = tmp_path / "bad.md"
    path.write_text("---\nsummary: no title\n---\n\nBody\n")

    with pytest.raises(CommandError, match="title"):
        call_command("import_article", str(path))


def test_unreadable_bibliography_is_refused(tmp_path):
    path = write_article(tmp_path)
    (tmp_path / "refs.json").write_text("[{not json")

    with pytest.raises(CommandError, match=r"refs\.json"):
        call_command("import_article", str(path))
    assert Citation.objects.count() == 0


def test_bad_doi_in_bibliography_names_the_value(tmp_path):
    bad = [dict(BIBLIOGRAPHY[0], DOI="10.12/not a doi"), BIBLIOGRAPHY[1]]
    path = write_article(tmp_path, bibliography=bad)

    with pytest.raises(CommandError, match=r"10\.12/not a doi"):
        call_command("import_article", str(path))
    assert table_counts()["Article"] == 0


def test_a_failure_midway_leaves_an_existing_draft_as_it_was(tmp_path):
    path = write_article(tmp_path)
    article = import_article(path).article
    before_hash = article_content_hash(article)
    path.write_text(path.read_text().replace("[@abdallah2022]", "[@missing2099]"))

    with pytest.raises(CommandError):
        call_command("import_article", str(path))

    article.refresh_from_db()
    assert article_content_hash(article) == before_hash


def test_dry_run_validates_and_writes_nothing(tmp_path, capsys):
    call_command("import_article", str(write_article(tmp_path)), "--dry-run")

    assert "dry run" in capsys.readouterr().out
    assert table_counts()["Article"] == 0
    assert table_counts()["Citation"] == 0


def test_export_then_import_gives_back_the_same_article(tmp_path):
    original = import_article(write_article(tmp_path / "in")).article
    original_hash = article_content_hash(original)
    out = tmp_path / "out"
    call_command("export_article", original.slug, "-o", str(out))

    exported = read_article_file(out / f"{original.slug}.md")
    assert [s.anchor for s in exported.sections] == ["lead", "mechanism", "evidence"]
    assert json.loads((out / f"{original.slug}.json").read_text())[0]["id"] == "abdallah2022"

    # The same file under another slug is the same article, reusing the same citations.
    copy = out / "copy.md"
    copy.write_text(
        (out / f"{original.slug}.md")
        .read_text()
        .replace("slug: test-article", "slug: copy-of-test-article")
    )
    (out / "test-article.json").rename(out / "copy.json")
    copy.write_text(copy.read_text().replace("test-article.json", "copy.json"))
    citations_before = Citation.objects.count()
    again = import_article(copy).article

    def without_slug(snapshot):
        return {k: v for k, v in snapshot.items() if k != "slug"}

    assert without_slug(draft_snapshot(again)) == without_slug(draft_snapshot(original))
    assert Citation.objects.count() == citations_before
    assert article_content_hash(original) == original_hash


def test_export_of_an_export_is_byte_identical(tmp_path):
    article = import_article(write_article(tmp_path / "in")).article
    first = article_export(article=article, directory=tmp_path / "one")
    import_article(first[0])
    second = article_export(article=article, directory=tmp_path / "two")

    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]


def test_import_command_reports_created_then_unchanged(tmp_path, capsys):
    path = write_article(tmp_path)
    call_command("import_article", str(path))
    call_command("import_article", str(path))

    out = capsys.readouterr().out
    assert "created test-article" in out
    assert "unchanged test-article" in out


def test_inline_references_in_front_matter_are_citable(tmp_path):
    path = tmp_path / "inline.md"
    path.write_text(
        "---\ntitle: Inline\nreferences:\n  - id: fda2019\n    type: webpage\n"
        "    title: FDA approves new nasal spray\n    URL: https://www.fda.gov/news\n"
        "    issued: {date-parts: [[2019, 3, 5]]}\n---\n\n"
        "[Esketamine was approved in 2019 [@fda2019]]{.claim #fda certainty=high}\n"
    )

    article = import_article(path).article

    assert article.slug == "inline"
    assert article.claims.get().citations.get().url == "https://www.fda.gov/news"


def test_article_without_bibliography_resolves_keys_from_the_library(tmp_path):
    import_article(write_article(tmp_path / "a", slug="first"))
    path = tmp_path / "b.md"
    path.write_text("---\ntitle: Second\n---\n\n[Claim [@feder2014]]{.claim #c certainty=low}\n")

    article = import_article(path).article

    assert article.claims.get().citations.get().doi == "10.1001/jamapsychiatry.2014.62"


@pytest.mark.parametrize("doi", [True, False])
def test_a_library_key_may_come_before_a_key_of_the_files_own_bibliography(tmp_path, doi):
    import_article(write_article(tmp_path / "a", slug="first"))
    study = {"id": "new2024", "type": "article-journal", "title": "A new study"}
    study |= {"issued": {"date-parts": [[2024]]}} | ({"DOI": "10.1000/new.2024"} if doi else {})
    body = "[Claim [@feder2014] and [@new2024]]{.claim #c certainty=low}\n"
    path = write_article(tmp_path / "b", slug="second", bibliography=[study], body=body)

    article = import_article(path).article

    assert sorted(c.title for c in article.claims.get().citations.all()) == [
        "A new study",
        "Efficacy of Intravenous Ketamine for Treatment of Chronic PTSD",
    ]


@pytest.mark.parametrize("title", ["创伤后应激障碍", "Сон", "!!!"])
def test_a_title_without_latin_letters_needs_a_slug_line(tmp_path, title):
    path = tmp_path / "a.md"
    path.write_text(f"---\ntitle: '{title}'\n---\n\nLead.\n")

    with pytest.raises(ArticleFileError, match="add a `slug:` line"):
        read_article_file(path)

    path.write_text(f"---\ntitle: '{title}'\nslug: sleep\n---\n\nLead.\n")
    assert import_article(path).article.title == title


def test_an_indented_dash_line_in_a_block_scalar_does_not_end_the_front_matter(tmp_path):
    path = tmp_path / "a.md"
    path.write_text(
        "---\ntitle: Block scalar\nsummary: >-\n  Part one\n  ---\n  part two\n---  \n\nLead.\n"
    )

    source = read_article_file(path)

    assert source.summary == "Part one --- part two"
    assert [s.body for s in source.sections] == ["Lead."]


@pytest.mark.parametrize("control", ["\u202e", "\u202a", "\u2066", "\u2069"])
def test_a_control_that_reorders_text_is_refused_with_its_line(tmp_path, control):
    path = tmp_path / "a.md"
    path.write_text(
        "---\ntitle: Dose\n---\n\nLead.\n\n"
        f"[The usual starting dose is {control}05 mg [@feder2014]]{{.claim #d}}.\n",
        encoding="utf-8",
    )

    with pytest.raises(ArticleFileError, match=f"U\\+{ord(control):04X} reorders") as caught:
        read_article_file(path)

    assert caught.value.line == 7


def test_a_reference_with_a_reordering_control_is_refused(tmp_path):
    item = {**BIBLIOGRAPHY[0], "title": "Ketamine \u202etrial"}
    path = write_article(tmp_path, bibliography=[item])

    with pytest.raises(ArticleFileError, match="U\\+202E reorders"):
        import_article(path)

    assert not Citation.objects.exists()


@pytest.mark.parametrize(
    ("front", "body", "line", "message"),
    [
        ("title: " + "T" * 201, "Lead.\n", 2, "the title is 201 characters; at most 200"),
        ("title: Long", "Lead.\n\n## " + "H" * 301 + "\n\nText.\n", 8, "the heading is 301"),
        (
            "title: Long",
            "Lead.\n\n[A claim [@feder2014, p. " + "9" * 120 + "]]{.claim #c}\n",
            8,
            "the citation's locator is 123 characters; at most 100",
        ),
        (
            "title: Long",
            "Lead.\n\nText [@" + "k" * 201 + "].\n",
            8,
            "the citation's key is 201 characters; at most 200",
        ),
    ],
)
def test_text_longer_than_its_column_is_refused_with_its_line(tmp_path, front, body, line, message):
    path = tmp_path / "a.md"
    path.write_text(f"---\n{front}\nslug: long\n---\n\n{body}")

    with pytest.raises(ArticleFileError, match=re.escape(message)) as caught:
        import_article(path)

    assert caught.value.line == line
    assert not Article.objects.exists()


def test_a_reference_address_longer_than_its_column_is_refused_with_its_line(tmp_path):
    url = "https://example.org/" + "x" * 600
    item = {"id": "web2020", "type": "webpage", "title": "A page", "URL": url}
    body = "Lead.\n\n[A claim [@web2020]]{.claim #c}\n"

    with pytest.raises(ArticleFileError, match="reference 'web2020': url: Ensure") as caught:
        import_article(write_article(tmp_path, bibliography=[item], body=body))

    assert caught.value.line is not None
    assert not Article.objects.exists()


def test_read_article_file_reports_missing_file(tmp_path):
    with pytest.raises(ArticleFileError, match="cannot read"):
        read_article_file(tmp_path / "absent.md")


def test_reimporting_an_item_without_identifiers_reuses_its_citation(tmp_path):
    report = {"id": "dea2023", "type": "report", "title": "Ketamine fact sheet", "publisher": "DEA"}
    body = "[Ketamine is a dissociative anesthetic [@dea2023]]{.claim #c certainty=high}\n"
    path = write_article(tmp_path, bibliography=[report], body=body)
    import_article(path)
    path.write_text(path.read_text().replace("dissociative anesthetic", "dissociative drug"))

    import_article(path)

    assert Citation.objects.filter(title="Ketamine fact sheet").count() == 1
