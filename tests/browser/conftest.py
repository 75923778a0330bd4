"""Browser tests: Debian's Chromium driven by Playwright against a real server.

The server is a separate process (gunicorn) on its own SQLite file with the demo
content loaded through the real commands, so these tests see what a reader sees and
never touch the pytest database. Screenshots go to tests/browser/artifacts/.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "browser" / "artifacts"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """Base URL of a freshly migrated server with the demo content loaded."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is required in CI and is missing at {CHROMIUM}")
        pytest.skip(f"no Chromium at {CHROMIUM}")
    workdir = tmp_path_factory.mktemp("site")
    # Citation metadata comes from a local HTTPS server replaying recorded responses.
    from tests.evidence.test_fetching import RecordedServer, make_certificate

    metadata = RecordedServer(*make_certificate(workdir))
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{workdir / 'site.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "ptsdinfo.settings",
        "DJANGO_MEDIA_ROOT": str(workdir / "media"),
        "PTSDINFO_STATIC_ROOT": str(workdir / "static"),
        "DJANGO_DEBUG": "false",
        "PTSDINFO_FETCH_ALLOWED_HOSTS": "127.0.0.1",
        "PTSDINFO_FETCH_PRIVATE_HOSTS": "127.0.0.1",
        "PTSDINFO_FETCH_CA_FILE": metadata.ca_file,
        "PTSDINFO_FETCH_BASE_URLS": ",".join(f"{k}={v}" for k, v in metadata.base_urls().items()),
        "PTSDINFO_PUBLICATION_CACHE_DIR": str(workdir / "publication-cache"),
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    for command in (
        ["migrate", "--noinput", "-v0"],
        ["load_demo"],
        ["collectstatic", "--noinput", "-v0"],
    ):
        subprocess.run([*manage, *command], env=env, cwd=ROOT, check=True, capture_output=True)
    port = _free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "ptsdinfo.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(f"{url}/healthz", server)
        yield {"url": url, "env": env, "manage": manage}
    finally:
        server.terminate()
        server.wait(timeout=10)
        metadata.close()


def _wait_until_up(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"server exited: {server.stderr.read().decode()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server did not answer {url}")


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda message: errors.append(message.text) if message.type == "error" else None,
    )
    page.console_errors = errors
    yield page
    context.close()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture(scope="session", autouse=True)
def _clean_artifacts():
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
