from django.core.management.base import BaseCommand, CommandError

from ops.demo import DEMO_PASSWORD, DEMO_USERS, DemoRefused, demo_load


class Command(BaseCommand):
    help = "Load the demo articles and demo accounts (idempotent: a second run adds nothing)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force-demo",
            action="store_true",
            help="load even under production settings (throwaway deployments only)",
        )

    def handle(self, *args, force_demo=False, **options):
        try:
            loaded = demo_load(force=force_demo)
        except DemoRefused as exc:
            raise CommandError(str(exc)) from exc
        if loaded:
            self.stdout.write(self.style.SUCCESS(f"Loaded: {', '.join(loaded)}"))
        else:
            self.stdout.write("Demo content already loaded; nothing changed.")
        names = ", ".join(user.username for user in DEMO_USERS)
        self.stdout.write(f"Demo logins ({names}) use the password {DEMO_PASSWORD!r}.")
