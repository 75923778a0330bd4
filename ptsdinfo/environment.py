"""How the project tells a developer's machine from production."""

from django.conf import settings

# The default SECRET_KEY in settings.py starts with this: a marker, not a key.
LOCAL_SECRET_KEY_PREFIX = "insecure-local-only-key"  # noqa: S105


def is_production() -> bool:
    """DEBUG off with a real secret key: how this project tells production apart."""
    return not settings.DEBUG and not settings.SECRET_KEY.startswith(LOCAL_SECRET_KEY_PREFIX)
