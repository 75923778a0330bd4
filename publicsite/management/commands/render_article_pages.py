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
        done = pages_refresh()
        self.stdout.write(f"{done} article pages rendered in {time.monotonic() - started:.1f} s")
