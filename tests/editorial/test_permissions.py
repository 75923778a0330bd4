"""Who may do what, as tables: every role against every admin page, editor endpoint,
workflow action and command-line service. A row that says "refused" fails the moment
the action is let through, and one that says "allowed" fails if it is taken away.

Roles: anonymous; a signed-in reader without staff status; staff without a role;
Authors; Clinical reviewers; Publishers; a superuser. Pages about a draft, preview or
withdrawn article answer the same to someone without permission whether the article
exists or not, so its existence does not leak.
"""

import contextlib
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from PIL import Image

from articles.models import Article, ReviewEvent
from articles.roles import AUTHORS, CLINICAL_REVIEWERS, PUBLISHERS
from articles.services.drafts import draft_body_text
from editorial.services import workflow
from tests.factories import import_article, make_user, publish, write_article

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "reader", "staff", "author", "reviewer", "publisher", "superuser"]
MISSING_PK = 987654


def _user(role):
    if role == "anonymous":
        return None
    if role == "reader":
        return make_user("reader", staff=False)
    if role == "staff":
        return make_user("staffer")
    if role == "superuser":
        return make_user("root", is_superuser=True, display_name="Root", credentials="MD")
    group = {"author": AUTHORS, "reviewer": CLINICAL_REVIEWERS, "publisher": PUBLISHERS}[role]
    return make_user(role, groups=[group], display_name=f"Dr {role}", credentials="MD")


@pytest.fixture
def world(tmp_path, settings):
    """A draft, a published article and a withdrawn one, written by a separate author."""
    settings.MEDIA_ROOT = tmp_path / "media"
    owner = make_user("owner", groups=[AUTHORS], display_name="Dr Owner", credentials="MD")
    draft = import_article(write_article(tmp_path / "d", slug="a-draft"), user=owner).article
    live = import_article(write_article(tmp_path / "l", slug="a-live"), user=owner).article
    publish(live)
    gone = import_article(write_article(tmp_path / "w", slug="a-withdrawn"), user=owner).article
    publish(gone)
    workflow.article_withdraw(
        article=gone, user=make_user("pub0", groups=[PUBLISHERS]), reason="Superseded"
    )
    return {"draft": draft, "live": live, "withdrawn": gone, "owner": owner}


def _png() -> bytes:
    output = io.BytesIO()
    Image.new("RGB", (4, 4), "white").save(output, "PNG")
    return output.getvalue()


# (name, method, url(world, pk), data) ; pk is the draft's unless the name says otherwise.
def _pages():
    change = lambda w, pk: reverse("admin:articles_article_change", args=[pk])  # noqa: E731
    return {
        "admin index": ("get", lambda w, pk: reverse("admin:index"), None),
        "article list": ("get", lambda w, pk: reverse("admin:articles_article_changelist"), None),
        "article add": ("get", lambda w, pk: reverse("admin:articles_article_add"), None),
        "article change": ("get", change, None),
        "withdrawn article change": (
            "get",
            lambda w, pk: change(w, w["withdrawn"].pk if pk != MISSING_PK else pk),
            None,
        ),
        "article diff": (
            "get",
            lambda w, pk: reverse("admin:articles_article_diff", args=[pk]),
            None,
        ),
        "citation list": (
            "get",
            lambda w, pk: reverse("admin:articles_citation_changelist"),
            None,
        ),
        "citation add from source": (
            "get",
            lambda w, pk: reverse("admin:articles_citation_add_from_source"),
            None,
        ),
        "version list": (
            "get",
            lambda w, pk: reverse("admin:articles_articleversion_changelist"),
            None,
        ),
        "review events": (
            "get",
            lambda w, pk: reverse("admin:articles_reviewevent_changelist"),
            None,
        ),
        "security events": (
            "get",
            lambda w, pk: reverse("admin:articles_securityevent_changelist"),
            None,
        ),
        "users": ("get", lambda w, pk: reverse("admin:auth_user_changelist"), None),
        "totp devices": (
            "get",
            lambda w, pk: reverse("admin:otp_totp_totpdevice_changelist"),
            None,
        ),
        "login lockouts": (
            "get",
            lambda w, pk: reverse("admin:axes_accessattempt_changelist"),
            None,
        ),
        "draft preview": ("get", lambda w, pk: reverse("editor:preview", args=[pk]), None),
        "withdrawn preview": (
            "get",
            lambda w, pk: reverse(
                "editor:preview", args=[w["withdrawn"].pk if pk != MISSING_PK else pk]
            ),
            None,
        ),
        "markdownify": (
            "post",
            lambda w, pk: reverse("editor:markdownify") + f"?article={pk}",
            {"content": "[x [@feder2014]]{.claim #c certainty=low}"},
        ),
        "upload": ("post", lambda w, pk: reverse("editor:upload"), "png"),
        "second factor setup": ("get", lambda w, pk: reverse("security:otp_setup"), None),
        "public draft page": ("get", lambda w, pk: "/articles/a-draft/", None),
        "public withdrawn page": ("get", lambda w, pk: "/articles/a-withdrawn/", None),
    }


