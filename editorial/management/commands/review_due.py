import json
from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from articles.models import Article
from editorial.services.reminders import FAILED, NO_RECIPIENT, review_reminders_send
from publicsite.selectors import reviews_due


class Command(BaseCommand):
    help = (
        "List published articles whose clinical review is overdue or due soon. "
        "With --email, email each one's responsible editor (owner, else last editor) "
        "through Django's mail settings, at most once per article per day. "
        "Exits 1 when any review is overdue, or an email could not be sent or had no "
        "one to go to (for cron and monitoring)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--within", type=int, default=30, metavar="DAYS")
        parser.add_argument(
            "--email", action="store_true", help="email the responsible editors (once a day)"
        )
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, within, email=False, **options):
        today = timezone.localdate()
        due = list(reviews_due(until=today + timedelta(days=within)))
        rows = [
            {
                "slug": article.slug,
                "title": article.title,
                "last_reviewed": article.last_reviewed.isoformat()
                if article.last_reviewed
                else None,
                "next_review_due": article.next_review_due.isoformat(),
                "overdue": article.next_review_due < today,
                "days": (article.next_review_due - today).days,
            }
            for article in due
        ]
        outcomes = {}
        if email and due:
            articles = (
                Article.objects.filter(pk__in=[a.pk for a in due])
                .select_related("owner__profile", "last_edited_by__profile")
                .order_by("next_review_due", "slug")
            )
            outcomes = review_reminders_send(articles=list(articles), today=today)
            by_slug = {o.slug: o for o in outcomes.values()}
            for row in rows:
                row["email"] = by_slug[row["slug"]].as_dict()
        if options["json"]:
            self.stdout.write(json.dumps(rows, indent=2))
        elif not rows:
            self.stdout.write(f"No reviews due within {within} days.")
        for row in [] if options["json"] else rows:
            when = (
                f"OVERDUE by {-row['days']} days"
                if row["overdue"]
                else f"due in {row['days']} days"
            )
            self.stdout.write(f"{row['slug']}: {when} ({row['next_review_due']})")
            if "email" in row:
                sent = row["email"]
                to = f" to {sent['to']}" if sent["to"] else ""
                error = f": {sent['error']}" if sent["error"] else ""
                self.stdout.write(f"  email {sent['status']}{to}{error}")
        undelivered = any(o.status in (FAILED, NO_RECIPIENT) for o in outcomes.values())
        if any(row["overdue"] for row in rows) or undelivered:
            raise SystemExit(1)
