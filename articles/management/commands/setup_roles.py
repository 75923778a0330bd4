from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand

from articles.roles import ROLES, roles_ensure


class Command(BaseCommand):
    help = "Create (or reset) the Authors, Clinical reviewers and Publishers groups."

    def handle(self, *args, **options):
        created = roles_ensure(group_model=Group, permission_model=Permission)
        for name in ROLES:
            state = "created" if name in created else "permissions reset"
            self.stdout.write(f"{name}: {state}")