PAGES = _pages()
LOGIN = "login"  # a redirect to the admin's sign-in page
A, R = 200, 403  # allowed; refused (the admin's answer to staff without the permission)
# Staff without a role get 404 from every page that takes an article id (issue 11, item 5).
#                       anon   reader staff  author reviewer publisher superuser
EXPECTED = {
    "admin index":              (LOGIN, LOGIN, A, A, A, A, A),
    "article list":             (LOGIN, LOGIN, R, A, A, A, A),
    "article add":              (LOGIN, LOGIN, R, A, R, R, A),
    "article change":           (LOGIN, LOGIN, 404, A, A, A, A),
    "withdrawn article change": (LOGIN, LOGIN, 404, A, A, A, A),
    "article diff":             (LOGIN, LOGIN, 404, A, A, A, A),
    "citation list":            (LOGIN, LOGIN, R, A, A, A, A),
    "citation add from source": (LOGIN, LOGIN, R, A, R, R, A),
    "version list":             (LOGIN, LOGIN, R, A, A, A, A),
    "review events":            (LOGIN, LOGIN, R, A, A, A, A),
    "security events":          (LOGIN, LOGIN, R, R, R, R, A),
    "users":                    (LOGIN, LOGIN, R, R, R, R, A),
    "totp devices":             (LOGIN, LOGIN, R, R, R, R, A),
    "login lockouts":           (LOGIN, LOGIN, R, R, R, R, A),
    "draft preview":            (404, 404, 404, A, A, A, A),
    "withdrawn preview":        (404, 404, 404, A, A, A, A),
    "markdownify":              (404, 404, 404, A, A, A, A),
    "upload":                   (404, 404, 404, A, 404, A, A),
    "second factor setup":      (LOGIN, LOGIN, A, A, A, A, A),
    "public draft page":        (404, 404, 404, 404, 404, 404, 404),
    "public withdrawn page":    (410, 410, 410, 410, 410, 410, 410),
}  # fmt: skip


def _request(client, world, name, pk):
    method, url, data = PAGES[name]
    if data == "png":
        data = {"image": SimpleUploadedFile("x.png", _png(), "image/png")}
    return getattr(client, method)(url(world, pk), data or {})


def _outcome(response):
    if response.status_code == 302 and "/admin/login/" in response["Location"]:
        return LOGIN
    return response.status_code


def test_the_table_covers_every_page():
    assert set(EXPECTED) == set(PAGES)


@pytest.mark.parametrize("role", ROLES)
def test_role_against_every_page(client, world, role):
    """One role, every page: all mismatches reported together."""
    user = _user(role)
    if user is not None:
        client.force_login(user)
    column = ROLES.index(role)

    got = {name: _outcome(_request(client, world, name, world["draft"].pk)) for name in PAGES}

    expected = {name: EXPECTED[name][column] for name in PAGES}
    assert got == expected


LEAK_CHECKED = [n for n in PAGES if "article change" in n or "diff" in n or "preview" in n]


@pytest.mark.parametrize("role", ROLES)
def test_refusals_do_not_reveal_whether_an_article_exists(client, world, role):
    user = _user(role)
    if user is not None:
        client.force_login(user)
    refused = [name for name in LEAK_CHECKED if EXPECTED[name][ROLES.index(role)] != A]

    existing = {
        name: _outcome(_request(client, world, name, world["draft"].pk)) for name in refused
    }
    missing = {name: _outcome(_request(client, world, name, MISSING_PK)) for name in refused}

    assert existing == missing


