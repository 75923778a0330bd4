"""Run as `python -m tests.cluster.node ACTION ...` with an app node's environment:
what a publish or a staff sign-in on that node does, through the same services."""

import json
import sys
import tempfile
import time
from pathlib import Path

import django


def publish(slug: str, title: str) -> dict:
    from django.contrib.auth import get_user_model

    from articles.models import Article
    from tests.factories import import_article, publish, write_article

    with tempfile.TemporaryDirectory() as tmp:
        import_article(write_article(Path(tmp), slug=slug, title=title))
    article = Article.objects.get(slug=slug)
    reviewer = get_user_model().objects.get(username="reviewer")
    started = time.time()
    publish(article, reviewer=reviewer, change_summary=f"Now {title}.")
    return {"committed_at": time.time(), "started_at": started}


def staff_session() -> dict:
    from django.conf import settings
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.sessions.backends.db import SessionStore

    user = get_user_model().objects.get(username="admin")
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return {"cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}"}


if __name__ == "__main__":
    django.setup()
    action, *args = sys.argv[1:]
    result = {"publish": publish, "staff-session": staff_session}[action](*args)
    print(json.dumps(result))
