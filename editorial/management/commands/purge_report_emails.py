"""Erase reader-report emails once the report is closed or 90 days old (cron, daily)."""

from django.core.management.base import BaseCommand

from editorial.services.reports import purge_report_emails


class Command(BaseCommand):
    help = "Erase reader-report emails on closed reports and reports older than 90 days."

    def handle(self, *args, **options):
        count = purge_report_emails()
        self.stdout.write(f"Erased the email on {count} reader report(s).")
