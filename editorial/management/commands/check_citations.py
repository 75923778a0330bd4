import json

from django.core.management.base import BaseCommand, CommandError

from articles.management.progress import Progress
from editorial.services import integrity
from evidence.retractions import RetractionFileError


class Command(BaseCommand):
    help = (
        "Check the citation library: identifiers, duplicates (--merge merges them), "
        "citations no claim uses, and retractions from a Retraction Watch CSV "
        "(--retractions) and, unless --offline, Crossref/PubMed update notices. A source "
        "found retracted or under an expression of concern is marked, and every article "
        "whose live version relies on it goes back into clinical review with a notice to "
        "readers. Exits 1 when anything needs attention."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--retractions",
            metavar="FILE",
            help="the Retraction Watch database as CSV (the Crossref distribution)",
        )
        parser.add_argument("--offline", action="store_true", help="do not ask Crossref or PubMed")
        parser.add_argument(
            "--merge",
            action="store_true",
            help="merge duplicates into the oldest citation, repointing every claim",
        )
        parser.add_argument("--json", action="store_true", help="machine-readable output")

    def handle(self, *args, retractions=None, offline=False, merge=False, **options):
        client, skipped = None, "offline (--offline)"
        if not offline:
            try:
                client = integrity.crossref_client()
            except integrity.CrossrefUnavailable as exc:
                skipped = str(exc)
        progress = Progress(self.stderr)
        try:
            report = integrity.citations_check(
                retraction_file=retractions,
                client=client,
                offline_reason=skipped,
                merge=merge,
                progress=progress,
            )
        except RetractionFileError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            progress.close()
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2, default=str))
        else:
            self.write_report(report)
        if report.needs_attention:
            raise SystemExit(1)

    def write_report(self, report: integrity.CheckReport) -> None:
        out = self.stdout.write
        out(f"{report.citations} citations checked.")
        if report.identifier_problems:
            out(self.style.ERROR(f"\nInvalid identifiers ({len(report.identifier_problems)}):"))
            for p in report.identifier_problems:
                out(f"  #{p.citation_id} {p.key}: {p.message}")
        if report.duplicates:
            out(self.style.WARNING(f"\nDuplicates ({len(report.duplicates)} groups):"))
            merged = {m.keeper_id: m for m in report.merged}
            for group in report.duplicates:
                names = ", ".join(integrity.citation_label(c) for c in group.citations)
                out(f"  {names}: {'; '.join(group.reasons)}")
                if m := merged.get(group.keeper.pk):
                    out(
                        f"    merged into #{m.keeper_id}: {m.links_moved} claim links moved, "
                        f"{m.links_combined} combined, {m.keys_repointed} bibliography keys; "
                        f"articles: {', '.join(m.articles) or 'none'}"
                    )
                elif group.conflicts:
                    out(f"    not merged automatically: {'; '.join(group.conflicts)}")
                else:
                    out("    run with --merge to merge them into the oldest")
        for error in report.merge_errors:
            out(self.style.ERROR(f"  {error}"))
        if report.unused:
            out(f"\nCitations no claim uses ({len(report.unused)}):")
            for row in report.unused:
                where = "listed in a bibliography" if row["in_bibliography"] else "cited nowhere"
                out(f"  #{row['id']} {row['key']}: {row['title'][:70]} ({where})")
        if report.retraction_file_rows is not None:
            out(f"\nRetraction Watch: {report.retraction_file_rows} rows read.")
        if report.online.get("skipped"):
            out(f"crossref check skipped: {report.online['skipped']}")
        else:
            out(f"Crossref/PubMed: {report.online.get('checked', 0)} works checked.")
        for error in report.online.get("errors", []):
            out(f"  #{error['citation']} {error['key']}: {error['error']}")
        for finding in report.retractions:
            status = finding.status.replace("-", " ")
            line = f"#{finding.citation_id} {finding.key}: {status}"
            if not finding.changed:
                out(f"  {line} (already recorded)")
                continue
            out(self.style.ERROR(f"  {line} (was {finding.previous}): {finding.evidence}"))
            for flag in finding.flagged:
                notice = ", notice shown to readers" if flag.notice else ""
                out(f"    {flag.slug}: {flag.from_state} -> {flag.to_state}{notice}")
        for note in report.notes:
            out(f"  note: {note}")
        if report.awaiting_rereview:
            out(
                self.style.WARNING(
                    "\nLive articles showing a retraction notice until a clinician "
                    f"re-approves them: {', '.join(report.awaiting_rereview)}"
                )
            )
        out(
            self.style.ERROR("\nNeeds attention.")
            if report.needs_attention
            else self.style.SUCCESS("\nAll clear.")
        )
