"""Plain factory functions for tests."""

import textwrap
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from articles.articlefile import parse_article_text, read_article_file
from articles.models import StaffProfile
from articles.roles import AUTHORS, CLINICAL_REVIEWERS, PUBLISHERS
from articles.services.drafts import article_import
from articles.services.versions import version_create, version_publish
from publicsite import article_page

BIBLIOGRAPHY = [
    {
        "id": "feder2014",
        "type": "article-journal",
        "title": "Efficacy of Intravenous Ketamine for Treatment of Chronic PTSD",
        "author": [{"family": "Feder", "given": "Adriana"}],
        "container-title": "JAMA Psychiatry",
        "volume": "71",
        "issue": "6",
        "page": "681-688",
        "issued": {"date-parts": [[2014]]},
        "DOI": "10.1001/jamapsychiatry.2014.62",
    },
    {
        "id": "abdallah2022",
        "type": "article-journal",
        "title": "Dose-related effects of ketamine for PTSD in veterans",
        "author": [{"family": "Abdallah", "given": "Chadi G."}],
        "container-title": "Neuropsychopharmacology",
        "issued": {"date-parts": [[2022]]},
        "DOI": "10.1038/s41386-022-01266-9",
    },
]

ARTICLE_BODY = """\
A short lead paragraph about [PTSD treatments [@feder2014]]{.claim #lead-claim certainty=low}.

## How it works {#mechanism}

Ketamine blocks a receptor. [A single infusion reduced symptoms at 24 hours
[@feder2014, p. 683]]{.claim #rapid-onset certainty=moderate}

## Evidence

[The largest trial in veterans was negative [@abdallah2022]]{.claim #veterans certainty=low}
"""


def make_user(
    username="editor", *, staff=True, display_name=None, credentials="", groups=(), **extra
):
    user = get_user_model().objects.create_user(
        username=username, password="test-pass-123", is_staff=staff, **extra
    )
    if display_name:
        StaffProfile.objects.create(user=user, display_name=display_name, credentials=credentials)
    for name in groups:
        user.groups.add(Group.objects.get(name=name))
    return user


def make_topics():
    """The topics write_article's files use, as a Publisher would have created them."""
    from articles.models import Topic

    for slug, name in (("ptsd", "PTSD"), ("treatments", "Treatments")):
        Topic.objects.get_or_create(slug=slug, defaults={"name": name})


def make_team():
    """One user per role, as a dict: author, author2, reviewer, reviewer2, publisher.
    Also creates the topics the test articles use (authors cannot create topics)."""
    make_topics()
    return {
        "author": make_user("alice", display_name="Dr Alice", credentials="PhD", groups=[AUTHORS]),
        "author2": make_user("amir", display_name="Dr Amir", credentials="MD", groups=[AUTHORS]),
        "reviewer": make_user(
            "rita",
            display_name="Dr Rita Reviewer",
            credentials="MD, psychiatrist",
            groups=[CLINICAL_REVIEWERS],
        ),
        "reviewer2": make_user(
            "ravi", display_name="Dr Ravi", credentials="MD", groups=[CLINICAL_REVIEWERS, AUTHORS]
        ),
        "publisher": make_user("paul", display_name="Paul Publisher", groups=[PUBLISHERS]),
    }


def article_text(*, slug="test-article", title="Test article", body=ARTICLE_BODY, extra_front=""):
    front = textwrap.dedent(
        f"""\
        ---
        title: {title}
        slug: {slug}
        summary: What the research says, in brief.
        topics: [ptsd, treatments]
        {extra_front}
        """
    ).rstrip("\n")
    return f"{front}\n---\n\n{body}"


def write_article(
    directory: Path, *, slug="test-article", bibliography=None, body=ARTICLE_BODY, **kw
):
    """Write an article file with a CSL-JSON bibliography beside it; returns the path."""
    import json

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "refs.json").write_text(json.dumps(bibliography or BIBLIOGRAPHY))
    path = directory / f"{slug}.md"
    path.write_text(article_text(slug=slug, body=body, extra_front="bibliography: refs.json", **kw))
    return path


def import_article(path: Path, user=None):
    make_topics()
    return article_import(source=read_article_file(path), user=user)


def publish(article, *, author=None, reviewer=None, change_summary="First version."):
    if reviewer is None:
        reviewer = get_user_model().objects.filter(username="test-reviewer").first() or make_user(
            "test-reviewer", display_name="Dr Test Reviewer", credentials="MD"
        )
    version = version_create(
        article=article, author=author, reviewer=reviewer, change_summary=change_summary
    )
    version = version_publish(version=version)
    # What the article_published receiver does once the publication commits (a test's
    # transaction never commits): store the version's rendered page, and those of its
    # live translations.
    article_page.article_pages_store(article=version.article)
    return version


def parse(text: str, base_dir: Path | None = None):
    return parse_article_text(text, base_dir=base_dir)
