from django.core.management.base import BaseCommand

from editorial.services.workflow import publish_scheduled


class Command(BaseCommand):
    help = "Publish approved versions whose go-live time has come (idempotent; run every minute)."

    def handle(self, *args, **options):
        published = publish_scheduled()
        for version in published:
            self.stdout.write(f"published {version.article.slug} v{version.number}")
        if not published:
            self.stdout.write("nothing due")
