"""Security controls (docs/security.md): headers and CSP, production checks, login
throttling, the second factor, staff sessions, the audit log, rate limits and the
behaviour with the database down. Each test fails if its control is removed."""

import io
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import OperationalError, connection
from django.urls import reverse
from django.utils.csp import CSP, build_policy
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from articles.models import SecurityEvent
from articles.roles import AUTHORS, CLINICAL_REVIEWERS, PUBLISHERS
from tests.factories import make_user

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "test-pass-123"  # tests.factories.make_user's


def csp_of(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {
        part.split()[0]: " ".join(part.split()[1:]) for part in header.split(";") if part.strip()
    }


# --- headers ------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["anonymous", "staff"])
@pytest.mark.parametrize("where", ["home", "article", "admin", "editor"])
def test_strict_csp_on_public_and_admin_pages(client, published_article, who, where):
    if who == "staff":
        client.force_login(make_user("sam", is_superuser=True))
    url = {
        "home": "/",
        "article": published_article.get_absolute_url(),
        "admin": "/admin/" if who == "staff" else "/admin/login/",
        "editor": reverse("admin:articles_article_change", args=[published_article.pk])
        if who == "staff"
        else "/admin/login/",
    }[where]

    response = client.get(url)

    assert response.status_code == 200
    policy = csp_of(response)
    # The nonce is added when the page used one (Django's LazyNonce).
    nonce = re.fullmatch(r"'self'(?: 'nonce-([\w-]{16,})')?", policy["script-src"])
    assert nonce, policy["script-src"]
    assert "unsafe" not in response["Content-Security-Policy"]
    assert policy["default-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["base-uri"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["form-action"] == "'self'"
    html = response.content.decode()
    # Every inline script is either a JSON data block or carries this response's nonce.
    for attrs in re.findall(r"<script\b([^>]*)>", html):
        if "src=" not in attrs and "application/ld+json" not in attrs:
            assert nonce.group(1) and f'nonce="{nonce.group(1)}"' in attrs, attrs
    assert 'style="' not in html  # the policy allows no style attribute


@pytest.mark.django_db
def test_nonce_differs_per_response(client):
    client.force_login(make_user("sam", is_superuser=True))
    first, second = client.get("/admin/"), client.get("/admin/")

    assert csp_of(first)["script-src"] != csp_of(second)["script-src"]


@pytest.mark.django_db
def test_a_policy_without_nonce_follows_the_settings(client, settings):
    # The policy of a nonce-less response is built once per configuration
    # (accounts.security.ContentSecurityPolicyMiddleware): it must still be Django's,
    # and follow a change of the settings.
    assert client.get("/")["Content-Security-Policy"] == build_policy(settings.SECURE_CSP)
    assert "Content-Security-Policy-Report-Only" not in client.get("/")

    settings.SECURE_CSP = {"default-src": [CSP.SELF], "script-src": [CSP.SELF, CSP.NONCE]}
    settings.SECURE_CSP_REPORT_ONLY = {"img-src": [CSP.SELF]}
    response = client.get("/")

    assert response["Content-Security-Policy"] == "default-src 'self'; script-src 'self'"
    assert response["Content-Security-Policy-Report-Only"] == "img-src 'self'"


@pytest.mark.django_db
def test_hardening_headers_on_every_page(client, published_article):
    for url in ("/", published_article.get_absolute_url(), "/admin/login/", "/healthz"):
        response = client.get(url)
        assert response["X-Content-Type-Options"] == "nosniff", url
        assert response["Referrer-Policy"] == "strict-origin-when-cross-origin", url
        assert response["Cross-Origin-Opener-Policy"] == "same-origin", url
        assert response["X-Frame-Options"] == "DENY", url
        assert "camera=()" in response["Permissions-Policy"], url
        assert "geolocation=()" in response["Permissions-Policy"], url


def _production_env(**changes) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "PTSDINFO_"))
    }
    env.update(
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        DJANGO_ALLOWED_HOSTS="ptsdinfo.example,127.0.0.1",
        DJANGO_SECURE_SSL_REDIRECT="true",
        DJANGO_SECURE_COOKIES="true",
        DJANGO_HSTS_SECONDS="31536000",
        PTSDINFO_REQUIRE_2FA="true",
    )
    env.update(changes)
    return {key: value for key, value in env.items() if value is not None}


