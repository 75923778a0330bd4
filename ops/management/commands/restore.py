import json

from django.core.management.base import BaseCommand, CommandError

from articles.management.progress import Progress
from ops.backups import BackupError, RestoreVerificationError, backup_restore


class Command(BaseCommand):
    help = (
        "Restore a backup written by `backup` into this database, which must be empty "
        "and migrated by the same release (run `migrate` first). Everything is loaded in "
        "one transaction and verified against the backup's manifest: row counts, every "
        "version's content hash and every draft's; if anything differs nothing is kept "
        "and the command exits 1. Refuses a database that already holds content."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE")
        parser.add_argument("--json", action="store_true", help="machine-readable output")

    def handle(self, *args, file, **options):
        progress = Progress(self.stderr)
        try:
            report = backup_restore(path=file, progress=progress)
        except RestoreVerificationError as exc:
            if options["json"]:
                self.stdout.write(json.dumps(exc.report.as_dict(), indent=2))
            raise CommandError(str(exc)) from exc
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            progress.close()
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
            return
        rows = sum(report.counts.values())
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored {rows} rows from {report.path} (made on {report.source_engine}); "
                f"verified: row counts, {report.versions_verified} version hashes, "
                f"{report.drafts_verified} draft hashes."
            )
        )
