import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, transaction

from articles.articlefile import ArticleFileError, read_article_file
from articles.management.progress import Progress
from articles.management.statistics import analyze_draft_tables, analyze_points
from articles.management.users import user_by_name
from articles.services.drafts import DraftConflictError, ImportResult, article_import

OUTCOMES = ("created", "updated", "unchanged", "failed")


class DryRun(Exception):
    """Rolls back one validated import."""

    def __init__(self, result: ImportResult):
        self.result = result


class Command(BaseCommand):
    help = (
        "Import every article file (*.md, spec/article-format.md) in DIR, as written by "
        "export_articles: one transaction per article, so one bad file leaves the others "
        "imported. Prints what was created, updated, unchanged or failed (each failure "
        "as FILE:LINE: problem) and exits 1 if any failed."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", metavar="DIR")
        parser.add_argument("--user", help="username recorded as the editor of the drafts")
        parser.add_argument(
            "--dry-run", action="store_true", help="validate every file, write nothing"
        )
        parser.add_argument("--json", action="store_true", help="machine-readable output")

    def handle(self, *args, directory, user=None, dry_run=False, **options):
        folder = Path(directory)
        if not folder.is_dir():
            raise CommandError(f"{directory} is not a directory")
        files = sorted(path for path in folder.glob("*.md") if path.is_file())
        if not files:
            raise CommandError(f"{directory} has no article files (*.md)")
        editor = user_by_name(user)

        progress = Progress(self.stderr)
        rows = []
        try:
            analyze_at = set() if dry_run else analyze_points(len(files))
            for done, path in enumerate(files):
                progress("Importing articles", done, len(files))
                if done in analyze_at:
                    analyze_draft_tables()  # the planner sees the rows imported so far
                rows.append(import_one(path, user=editor, dry_run=dry_run))
            progress("Importing articles", len(files), len(files))
            if analyze_at:
                analyze_draft_tables()  # and for whatever reads the library next
        finally:
            progress.close()

        counts = {outcome: sum(r["outcome"] == outcome for r in rows) for outcome in OUTCOMES}
        if options["json"]:
            report = {"directory": str(folder), "dry_run": dry_run, **counts, "articles": rows}
            self.stdout.write(json.dumps(report, indent=2))
        else:
            for row in rows:
                if row["outcome"] == "failed":
                    self.stderr.write(f"FAILED {row['error']}")
                else:
                    self.stdout.write(
                        f"{row['outcome']:9} {row['slug']} (draft {row['content_hash'][:12]})"
                    )
            summary = ", ".join(f"{counts[o]} {o}" for o in OUTCOMES)
            self.stdout.write(f"{summary}{' (dry run: nothing written)' if dry_run else ''}")
        if counts["failed"]:
            raise CommandError(f"{counts['failed']} of {len(files)} article files failed")


def import_one(path: Path, *, user, dry_run: bool) -> dict:
    """Import one file in its own transaction; a failure is reported, never raised."""
    row = {"file": str(path)}
    try:
        source = read_article_file(path)
        if dry_run:
            with transaction.atomic():
                raise DryRun(article_import(source=source, user=user))
        # article_import is atomic itself: this file's transaction, no savepoint inside.
        result = article_import(source=source, user=user)
    except DryRun as dry:
        result = dry.result
    except ArticleFileError as exc:
        return row | {"outcome": "failed", "line": exc.line, "error": str(exc)}
    except (DraftConflictError, ValidationError, DatabaseError) as exc:
        message = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        return row | {"outcome": "failed", "line": None, "error": f"{path}: {message}"}
    return row | {
        "outcome": result.outcome,
        "slug": result.article.slug,
        "content_hash": result.content_hash,
    }