def _check_deploy(env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


MISSING_SETTING_CASES = {  # what is left out of production -> the check that names it
    "hsts": ({"DJANGO_HSTS_SECONDS": None}, "security.W004"),
    "cookies": ({"DJANGO_SECURE_COOKIES": None}, "security.W012"),
    "ssl-redirect": ({"DJANGO_SECURE_SSL_REDIRECT": None}, "security.W008"),
    "debug": ({"DJANGO_DEBUG": "true"}, "security.W018"),
    "secret-key": ({"DJANGO_SECRET_KEY": None}, "ptsdinfo.E001"),
    "2fa": ({"PTSDINFO_REQUIRE_2FA": None}, "ptsdinfo.W001"),
}


@pytest.fixture(scope="module")
def deploy_checks(tmp_path_factory):
    """`check --deploy` under the production environment and under each variant with
    one setting missing, run side by side (each needs its own process: settings are
    read from the environment at start). They share a freshly migrated database with
    no demo accounts, as a new production deployment has."""
    from concurrent.futures import ThreadPoolExecutor

    database = f"sqlite:///{tmp_path_factory.mktemp('deploy') / 'db.sqlite3'}"
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=_production_env(DATABASE_URL=database),
        check=True,
        capture_output=True,
    )
    envs = {"production": _production_env(DATABASE_URL=database)}
    envs.update(
        {
            name: _production_env(DATABASE_URL=database, **change)
            for name, (change, _) in MISSING_SETTING_CASES.items()
        }
    )
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(envs, pool.map(_check_deploy, envs.values()), strict=True))


def test_check_deploy_passes_with_production_environment(deploy_checks):
    result = deploy_checks["production"]

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("case", list(MISSING_SETTING_CASES))
def test_check_deploy_fails_when_a_production_setting_is_missing(deploy_checks, case):
    result = deploy_checks[case]

    assert result.returncode != 0
    assert MISSING_SETTING_CASES[case][1] in result.stdout + result.stderr


def test_container_runs_the_deploy_check_before_gunicorn():
    dockerfile = (ROOT / "Dockerfile").read_text()
    start = (ROOT / "scripts" / "start-web.sh").read_text()

    assert 'CMD ["sh", "scripts/start-web.sh"]' in dockerfile
    assert "set -eu" in start
    check = start.index("manage.py check --deploy --fail-level WARNING")
    assert check < start.index("exec gunicorn")
    hadolint = Path(sys.executable).parent / "hadolint"
    if hadolint.exists():
        lint = subprocess.run([hadolint, ROOT / "Dockerfile"], capture_output=True, text=True)
        assert lint.returncode == 0, lint.stdout


# --- login throttling and the audit log -------------------------------------------------


def _login(client, username, password, ip="192.0.2.10"):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password},
        REMOTE_ADDR=ip,
    )


@pytest.mark.django_db
def test_login_and_failure_are_audited(client):
    user = make_user("alice", groups=[AUTHORS])

    assert _login(client, "alice", "wrong").status_code == 200
    assert _login(client, "alice", PASSWORD).status_code == 302

    events = list(
        SecurityEvent.objects.order_by("id").values_list("kind", "username", "ip_address")
    )
    assert events == [
        ("login_failed", "alice", "192.0.2.10"),
        ("login", "alice", "192.0.2.10"),
    ]
    assert SecurityEvent.objects.get(kind="login").user == user
    client.post("/admin/logout/")
    assert SecurityEvent.objects.filter(kind="logout", user=user).exists()


@pytest.mark.django_db
def test_failed_login_for_an_unknown_name_is_audited_too(client):
    _login(client, "nobody-here", "guess")

    assert SecurityEvent.objects.get().username == "nobody-here"


@pytest.mark.django_db
def test_five_failures_lock_that_username_from_that_address_only(client, settings):
    make_user("alice", groups=[AUTHORS])
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "alice", "wrong")

    locked = _login(client, "alice", PASSWORD)
    assert locked.status_code == 429  # even the right password, from that address
    assert SecurityEvent.objects.filter(kind="lockout", username="alice").exists()
    # Username and address together: the clinician elsewhere still gets in.
    assert _login(client, "alice", PASSWORD, ip="198.51.100.7").status_code == 302


