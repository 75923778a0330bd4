from django.core.management.base import BaseCommand, CommandError

from articles.articlefile import ArticleFileError, read_article_file
from articles.management.users import user_by_name
from articles.services.translations import TranslationConflictError
from editorial.services.translation_files import translation_import
from editorial.services.workflow import WorkflowError


class Command(BaseCommand):
    help = (
        "Create or update a translation's draft from a translation file (language and "
        "translation_of in its front matter; docs/article-format.md). All or nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the translation's Markdown file")
        parser.add_argument("--user", required=True, help="the translator (an Author)")

    def handle(self, *args, file, user, **options):
        translator = user_by_name(user)
        try:
            translation = translation_import(source=read_article_file(file), user=translator)
        except (ArticleFileError, WorkflowError, TranslationConflictError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"{translation.article.slug} [{translation.language}]: draft of version "
                f"{translation.source_version.number}, state {translation.status}"
            )
        )
