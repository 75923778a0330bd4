"""Demo content, built through the same services editors use (no fixtures)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import transaction

from articles.articlefile import read_article_file
from articles.models import Article, StaffProfile
from articles.services.drafts import article_import
from articles.services.versions import version_create, version_publish

DEMO_DIR = Path(__file__).resolve().parent.parent / "demo"
DEMO_PASSWORD = "ptsdinfo-demo"  # noqa: S105 - local demo accounts, printed by `make run`


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    credentials: str = ""
    coi: str = ""
    is_superuser: bool = False


DEMO_USERS = (
    DemoUser("admin", "Site administrator", is_superuser=True),
    DemoUser(
        "author",
        "Dr Casey Lin",
        "PhD, clinical psychologist (demo account)",
        "No conflicts of interest declared.",
    ),
    DemoUser(
        "reviewer",
        "Dr Jordan Avery",
        "MD, psychiatrist (demo account)",
        "No conflicts of interest declared. Has not received funding from makers of ketamine "
        "or esketamine.",
    ),
    DemoUser("publisher", "Sam Patel", "Managing editor (demo account)"),
)

DEMO_ARTICLES = ("ketamine-for-ptsd", "what-is-ptsd", "ptsd-treatments")


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
        users[spec.username] = user
    return users


@transaction.atomic
def demo_load() -> list[str]:
    """Load the demo library once; running it again changes nothing."""
    users = demo_users_ensure()
    loaded = []
    for slug in DEMO_ARTICLES:
        if Article.objects.filter(slug=slug, live_version__isnull=False).exists():
            continue
        directory = DEMO_DIR / slug
        seed = directory / "seed.md"
        if seed.exists():
            article_import(source=read_article_file(seed), user=users["author"])
        result = article_import(
            source=read_article_file(directory / "article.md"), user=users["author"]
        )
        version = version_create(
            article=result.article,
            author=users["author"],
            reviewer=users["reviewer"],
            change_summary="First published version.",
        )
        version_publish(version=version)
        loaded.append(slug)
    return loaded
