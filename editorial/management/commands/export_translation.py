from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from articles.models import ArticleTranslation
from articles.rendering import ArticleFormatError
from editorial.services.translation_files import translation_export_text


class Command(BaseCommand):
    help = "Write a translation's draft as <slug>.<language>.md (a translation file)."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("language", help="e.g. es")
        parser.add_argument("-o", "--output", default=".", help="directory to write into")

    def handle(self, *args, slug, language, output, **options):
        translation = ArticleTranslation.objects.filter(
            article__slug=slug, language=language
        ).first()
        if translation is None:
            raise CommandError(f"no {language!r} translation of {slug!r}")
        path = Path(output) / f"{slug}.{language}.md"
        try:
            path.write_text(translation_export_text(translation), encoding="utf-8")
        except ArticleFormatError as exc:
            raise CommandError(f"the draft does not parse: {exc}") from exc
        except OSError as exc:
            raise CommandError(f"cannot write to {output}: {exc.strerror}") from exc
        self.stdout.write(str(path))