@pytest.mark.django_db
def test_lockout_is_lifted_by_the_documented_command(client, settings):
    make_user("alice", groups=[AUTHORS])
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "alice", "wrong")
    assert _login(client, "alice", PASSWORD).status_code == 429

    call_command("axes_reset_username", "alice", stdout=io.StringIO())

    assert _login(client, "alice", PASSWORD).status_code == 302
    docs = (ROOT / "docs" / "security.md").read_text()
    assert "manage.py axes_reset_username" in docs


@pytest.mark.django_db
def test_staff_sessions_last_eight_hours(client, settings):
    make_user("alice", groups=[AUTHORS])
    _login(client, "alice", PASSWORD)

    assert settings.SESSION_COOKIE_AGE == 8 * 3600
    assert client.session.get_expiry_age() <= 8 * 3600
    assert client.cookies["sessionid"]["max-age"] <= 8 * 3600
    assert client.cookies["sessionid"]["httponly"]


# --- second factor --------------------------------------------------------------------


def _code(device: TOTPDevice, step_offset: int = 0) -> str:
    return str(
        totp(
            device.bin_key,
            step=device.step,
            t0=device.t0 - step_offset * device.step,
            digits=device.digits,
        )
    ).zfill(device.digits)


def _unthrottle(device: TOTPDevice) -> None:
    """django-otp makes a device wait after a wrong code (1 s, then doubling)."""
    device.refresh_from_db()
    device.throttling_failure_count = 0
    device.throttling_failure_timestamp = None
    device.save()


@pytest.fixture
def require_2fa(settings):
    settings.PTSDINFO_REQUIRE_2FA = True


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("groups", "superuser", "asked"),
    [
        ([CLINICAL_REVIEWERS], False, True),
        ([PUBLISHERS], False, True),
        ([], True, True),
        ([AUTHORS], False, False),
    ],
    ids=["reviewer", "publisher", "superuser", "author"],
)
def test_second_factor_required_by_role_when_on(client, require_2fa, groups, superuser, asked):
    user = make_user("u", groups=groups, is_superuser=superuser)
    client.force_login(user)

    response = client.get("/admin/")

    if asked:
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/2fa/setup/?next=")
        assert client.post(reverse("editor:markdownify"), {"content": "x"}).status_code == 403
    else:
        assert response.status_code == 200


@pytest.mark.django_db
def test_second_factor_not_required_when_off(client):
    client.force_login(make_user("rita", groups=[CLINICAL_REVIEWERS]))

    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_enrolment_shows_a_qr_code_and_confirms_with_a_code(client, require_2fa):
    user = make_user("rita", groups=[CLINICAL_REVIEWERS])
    client.force_login(user)

    page = client.get("/admin/2fa/setup/?next=/admin/articles/")
    assert page.status_code == 200
    assert b"<svg" in page.content and b"otp-secret" in page.content
    device = TOTPDevice.objects.get(user=user, confirmed=False)

    wrong = client.post("/admin/2fa/setup/", {"token": "000000", "next": "/admin/articles/"})
    assert wrong.status_code == 200 and b"did not match" in wrong.content
    _unthrottle(device)
    done = client.post("/admin/2fa/setup/", {"token": _code(device), "next": "/admin/articles/"})

    assert done.status_code == 302 and done["Location"] == "/admin/articles/"
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/admin/").status_code == 200
    kinds = set(SecurityEvent.objects.filter(user=user).values_list("kind", flat=True))
    assert {"otp_failed", "otp_enrolled"} <= kinds


@pytest.mark.django_db
def test_enrolled_user_must_verify_after_password(client, require_2fa):
    user = make_user("paul", groups=[PUBLISHERS])
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)

    assert _login(client, "paul", PASSWORD).status_code == 302
    asked = client.get("/admin/")
    assert asked.status_code == 302
    assert asked["Location"].startswith("/admin/2fa/verify/")

    refused = client.post("/admin/2fa/verify/", {"token": "123456", "next": "/admin/"})
    assert refused.status_code == 200
    assert client.get("/admin/").status_code == 302
    _unthrottle(device)

    ok = client.post("/admin/2fa/verify/", {"token": _code(device), "next": "/admin/"})
    assert ok.status_code == 302
    assert client.get("/admin/").status_code == 200
    kinds = list(SecurityEvent.objects.filter(user=user).values_list("kind", flat=True))
    assert {"login", "otp_failed", "otp_verified"} <= set(kinds)


