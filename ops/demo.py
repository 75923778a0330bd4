"""Demo content, built through the same services editors use (no fixtures)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from articles.articlefile import read_article_file
from articles.models import (
    Article,
    ArticleStatus,
    ArticleTranslation,
    StaffProfile,
    Topic,
    TopicTranslation,
)
from articles.roles import AUTHORS, CLINICAL_REVIEWERS, PUBLISHERS
from articles.services.citations import citation_apply_csl, citation_upsert
from articles.services.drafts import article_import
from editorial.services.grading import claim_comment
from editorial.services.translations import (
    translation_approve,
    translation_publish,
    translation_save,
    translation_start,
    translation_submit,
)
from editorial.services.workflow import (
    article_approve,
    article_publish,
    article_request_changes,
    article_submit,
)
from evidence.citations import read_bibliography
from ptsdinfo.environment import is_production

DEMO_DIR = Path(__file__).resolve().parent / "demo_content"
DEMO_PASSWORD = "ptsdinfo-demo"  # noqa: S105 - local demo accounts, printed by `make run`


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    credentials: str = ""
    coi: str = ""
    is_superuser: bool = False
    group: str = ""


DEMO_USERS = (
    DemoUser("admin", "Site administrator", is_superuser=True),
    DemoUser(
        "author",
        "Dr Casey Lin",
        "PhD, clinical psychologist (demo account)",
        "No conflicts of interest declared.",
        group=AUTHORS,
    ),
    DemoUser(
        "reviewer",
        "Dr Jordan Avery",
        "MD, psychiatrist (demo account)",
        "No conflicts of interest declared. Has not received funding from makers of ketamine "
        "or esketamine.",
        group=CLINICAL_REVIEWERS,
    ),
    DemoUser("publisher", "Sam Patel", "Managing editor (demo account)", group=PUBLISHERS),
)

DEMO_ARTICLES = ("ketamine-for-ptsd", "what-is-ptsd", "ptsd-treatments")
# Articles published in Spanish too (article.es.md: title, summary and the translated
# body of article.md). what-is-ptsd is then updated in English (update.md, update.yaml),
# so that one Spanish claim shows as stale (issue 18).
DEMO_TRANSLATIONS = {"ketamine-for-ptsd": "es", "what-is-ptsd": "es"}
DEMO_TOPICS = {
    "ptsd": ("PTSD", "Post-traumatic stress disorder: what it is and how it is treated."),
    "basics": ("The basics", "Start here: what PTSD is and how it is diagnosed."),
    "treatments": ("Treatments", "Therapies and medicines, and the evidence behind them."),
}
# The same topics on the Spanish site (TopicTranslation), set before the translations
# are approved, so their pages carry these names.
DEMO_TOPIC_TRANSLATIONS = {
    "es": {
        "ptsd": ("TEPT", "El trastorno de estrés postraumático: qué es y cómo se trata."),
        "basics": ("Lo básico", "Empiece aquí: qué es el TEPT y cómo se diagnostica."),
        "treatments": (
            "Tratamientos",
            "Terapias y medicamentos, y la evidencia que los respalda.",
        ),
    },
}


class DemoRefused(Exception):
    """Demo accounts have documented passwords: never on a production deployment."""


def active_demo_accounts() -> list[str]:
    """Usernames of active demo accounts that still have the documented password."""
    User = get_user_model()
    names = [spec.username for spec in DEMO_USERS]
    return [
        user.get_username()
        for user in User.objects.filter(username__in=names, is_active=True)
        if user.check_password(DEMO_PASSWORD)
    ]


def demo_users_ensure() -> dict[str, object]:
    User = get_user_model()
    users = {}
    for spec in DEMO_USERS:
        user, created = User.objects.get_or_create(
            username=spec.username,
            defaults={"is_staff": True, "is_superuser": spec.is_superuser},
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        StaffProfile.objects.get_or_create(
            user=user,
            defaults={
                "display_name": spec.display_name,
                "credentials": spec.credentials,
                "conflict_of_interest": spec.coi,
            },
        )
        if spec.group:
            user.groups.add(Group.objects.get(name=spec.group))
        users[spec.username] = user
    return users


@transaction.atomic
def demo_load(*, force: bool = False) -> list[str]:
    """Load the demo library through the real workflow; a second run changes nothing.

    Each article is first published from `previous.md` (version 1). The ketamine article
    starts one step earlier, as the seed text, sent back by the clinical reviewer with the
    comments in review.yaml. Then `article.md` is the corrected next version: the author
    imports it, the reviewer comments on each changed claim (revision.yaml), approves it
    with its "What changed" summary, and the publisher publishes it. A database that
    already has version 1 gets only the new version; one that has both gets nothing.

    `previous.md` is the published version 1 text less two references today's
    reference-completeness gate refuses (an untitled, authorless Focus review and an
    undated VA web page); each sat beside other sources for the same claim.
    """
    if is_production() and not force:
        raise DemoRefused(
            "Refusing to load demo content: these settings look like production (DEBUG off "
            "and a real DJANGO_SECRET_KEY), and the demo accounts have published passwords. "
            "Use --force-demo only on a throwaway deployment."
        )
    users = demo_users_ensure()
    for slug, (name, description) in DEMO_TOPICS.items():
        Topic.objects.get_or_create(slug=slug, defaults={"name": name, "description": description})
    for language, topics in DEMO_TOPIC_TRANSLATIONS.items():
        for slug, (name, description) in topics.items():
            TopicTranslation.objects.get_or_create(
                topic=Topic.objects.get(slug=slug),
                language=language,
                defaults={"name": name, "description": description},
            )
    demo_citations_refresh()
    loaded = []
    for slug in DEMO_ARTICLES:
        directory = DEMO_DIR / slug
        first = not Article.objects.filter(slug=slug, live_version__isnull=False).exists()
        if first:
            _publish_first_version(directory, users)
        if _publish_revision(directory, users) or first:
            loaded.append(slug)
        if (language := DEMO_TRANSLATIONS.get(slug)) and _publish_translation(
            directory, users, language
        ):
            _publish_revision(directory, users, name="update")
            loaded.append(f"{slug} [{language}]")
    return loaded


def demo_citations_refresh() -> int:
    """Bring the library's copies of the demo references up to date with references.json.

    Importing never rewrites a library citation (other articles rely on it), so corrected
    metadata (an added PMID, authors, a year) reaches an existing library only here.
    Returns how many citations changed; a second run changes none.
    """
    items = read_bibliography(
        (DEMO_DIR / "references.json").read_text(encoding="utf-8"), "csl-json"
    )
    changed = 0
    for item in items:
        citation, created = citation_upsert(item=item)
        stored = {k: v for k, v in item.items() if k != "id"}
        if created or citation.csl == stored:
            continue
        citation_apply_csl(citation=citation, item=item)
        citation.full_clean(exclude=["csl"])
        citation.save()
        changed += 1
    return changed


def _publish_first_version(directory: Path, users: dict) -> None:
    author, reviewer = users["author"], users["reviewer"]
    review = _review_notes(directory / "review.yaml")
    seed = directory / "seed.md"
    if seed.exists():
        article = article_import(source=read_article_file(seed), user=author).article
        article_submit(article=article, user=author, comment="First draft for review.")
        article_request_changes(
            article=article,
            user=reviewer,
            comment=review.get("comment", "Changes requested."),
            claim_comments={c["id"]: c["comment"] for c in review.get("claims", [])},
        )
    first = directory / "previous.md"
    if not first.exists():
        first = directory / "article.md"
    article = article_import(source=read_article_file(first), user=author).article
    article_submit(article=article, user=author, comment=review.get("author_note", ""))
    article_approve(
        article=article,
        user=reviewer,
        comment="Every claim checked against its sources.",
        change_summary=review.get("change_summary", "First published version."),
    )
    article_publish(article=article, user=users["publisher"])


def _publish_revision(directory: Path, users: dict, *, name: str = "article") -> bool:
    """Publish article.md (or `name`.md, with `name`.yaml) as the next version when it
    differs from the live one. An article with a later English update (update.md) that
    is already live is left alone: article.md is behind it on purpose."""
    notes_path = directory / ("revision.yaml" if name == "article" else f"{name}.yaml")
    if not notes_path.exists():
        return False
    if name == "article" and (directory / "update.md").exists():
        live = Article.objects.filter(slug=directory.name).values_list(
            "live_version__number", flat=True
        )
        if (live.first() or 0) >= 3:
            return False
    author, reviewer = users["author"], users["reviewer"]
    notes = _review_notes(notes_path)
    result = article_import(source=read_article_file(directory / f"{name}.md"), user=author)
    article = result.article
    if not result.changed and article.status == ArticleStatus.PUBLISHED:
        return False
    article_submit(article=article, user=author, comment=notes.get("author_note", ""))
    for claim in notes.get("claims", []):
        claim_comment(article=article, user=reviewer, key=claim["id"], comment=claim["comment"])
    article_approve(
        article=article,
        user=reviewer,
        comment=notes.get("comment", "Every change checked against its source."),
        change_summary=notes["change_summary"],
    )
    article_publish(article=article, user=users["publisher"])
    return True


def _publish_translation(directory: Path, users: dict, language: str) -> bool:
    """Translate, review and publish article.<language>.md through the translation
    workflow (the author translates; the clinical reviewer, fluent in the language,
    approves; the publisher publishes). False when it is already published."""
    article = Article.objects.get(slug=directory.name)
    published = ArticleTranslation.objects.filter(
        article=article, language=language, live_version__isnull=False
    )
    if published.exists():
        return False
    author, reviewer = users["author"], users["reviewer"]
    StaffProfile.objects.filter(user=reviewer, languages="").update(languages=language)
    reviewer.refresh_from_db()
    _, front, body = (
        (directory / f"article.{language}.md").read_text(encoding="utf-8").split("---\n", 2)
    )
    meta = yaml.safe_load(front)
    translation = ArticleTranslation.objects.filter(
        article=article, language=language
    ).first() or translation_start(article=article, language=language, user=author)
    translation = translation_save(
        translation=translation,
        user=author,
        title=meta["title"],
        summary=meta["summary"],
        body=body,
    )
    translation_submit(translation=translation, user=author)
    translation_approve(translation=translation, user=reviewer)
    translation_publish(translation=translation, user=users["publisher"])
    return True


def _review_notes(path: Path) -> dict:
    if not path.exists():
        return {}
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
