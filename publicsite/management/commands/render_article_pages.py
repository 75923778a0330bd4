"""`manage.py render_article_pages`: store a fresh article page for every live version
whose stored one was rendered from other templates (run at deploy, after `migrate`).

Until it runs, such pages are rendered per request (correct, slower); see
publicsite/article_page.py.
"""

import time

from django.core.management.base import BaseCommand

from publicsite.article_page import pages_refresh


class Command(BaseCommand):
    help = "Render and store the article page of every live version whose page is stale."

    def handle(self, *args, **options):
        started = time.monotonic()
        done = pages_refresh(progress=self._progress if self.stderr.isatty() else None)
        if self.stderr.isatty():
            self.stderr.write("")
        self.stdout.write(f"{done} article pages rendered in {time.monotonic() - started:.1f} s")

    def _progress(self, label: str, done: int, total: int) -> None:
        if done == total or done % 100 == 0:
            self.stderr.write(f"\r{label}: {done:,} of {total:,}", ending="")
            self.stderr.flush()
