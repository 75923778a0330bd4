from datetime import datetime

from django.core.management.base import BaseCommand, CommandError

from articles.management.users import user_by_name
from articles.models import Article
from editorial.services.workflow import ACTIONS, WorkflowError


class Command(BaseCommand):
    help = (
        "Take an article through the editorial workflow as USER. Actions: "
        + ", ".join(ACTIONS)
        + ". A refused action exits non-zero with the rule that refused it."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("action", choices=sorted(ACTIONS))
        parser.add_argument("--user", required=True, help="username taking the action")
        parser.add_argument("--comment", default="", help="comment (required by some actions)")
        parser.add_argument("--at", help="go-live time for schedule, ISO 8601 with offset")
        parser.add_argument(
            "--change-summary", help="for approve: the 'What changed' line readers see"
        )

    def handle(self, *args, slug, action, user, comment, at=None, change_summary=None, **options):
        try:
            article = Article.objects.get(slug=slug)
        except Article.DoesNotExist:
            raise CommandError(f"no article with slug {slug!r}") from None
        actor = user_by_name(user)
        kwargs = {"article": article, "user": actor}
        if action == "withdraw":
            kwargs["reason"] = comment
        else:
            kwargs["comment"] = comment
        if action == "approve" and change_summary is not None:
            kwargs["change_summary"] = change_summary
        if action == "schedule":
            if not at:
                raise CommandError("schedule needs --at, e.g. --at 2027-01-01T09:00:00+00:00")
            try:
                kwargs["at"] = datetime.fromisoformat(at)
            except ValueError:
                raise CommandError(f"--at {at!r} is not an ISO 8601 date-time") from None
        try:
            ACTIONS[action](**kwargs)
        except WorkflowError as exc:
            raise CommandError(f"refused ({exc.rule}): {exc}") from exc
        article.refresh_from_db()
        self.stdout.write(self.style.SUCCESS(f"{slug}: {action} done; state is {article.status}"))
