"""Deploy checks about the content app (part of `check --deploy`, which the container
runs first)."""

from django.core.checks import Error, Tags, register
from django.core.checks import Warning as CheckWarning
from django.db import DatabaseError

from ops.demo import active_demo_accounts


@register(Tags.security, deploy=True)
def check_no_demo_accounts(app_configs, **kwargs) -> list:
    """Demo accounts have passwords printed in the README: none may be active in production."""
    try:
        active = active_demo_accounts()
    except DatabaseError as exc:
        return [
            CheckWarning(
                f"Could not check for demo accounts: the database is unavailable ({exc}).",
                id="ptsdinfo.W002",
            )
        ]
    if not active:
        return []
    return [
        Error(
            f"Demo accounts with the published password are active: {', '.join(active)}.",
            hint="Deactivate them or change their passwords (manage.py changepassword NAME).",
            id="ptsdinfo.E002",
        )
    ]
