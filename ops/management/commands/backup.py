import json

from django.core.management.base import BaseCommand, CommandError

from articles.management.progress import Progress
from ops.backups import BackupError, backup_write


class Command(BaseCommand):
    help = (
        "Write a logical backup of the whole site to FILE (gzip-compressed JSON lines): "
        "users and groups, topics, articles and drafts, citations, every version and the "
        "review trail, with a manifest of row counts and content hashes that `restore` "
        "verifies. Works on SQLite and PostgreSQL alike; restores into either. The file "
        "holds password hashes and is created readable by its owner only."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE", help="e.g. ptsdinfo-2027-01-01.jsonl.gz")
        parser.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
        parser.add_argument("--json", action="store_true", help="machine-readable output")

    def handle(self, *args, file, force=False, **options):
        progress = Progress(self.stderr)
        try:
            result = backup_write(path=file, overwrite=force, progress=progress)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            progress.close()
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), indent=2))
            return
        rows = sum(result.counts.values())
        self.stdout.write(
            self.style.SUCCESS(
                f"Backed up {rows} rows ({result.versions} article versions) to {result.path} "
                f"({result.bytes:,} bytes)."
            )
        )