# --- saving text in the editor -------------------------------------------------------

#           anon   reader staff author reviewer publisher superuser
SAVE = (LOGIN, LOGIN, 404, 302, R, 302, 302)  # 302: saved; 404: staff without a role


@pytest.mark.parametrize("role", ROLES)
def test_role_saving_draft_text(client, world, role):
    article = world["draft"]
    user = _user(role)
    if user is not None:
        client.force_login(user)
    data = {
        "title": article.title,
        "summary": article.summary,
        "topics": "ptsd",
        "audience": "public",
        "review_interval_months": "12",
        "body": draft_body_text(article) + "\n\nAn added sentence.",
        "lock_version": str(article.lock_version),
    }

    response = client.post(reverse("admin:articles_article_change", args=[article.pk]), data)

    assert _outcome(response) == SAVE[ROLES.index(role)]
    changed = "An added sentence." in draft_body_text(Article.objects.get(pk=article.pk))
    assert changed == (SAVE[ROLES.index(role)] == 302)


# --- workflow actions, through the service and through the admin ----------------------

# The state each action starts from, and who may take it.
ACTIONS = {
    "submit": ("draft", {"author", "superuser"}),
    "request_changes": ("in_review", {"reviewer", "superuser"}),
    "revise": ("changes_requested", {"author", "superuser"}),
    "approve": ("in_review", {"reviewer"}),  # never a superuser: clinical sign-off
    "publish": ("approved", {"publisher", "superuser"}),
    "schedule": ("approved", {"publisher", "superuser"}),
    "withdraw": ("published", {"publisher", "superuser"}),
}


@pytest.fixture
def owner(db):
    return make_user("owner", groups=[AUTHORS], display_name="Dr Owner", credentials="MD")


def _article_in(state, owner, tmp_path):
    article = import_article(
        write_article(tmp_path / state, slug=f"s-{state.replace('_', '-')}"), user=owner
    ).article
    reviewer = make_user("seed-reviewer", groups=[CLINICAL_REVIEWERS],
                         display_name="Dr Seed", credentials="MD")  # fmt: skip
    publisher = make_user("seed-publisher", groups=[PUBLISHERS])
    steps = {
        "draft": [],
        "in_review": [("submit", owner)],
        "changes_requested": [("submit", owner), ("request_changes", reviewer)],
        "approved": [("submit", owner), ("approve", reviewer)],
        "published": [("submit", owner), ("approve", reviewer), ("publish", publisher)],
    }[state]
    for action, actor in steps:
        _act(action, article, actor)
    article.refresh_from_db()
    assert article.status == state
    return article


def _act(action, article, user):
    from datetime import timedelta

    from django.utils import timezone

    kwargs = {"article": article, "user": user}
    if action == "withdraw":
        kwargs["reason"] = "Because"
    elif action == "request_changes":
        kwargs["comment"] = "Please cite"
    if action == "schedule":
        kwargs["at"] = timezone.now() + timedelta(days=1)
    return workflow.ACTIONS[action](**kwargs)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", list(ACTIONS))
def test_role_taking_workflow_action_through_the_service(owner, tmp_path, role, action):
    start, allowed = ACTIONS[action]
    article = _article_in(start, owner, tmp_path)
    user = None if role == "anonymous" else _user(role)
    events = ReviewEvent.objects.count()

    if role in allowed:
        _act(action, article, user)
        assert ReviewEvent.objects.count() > events
    else:
        with pytest.raises(workflow.WorkflowError) as refused:
            _act(action, article, user)
        assert refused.value.rule == "role"
        article.refresh_from_db()
        assert article.status == start
        assert ReviewEvent.objects.count() == events


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ["submit", "approve", "publish", "withdraw"])
def test_role_taking_workflow_action_through_the_admin(client, owner, tmp_path, role, action):
    start, allowed = ACTIONS[action]
    article = _article_in(start, owner, tmp_path)
    user = _user(role)
    if user is not None:
        client.force_login(user)

    response = client.post(
        reverse("admin:articles_article_transition", args=[article.pk, action]),
        {"comment": "A reason"},
    )

    article.refresh_from_db()
    if role in ("anonymous", "reader"):
        assert _outcome(response) == LOGIN
    assert (article.status != start) == (role in allowed), f"{role} {action}"


