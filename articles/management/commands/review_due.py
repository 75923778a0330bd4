import json
from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from articles.selectors import reviews_due


class Command(BaseCommand):
    help = (
        "List published articles whose clinical review is overdue or due soon. "
        "Exits 1 when any review is overdue (for cron and monitoring)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--within", type=int, default=30, metavar="DAYS")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, within, **options):
        today = timezone.localdate()
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
            for article in reviews_due(until=today + timedelta(days=within))
        ]
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
        if any(row["overdue"] for row in rows):
            raise SystemExit(1)