@pytest.mark.django_db
def test_an_author_who_enrolled_is_asked_even_when_not_required(client):
    user = make_user("alice", groups=[AUTHORS])
    TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client.force_login(user)

    assert client.get("/admin/")["Location"].startswith("/admin/2fa/verify/")


@pytest.mark.django_db
def test_verify_never_redirects_off_site(client):
    user = make_user("alice", groups=[AUTHORS])
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client.force_login(user)

    response = client.post(
        "/admin/2fa/verify/", {"token": _code(device), "next": "https://evil.example/"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/admin/"


@pytest.mark.django_db
def test_second_factor_pages_need_a_staff_login(client):
    assert client.get("/admin/2fa/setup/")["Location"].startswith("/admin/login/")
    client.force_login(make_user("reader", staff=False))
    assert client.get("/admin/2fa/verify/")["Location"].startswith("/admin/login/")


@pytest.mark.django_db
def test_superuser_enrols_a_device_for_someone_in_the_admin(client):
    client.force_login(make_user("root", is_superuser=True))
    rita = make_user("rita", groups=[CLINICAL_REVIEWERS])

    response = client.post(
        reverse("admin:otp_totp_totpdevice_add"),
        {
            "user": rita.pk,
            "name": "phone",
            "key": TOTPDevice().key,
            "step": 30,
            "t0": 0,
            "digits": 6,
            "tolerance": 1,
            "drift": 0,
            "confirmed": "on",
            "throttling_failure_count": 0,
        },
    )

    assert response.status_code == 302
    assert TOTPDevice.objects.filter(user=rita, confirmed=True).exists()


# --- rate limits --------------------------------------------------------------------


@pytest.mark.django_db
def test_markdownify_is_rate_limited_per_user(client, settings):
    assert settings.PTSDINFO_MARKDOWNIFY_PER_MINUTE == 120
    alice, amir = make_user("alice", groups=[AUTHORS]), make_user("amir", groups=[AUTHORS])
    client.force_login(alice)
    url = reverse("editor:markdownify")

    statuses = [client.post(url, {"content": "*hi*"}).status_code for _ in range(121)]

    assert statuses[:120] == [200] * 120
    assert statuses[120] == 429
    limited = client.post(url, {"content": "x"})
    assert limited.status_code == 429 and limited["Retry-After"]
    assert SecurityEvent.objects.filter(kind="rate_limited", user=alice).count() == 1
    client.force_login(amir)  # another editor is not held up
    assert client.post(url, {"content": "x"}).status_code == 200


@pytest.mark.django_db
def test_markdownify_limit_resets_in_the_next_minute(client, settings):
    settings.PTSDINFO_MARKDOWNIFY_PER_MINUTE = 2
    client.force_login(make_user("alice", groups=[AUTHORS]))
    url = reverse("editor:markdownify")
    with mock.patch("accounts.security.time.time", return_value=600.0):
        assert [client.post(url, {"content": "x"}).status_code for _ in range(3)] == [
            200,
            200,
            429,
        ]
    with mock.patch("accounts.security.time.time", return_value=660.0):
        assert client.post(url, {"content": "x"}).status_code == 200


# --- database faults ----------------------------------------------------------------


def _database_down():
    return mock.patch.object(
        connection, "cursor", side_effect=OperationalError("connection refused")
    )


@pytest.mark.django_db
def test_database_down_gives_a_plain_503_never_a_traceback(client, published_article):
    with _database_down():
        response = client.get(published_article.get_absolute_url() + "?uncached=1")
        health = client.get("/healthz")

    assert response.status_code == 503
    html = response.content.decode()
    assert "briefly unavailable" in html and "988" in html  # crisis help stays
    assert "Traceback" not in html and "OperationalError" not in html
    assert response["Retry-After"] == "30"
    assert "no-store" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    assert "Content-Security-Policy" in response
    assert health.status_code == 503


@pytest.mark.django_db
def test_site_recovers_by_itself_when_the_database_returns(client, published_article):
    with _database_down():
        assert client.get("/articles/?page=down").status_code == 503
    assert client.get("/articles/?page=up").status_code == 200
    assert client.get("/healthz").status_code == 200


@pytest.mark.django_db
def test_cached_public_pages_are_served_while_the_database_is_down(client, published_article):
    url = published_article.get_absolute_url()
    # The page cache stores nothing rendered inside a transaction, and every test runs
    # in one: present this read-only request as if it were outside.
    with mock.patch.object(connection, "in_atomic_block", False):
        assert client.get(url).status_code == 200  # rendered once, now cached
        with _database_down():
            response = client.get(url)
            uncached = client.get("/articles/")

    assert response.status_code == 200
    assert published_article.title in response.content.decode()
    assert uncached.status_code == 503


@pytest.mark.django_db
def test_database_failure_in_a_middleware_also_gives_503(client):
    client.force_login(make_user("alice", groups=[AUTHORS]))
    client.raise_request_exception = False  # the test client re-raises what a server logs
    with _database_down():
        response = client.get("/admin/")  # fails loading the session's user

    assert response.status_code == 503
    assert "briefly unavailable" in response.content.decode()


@pytest.mark.django_db
def test_other_errors_stay_500(client, published_article, settings):
    with mock.patch("publicsite.views.render", side_effect=RuntimeError("bug")):
        client.raise_request_exception = False
        response = client.get(published_article.get_absolute_url() + "?x=1")

    assert response.status_code == 500


def test_role_groups_exist_for_the_2fa_rule(db):
    assert set(Group.objects.values_list("name", flat=True)) >= {CLINICAL_REVIEWERS, PUBLISHERS}


# --- the database really going away (PostgreSQL) --------------------------------------------


def _admin_sql(url: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def _get(url: str) -> tuple[int, str]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.mark.postgres
def test_real_database_outage_serves_cache_or_503_and_recovers(tmp_path):
    """gunicorn on a scratch PostgreSQL database that then refuses all connections."""
    import time

    from tests.browser.conftest import _free_port, _wait_until_up

    base = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
    name = f"ptsdinfo_outage_{secrets.token_hex(4)}"
    maintenance = f"{base}/postgres"
    _admin_sql(
        maintenance,
        f'CREATE DATABASE "{name}"',
        f'ALTER DATABASE "{name}" SET synchronous_commit = off',  # a scratch database
    )
    env = {
        **os.environ,
        "DATABASE_URL": f"{base}/{name}",
        "DATABASE_CONN_MAX_AGE": "60",  # persistent connections: the harder case
        "DJANGO_DEBUG": "false",
        "DJANGO_MEDIA_ROOT": str(tmp_path / "media"),
        "PTSDINFO_STATIC_ROOT": str(tmp_path / "static"),
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    server = None
    try:
        setup = (  # the real commands, in one process (each start of manage.py costs ~2 s)
            "from django.core.management import call_command as c\n"
            "c('migrate', verbosity=0); c('load_demo'); c('collectstatic', interactive=False, "
            "verbosity=0)"
        )
        subprocess.run(
            [*manage, "shell", "-c", setup], env=env, cwd=ROOT, check=True, capture_output=True
        )
        port = _free_port()
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "ptsdinfo.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
            ],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        url = f"http://127.0.0.1:{port}"
        _wait_until_up(f"{url}/healthz", server)
        assert _get(f"{url}/articles/ketamine-for-ptsd/")[0] == 200  # now in the page cache

        _admin_sql(
            maintenance,
            f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false',
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'",
        )
        health = _get(f"{url}/healthz")
        cached = _get(f"{url}/articles/ketamine-for-ptsd/")
        uncached = _get(f"{url}/articles/what-is-ptsd/")
        missing = _get(f"{url}/articles/no-such-article/")

        assert health[0] == 503
        assert cached[0] == 200 and "Ketamine" in cached[1]
        for status, body in (uncached, missing):
            assert status == 503
            assert "briefly unavailable" in body and "Traceback" not in body

        _admin_sql(maintenance, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        deadline = time.monotonic() + 15
        while _get(f"{url}/healthz")[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _get(f"{url}/healthz")[0] == 200
        assert _get(f"{url}/articles/what-is-ptsd/")[0] == 200
        assert server.poll() is None  # the worker never died of it
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        _admin_sql(
            maintenance,
            f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true',
            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
        )
