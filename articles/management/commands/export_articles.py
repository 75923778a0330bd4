import json
from itertools import batched
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from articles.management.progress import Progress
from articles.models import Article
from articles.services.exports import article_export
from articles.services.snapshots import draft_snapshots, files_hash, snapshot_files

OUTCOMES = ("created", "updated", "unchanged", "failed")
# Articles whose snapshots are built together: five queries per batch, not per article.
BATCH = 200


class Command(BaseCommand):
    help = (
        "Write every article's draft into DIR in the article file format, as "
        "export_article does: <slug>.md plus its CSL-JSON bibliography <slug>.json. "
        "Withdrawn articles are skipped. import_articles DIR reads it back with the same "
        "content hashes. Exits 1 if any article could not be written."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", metavar="DIR", help="created if missing")
        parser.add_argument("--json", action="store_true", help="machine-readable output")

    def handle(self, *args, directory, **options):
        folder = Path(directory)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CommandError(f"cannot create {directory}: {exc.strerror}") from exc
        articles = Article.objects.exclude(status=Article.Status.WITHDRAWN).order_by("slug")
        total = articles.count()
        skipped = list(
            Article.objects.filter(status=Article.Status.WITHDRAWN)
            .order_by("slug")
            .values_list("slug", flat=True)
        )
        progress = Progress(self.stderr)
        rows = []
        try:
            # iterator() and batches: one batch of drafts in memory at a time, however
            # many articles there are.
            done = 0
            for batch in batched(articles.iterator(chunk_size=BATCH), BATCH):
                snapshots = draft_snapshots(batch)
                for article in batch:
                    progress("Exporting articles", done, total)
                    rows.append(export_one(article, folder, snapshots[article.pk]))
                    done += 1
            progress("Exporting articles", total, total)
        finally:
            progress.close()

        counts = {outcome: sum(r["outcome"] == outcome for r in rows) for outcome in OUTCOMES}
        if options["json"]:
            report = {
                "directory": str(folder),
                **counts,
                "skipped_withdrawn": skipped,
                "articles": rows,
            }
            self.stdout.write(json.dumps(report, indent=2))
        else:
            for row in rows:
                if row["outcome"] == "failed":
                    self.stderr.write(f"FAILED {row['slug']}: {row['error']}")
                else:
                    self.stdout.write(f"{row['outcome']:9} {', '.join(row['files'])}")
            summary = ", ".join(f"{counts[o]} {o}" for o in OUTCOMES)
            withdrawn = f"; {len(skipped)} withdrawn skipped" if skipped else ""
            self.stdout.write(f"{summary}{withdrawn}")
        if counts["failed"]:
            raise CommandError(f"{counts['failed']} of {total} articles were not written")


def export_one(article: Article, folder: Path, snapshot: dict) -> dict:
    files = snapshot_files(snapshot)  # written out once: the hash and the files come from it
    row = {"slug": article.slug, "content_hash": files_hash(*files)}
    targets = [folder / f"{article.slug}.md", folder / f"{article.slug}.json"]
    try:
        before = {path: path.read_bytes() for path in targets if path.exists()}
        written = article_export(article=article, directory=folder, snapshot=snapshot, files=files)
        after = {path: path.read_bytes() for path in written}
    except OSError as exc:
        return row | {"outcome": "failed", "error": f"{exc.filename}: {exc.strerror}"}
    if not before:
        outcome = "created"
    elif all(before.get(path) == content for path, content in after.items()):
        outcome = "unchanged"
    else:
        outcome = "updated"
    return row | {"outcome": outcome, "files": [str(path) for path in written]}
