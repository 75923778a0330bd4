from django.core.management.base import BaseCommand, CommandError

from articles.models import Article
from articles.services.snapshots import draft_snapshot
from editorial.diffing import diff_snapshots


class Command(BaseCommand):
    help = (
        "Show what changed between two versions of an article: text, claims (added, "
        "removed, re-graded) and citations. Versions are numbers or 'draft'; by default "
        "the live version against the draft."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("old", nargs="?", help="version number (default: live)")
        parser.add_argument("new", nargs="?", default="draft", help="version number or 'draft'")

    def handle(self, *args, slug, old, new, **options):
        try:
            article = Article.objects.select_related("live_version").get(slug=slug)
        except Article.DoesNotExist:
            raise CommandError(f"no article with slug {slug!r}") from None
        old_snapshot = self.snapshot(article, old) if old else _live(article)
        diff = diff_snapshots(old_snapshot, self.snapshot(article, new))
        if diff.is_empty:
            self.stdout.write("No changes.")
            return
        for line in diff.summary_lines():
            self.stdout.write(f"- {line}")
        for section in diff.sections:
            for change in section.sentences:
                if change.kind == "equal":
                    continue
                self.stdout.write(f"\n[{section.anchor}] {change.kind}")
                if change.old:
                    self.stdout.write(f"  - {change.old}")
                if change.new:
                    self.stdout.write(f"  + {change.new}")

    def snapshot(self, article, which):
        if which == "draft":
            return draft_snapshot(article)
        try:
            return article.versions.get(number=int(which)).snapshot
        except (ValueError, article.versions.model.DoesNotExist):
            raise CommandError(f"{article.slug} has no version {which!r}") from None


def _live(article):
    return article.live_version.snapshot if article.live_version else None
