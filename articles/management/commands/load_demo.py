from django.core.management.base import BaseCommand

from articles.services.demo import DEMO_PASSWORD, DEMO_USERS, demo_load


class Command(BaseCommand):
    help = "Load the demo articles and demo accounts (idempotent: a second run adds nothing)."

    def handle(self, *args, **options):
        loaded = demo_load()
        if loaded:
            self.stdout.write(self.style.SUCCESS(f"Loaded: {', '.join(loaded)}"))
        else:
            self.stdout.write("Demo content already loaded; nothing changed.")
        names = ", ".join(user.username for user in DEMO_USERS)
        self.stdout.write(f"Demo logins ({names}) use the password {DEMO_PASSWORD!r}.")
