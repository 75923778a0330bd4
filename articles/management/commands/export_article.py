from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from articles.models import Article
from articles.services.exports import article_export


class Command(BaseCommand):
    help = "Write an article's draft as <slug>.md plus a CSL-JSON bibliography <slug>.json."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("-o", "--output", default=".", help="directory to write into")

    def handle(self, *args, slug, output, **options):
        try:
            article = Article.objects.get(slug=slug)
        except Article.DoesNotExist:
            raise CommandError(f"no article with slug {slug!r}") from None
        try:
            paths = article_export(article=article, directory=Path(output))
        except OSError as exc:
            raise CommandError(f"cannot write to {output}: {exc.strerror}") from exc
        for path in paths:
            self.stdout.write(str(path))
