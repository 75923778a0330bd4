import json

from django.core.management.base import BaseCommand, CommandError

from articles.models import Article
from articles.services.snapshots import article_content_hash
from editorial.services.gates import article_gates, identifiers_check_online


class Command(BaseCommand):
    help = "Show an article's state, live version, draft hash, review dates and gate results."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--json", action="store_true", help="machine-readable output")
        parser.add_argument(
            "--online",
            action="store_true",
            help="first ask PubMed which DOI each cited PMID has (cached for the "
            "identifier-mismatch gate); without it the gates use only cached data",
        )

    def handle(self, *args, slug, **options):
        try:
            article = Article.objects.select_related("live_version").get(slug=slug)
        except Article.DoesNotExist:
            raise CommandError(f"no article with slug {slug!r}") from None
        if options["online"]:
            for failure in identifiers_check_online(article=article):
                self.stderr.write(f"could not check {failure}")
        problems = article_gates(article=article)
        info = {
            "slug": article.slug,
            "title": article.title,
            "state": article.status,
            "live_version": article.live_version.number if article.live_version else None,
            "draft_content_hash": article_content_hash(article),
            "last_reviewed": _iso(article.last_reviewed),
            "next_review_due": _iso(article.next_review_due),
            "gates": [p.as_dict() for p in problems],
        }
        if options["json"]:
            self.stdout.write(_dumps(info))
            return
        for key in ("slug", "title", "state", "live_version", "draft_content_hash"):
            self.stdout.write(
                f"{key.replace('_', ' ')}: {info[key] if info[key] is not None else '-'}"
            )
        self.stdout.write(f"last reviewed: {info['last_reviewed'] or 'never'}")
        self.stdout.write(f"next review due: {info['next_review_due'] or '-'}")
        if not problems:
            self.stdout.write("gates: all clear")
        for problem in problems:
            self.stdout.write(f"  {problem.level.upper()} [{problem.code}]: {problem.message}")


def _iso(day):
    return day.isoformat() if day else None


def _dumps(data):
    return json.dumps(data, indent=2)
