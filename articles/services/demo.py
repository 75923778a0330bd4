"""Demo content, built through the same services editors use (no fixtures)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from articles.articlefile import read_article_file
from articles.models import Article, StaffProfile, Topic
from articles.roles import AUTHORS, CLINICAL_REVIEWERS, PUBLISHERS
from articles.services.drafts import article_import
from articles.services.workflow import (
    article_approve,
    article_publish,
    article_request_changes,
    article_submit,
)

DEMO_DIR = Path(__file__).resolve().parent.parent / "demo"
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
DEMO_TOPICS = {
    "ptsd": ("PTSD", "Post-traumatic stress disorder: what it is and how it is treated."),
    "basics": ("The basics", "Start here: what PTSD is and how it is diagnosed."),
    "treatments": ("Treatments", "Therapies and medicines, and the evidence behind them."),
}


class DemoRefused(Exception):
    """Demo accounts have documented passwords: never on a production deployment."""


def is_production() -> bool:
    """DEBUG off with a real secret key: how this project tells production apart."""
    from articles.security import LOCAL_SECRET_KEY_PREFIX

    return not settings.DEBUG and not settings.SECRET_KEY.startswith(LOCAL_SECRET_KEY_PREFIX)


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
    """Load the demo library once, through the real workflow; a second run changes nothing.

    The ketamine article starts as the seed text (version 1 draft), is sent back by the
    clinical reviewer with the comments in review.yaml, corrected by the author,
    approved by the reviewer and published by the publisher.
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
    loaded = []
    for slug in DEMO_ARTICLES:
        if Article.objects.filter(slug=slug, live_version__isnull=False).exists():
            continue
        directory = DEMO_DIR / slug
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
        article = article_import(
            source=read_article_file(directory / "article.md"), user=author
        ).article
        article_submit(article=article, user=author, comment=review.get("author_note", ""))
        article_approve(
            article=article,
            user=reviewer,
            comment="Every claim checked against its sources.",
            change_summary=review.get("change_summary", "First published version."),
        )
        article_publish(article=article, user=users["publisher"])
        loaded.append(slug)
    return loaded


def _review_notes(path: Path) -> dict:
    if not path.exists():
        return {}
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
