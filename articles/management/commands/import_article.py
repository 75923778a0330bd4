from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from articles.articlefile import ArticleFileError, read_article_file
from articles.management.users import user_by_name
from articles.services.drafts import DraftConflictError, article_import


class DryRun(Exception):
    """Raised to roll back a validated import."""


class Command(BaseCommand):
    help = (
        "Create or update an article's draft from an article file (spec/article-format.md). "
        "All or nothing: any error writes nothing and exits non-zero."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the article's Markdown file")
        parser.add_argument("--user", help="username recorded as the editor of the draft")
        parser.add_argument(
            "--dry-run", action="store_true", help="validate everything, write nothing"
        )

    def handle(self, *args, file, user=None, dry_run=False, **options):
        editor = user_by_name(user)
        try:
            source = read_article_file(file)
            with transaction.atomic():
                result = article_import(source=source, user=editor)
                if dry_run:
                    raise DryRun
        except DryRun:
            self.stdout.write(f"{file}: valid ({source.slug}); dry run, nothing written")
            return
        except (ArticleFileError, DraftConflictError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"{result.outcome} {result.article.slug} "
                f"(draft {result.content_hash[:12]}, state {result.article.status})"
            )
        )
