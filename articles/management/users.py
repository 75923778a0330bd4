"""Resolving the --user option of management commands."""

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError


def user_by_name(username: str | None):
    """The user named on the command line (None when no name was given)."""
    if not username:
        return None
    User = get_user_model()
    try:
        return User.objects.get_by_natural_key(username)
    except User.DoesNotExist:
        raise CommandError(f"no user named {username!r}") from None
