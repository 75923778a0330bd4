"""Before the web start (scripts/start-web.sh): is the database reachable, and are the
migrations applied? Exit 0 when both; otherwise say what to do and exit non-zero
(2: database unreachable, 3: migrations not applied), so a fresh container says
"run the migrations" instead of failing on a missing table."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ptsdinfo.settings")


def main() -> int:
    import django

    django.setup()
    from ptsdinfo.health import check_database, check_migrations

    database = check_database()
    if not database["ok"]:
        print(f"ptsdinfo: the database is unreachable: {database['error']}", file=sys.stderr)
        return 2
    migrations = check_migrations()
    if not migrations["ok"]:
        print(
            f"ptsdinfo: {migrations['error']} (docs/deployment.md), then start again.\n"
            "  container: docker run --rm <same env and volumes> ptsdinfo "
            "python manage.py migrate --noinput",
            file=sys.stderr,
        )
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
