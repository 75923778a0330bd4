"""The container definition: Dockerfile, .dockerignore, compose.yaml (no Docker engine
here: these read the files and run the pieces that can run without one)."""

import json
import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def healthcheck_command() -> list[str]:
    match = re.search(r"HEALTHCHECK[^\n]*\\\n\s*CMD (\[.*\])", DOCKERFILE)
    assert match, "no HEALTHCHECK ... CMD [...] in the Dockerfile"
    return json.loads(match.group(1))


class Health(BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.paths.append(self.path)
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_container_healthcheck_asks_healthz_on_the_port_from_PORT():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    server.paths = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    command = healthcheck_command()
    assert command[0] == "python"
    try:
        up = subprocess.run(
            [sys.executable, *command[1:]], env={"PORT": str(port)}, timeout=10, check=False
        )
    finally:
        server.shutdown()
        server.server_close()
    down = subprocess.run(
        [sys.executable, *command[1:]], env={"PORT": str(port)}, timeout=10, capture_output=True
    )

    assert up.returncode == 0
    assert server.paths == ["/healthz"]
    assert down.returncode != 0


def preflight(tmp_path, database_url: str):
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PTSDINFO_PUBLICATION_CACHE_DIR": str(tmp_path / "generation"),
    }
    env.pop("REDIS_URL", None)
    return subprocess.run(
        [sys.executable, "scripts/preflight.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_start_script_runs_preflight_before_the_checks_and_gunicorn():
    script = (ROOT / "scripts/start-web.sh").read_text()
    steps = [line for line in script.splitlines() if line and not line.startswith("#")]
    assert steps[1:] == [
        "python scripts/preflight.py",
        "python manage.py check --deploy --fail-level WARNING",
        "exec gunicorn -c deploy/gunicorn.conf.py ptsdinfo.wsgi",
    ]


def test_preflight_on_a_fresh_database_says_to_run_the_migrations(tmp_path):
    database = f"sqlite:///{tmp_path / 'db.sqlite3'}"

    fresh = preflight(tmp_path, database)
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database},
        capture_output=True,
        timeout=300,
    )
    migrated = preflight(tmp_path, database)

    assert fresh.returncode == 3
    assert "python manage.py migrate" in fresh.stderr
    assert "unavailable" not in fresh.stderr
    assert migrate.returncode == 0, migrate.stderr
    assert migrated.returncode == 0, migrated.stderr


def test_preflight_names_an_unreachable_database(tmp_path):
    result = preflight(tmp_path, "postgres://nobody@127.0.0.1:9/none?connect_timeout=2")

    assert result.returncode == 2
    assert "database is unreachable" in result.stderr


# --- the image: ownership, volumes, uploads ---------------------------------------------


def instructions() -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in joined.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def test_image_code_belongs_to_root_and_only_the_volumes_to_the_app_user():
    steps = instructions()
    user_at = next(i for i, (op, _) in enumerate(steps) if op == "USER")
    copies = [args for op, args in steps if op == "COPY"]
    run_as_root = " ".join(args for op, args in steps[:user_at] if op == "RUN")
    volumes = json.loads(next(args for op, args in steps if op == "VOLUME"))

    assert steps[user_at][1] == "10001"
    assert all("--chown" not in args for args in copies)  # code stays root's
    assert "chmod -R go-w /app" in run_as_root
    assert "chown app:app /app/media /app/data" in run_as_root
    assert "/app/media" in volumes
    env = " ".join(args for op, args in steps if op == "ENV")
    assert "DJANGO_MEDIA_ROOT=/app/media" in env and "PTSDINFO_SERVE_MEDIA=true" in env


def test_dockerignore_and_gitignore_keep_caches_and_sqlite_journals_out():
    for name in (".dockerignore", ".gitignore"):
        lines = (ROOT / name).read_text().splitlines()
        assert any(line.strip("/") == ".cache" for line in lines), name
        assert "db.sqlite3-wal" in lines and "db.sqlite3-shm" in lines, name


@pytest.fixture
def uploads(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    (tmp_path / "uploads").mkdir()
    (tmp_path / "uploads" / "figure.png").write_bytes(b"\x89PNG\r\n\x1a\n-not-really")
    (tmp_path.parent / "secret.txt").write_text("outside the media root")
    return tmp_path


def test_uploads_are_served_by_the_app_when_no_nginx_is_in_front(client, settings, uploads):
    settings.PTSDINFO_SERVE_MEDIA = True

    response = client.get("/media/uploads/figure.png")

    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    "url", ["/media/../secret.txt", "/media/%2e%2e/secret.txt", "/media/uploads/"]
)
def test_media_serving_stays_inside_the_media_root(client, settings, uploads, url):
    settings.PTSDINFO_SERVE_MEDIA = True

    assert client.get(url).status_code == 404


def test_uploads_are_not_served_by_the_app_unless_asked(client, uploads):
    assert client.get("/media/uploads/figure.png").status_code == 404


def test_the_documented_container_settings_pass_the_start_checks(tmp_path):
    """deploy/container.env plus a secret key is all `check --deploy` needs."""
    env = {**os.environ}
    for line in (ROOT / "deploy/container.env").read_text().splitlines():
        if line and not line.startswith("#"):
            name, value = line.split("=", 1)
            env[name] = value
    env["DJANGO_SECRET_KEY"] = "k" * 20 + "-a-long-random-string-for-this-test-only-0123456789"
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    env["PTSDINFO_PUBLICATION_CACHE_DIR"] = str(tmp_path / "generation")
    env.pop("REDIS_URL", None)
    run = lambda *args: subprocess.run(  # noqa: E731
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )

    assert run("migrate", "--noinput", "-v0").returncode == 0
    check = run("check", "--deploy", "--fail-level", "WARNING")
    without_2fa = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**env, "PTSDINFO_REQUIRE_2FA": "false"},
        capture_output=True,
        text=True,
    )

    assert check.returncode == 0, check.stderr
    assert without_2fa.returncode != 0