@pytest.mark.parametrize("role", ROLES)
def test_role_grading_and_commenting_on_claims(owner, tmp_path, role):
    article = _article_in("in_review", owner, tmp_path)
    user = None if role == "anonymous" else _user(role)

    if role == "reviewer":
        workflow.claim_grade(article=article, user=user, key="veterans", certainty="moderate")
    else:
        with pytest.raises(workflow.WorkflowError):
            workflow.claim_grade(article=article, user=user, key="veterans", certainty="moderate")
    if role in ("author", "reviewer"):
        workflow.claim_comment(article=article, user=user, key="veterans", comment="Check")
    else:
        with pytest.raises(workflow.WorkflowError):
            workflow.claim_comment(article=article, user=user, key="veterans", comment="Check")


def test_author_cannot_approve_even_as_a_reviewer_too(tmp_path):
    """Four eyes: a reviewer who edited the draft is refused, whatever their groups."""
    both = make_user("both", groups=[AUTHORS, CLINICAL_REVIEWERS],
                     display_name="Dr Both", credentials="MD")  # fmt: skip
    article = import_article(write_article(tmp_path / "x", slug="mine"), user=both).article
    workflow.article_submit(article=article, user=both)

    with pytest.raises(workflow.WorkflowError) as refused:
        workflow.article_approve(article=article, user=both)

    assert refused.value.rule == "four-eyes"


# --- command-line services ---------------------------------------------------------------


# Commands run with the operator's shell access; `--user` names who acts, and the
# workflow command's services apply that user's role exactly as the admin does.
@pytest.mark.parametrize("role", ["author", "reviewer", "publisher", "superuser"])
@pytest.mark.parametrize("action", ["submit", "approve", "publish", "withdraw"])
def test_workflow_command_applies_the_named_users_role(owner, tmp_path, role, action):
    start, allowed = ACTIONS[action]
    article = _article_in(start, owner, tmp_path)
    _user(role)
    args = [article.slug, action, "--user", role if role != "superuser" else "root"]
    args += ["--comment", "A reason"]

    if role in allowed:
        call_command("workflow", *args, stdout=io.StringIO())
    else:
        with pytest.raises(CommandError, match="may not"):
            call_command("workflow", *args, stdout=io.StringIO())
    article.refresh_from_db()
    assert (article.status != start) == (role in allowed)


def test_publish_scheduled_publishes_only_what_a_publisher_scheduled(owner, tmp_path):
    from datetime import timedelta

    from django.utils import timezone

    approved = _article_in("approved", owner, tmp_path)
    call_command("publish_scheduled", stdout=io.StringIO())
    approved.refresh_from_db()
    assert approved.status == "approved"  # approval alone never publishes

    workflow.article_schedule(
        article=approved,
        user=make_user("pub", groups=[PUBLISHERS]),
        at=timezone.now() + timedelta(seconds=1),
    )
    workflow.publish_scheduled(now=timezone.now() + timedelta(minutes=1))
    approved.refresh_from_db()
    assert approved.status == "published"


@pytest.mark.parametrize(
    "command",
    [
        ["article_info", "a-draft"],
        ["export_article", "a-draft", "-o", "{tmp}"],
        ["diff_versions", "a-live"],
        ["review_due", "--within", "30"],
    ],
)
def test_read_only_commands_change_nothing(world, tmp_path, command):
    before = (
        ReviewEvent.objects.count(),
        list(Article.objects.order_by("pk").values_list("status", "lock_version")),
    )
    args = [part.replace("{tmp}", str(tmp_path / "out")) for part in command]
    with contextlib.suppress(SystemExit):  # review_due exits 1 when something is overdue
        call_command(*args, stdout=io.StringIO())

    after = (
        ReviewEvent.objects.count(),
        list(Article.objects.order_by("pk").values_list("status", "lock_version")),
    )
    assert after == before
