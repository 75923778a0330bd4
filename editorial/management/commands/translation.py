import json

from django.core.management.base import BaseCommand, CommandError

from articles.management.users import user_by_name
from articles.models import Article, ArticleTranslation
from editorial.services import translations as rules
from editorial.services.translation_staleness import stale_claims
from editorial.services.workflow import WorkflowError

ACTIONS = ("start", "submit", "request_changes", "approve", "publish", "status")


class Command(BaseCommand):
    help = (
        "Take an article's translation through its workflow as USER, or show its status "
        "and the claims changed in English since the published translation's source. "
        "A refused action exits non-zero with the rule that refused it."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("language", help="e.g. es")
        parser.add_argument("action", choices=ACTIONS)
        parser.add_argument("--user", help="username taking the action (not for status)")
        parser.add_argument("--comment", default="", help="why, for request_changes")
        parser.add_argument("--json", action="store_true", help="status as JSON")

    def handle(self, *args, slug, language, action, user=None, comment="", **options):
        article = Article.objects.filter(slug=slug).first()
        if article is None:
            raise CommandError(f"no article with slug {slug!r}")
        translation = ArticleTranslation.objects.filter(article=article, language=language).first()
        if action == "status":
            return self._status(article, language, translation, options["json"])
        if not user:
            raise CommandError(f"{action} needs --user")
        actor = user_by_name(user)
        if translation is None and action != "start":
            raise CommandError(f"no {language!r} translation of {slug!r}; start one first")
        steps = {
            "start": lambda: rules.translation_start(
                article=article, language=language, user=actor
            ),
            "submit": lambda: rules.translation_submit(translation=translation, user=actor),
            "request_changes": lambda: rules.translation_request_changes(
                translation=translation, user=actor, comment=comment
            ),
            "approve": lambda: rules.translation_approve(translation=translation, user=actor),
            "publish": lambda: rules.translation_publish(translation=translation, user=actor),
        }
        try:
            steps[action]()
        except WorkflowError as exc:
            raise CommandError(f"refused ({exc.rule}): {exc}") from exc
        translation = ArticleTranslation.objects.get(article=article, language=language)
        self.stdout.write(
            self.style.SUCCESS(f"{slug} [{language}]: {action} done; state is {translation.status}")
        )

    def _status(self, article, language, translation, as_json):
        if translation is None:
            raise CommandError(f"no {language!r} translation of {article.slug!r}")
        stale = stale_claims(translation)
        data = {
            "article": article.slug,
            "language": language,
            "status": translation.status,
            "draft_translates": translation.source_version.number,
            "live": translation.live_version.number if translation.live_version else None,
            "live_translates": (
                translation.live_version.source_version.number if translation.live_version else None
            ),
            "english_live": article.live_version.number if article.live_version else None,
            "stale_claims": [{"id": c.id, "changed": list(c.reasons)} for c in stale],
        }
        if as_json:
            self.stdout.write(json.dumps(data, indent=2))
            return
        for key, value in data.items():
            if key != "stale_claims":
                self.stdout.write(f"{key}: {value}")
        for claim in stale:
            self.stdout.write(f"stale: {claim.id} ({', '.join(claim.reasons)})")
