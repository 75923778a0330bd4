"""Public pages as files for nginx (publicsite/page_files.py): when the app writes one,
what it writes, when it deletes one, and that nginx's side of the contract (the
add_header file, the language map) says what the app sends.

nginx itself, serving these files and asking for them, is exercised by `make bench`
(scripts/bench.py) and the cluster tests (tests/cluster)."""

import os
import re
import stat
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.core.exceptions import MiddlewareNotUsed
from django.core.management import CommandError, call_command
from django.http import HttpResponse
from django.test import Client, RequestFactory

from articles.roles import PUBLISHERS
from editorial.services.workflow import article_withdraw
from ptsdinfo.i18n import path_language
from publicsite import caching, page_files
from tests.factories import make_user

HOUR = datetime.now().strftime("%Y-%m-%dT%H")  # each test's own: see `this_hour`
ARTICLE = "/articles/test-article/"
ROOT = Path(__file__).resolve().parents[2]

# Every test on its own empty caches (tests/publicsite/conftest.py).
pytestmark = pytest.mark.usefixtures("private_caches")


@pytest.fixture(autouse=True)
def this_hour(monkeypatch):
    """The hour nginx names, read when the test starts, not when the module is imported:
    a suite started at 09:59 reaches these tests after 10:00."""
    monkeypatch.setitem(globals(), "HOUR", datetime.now().strftime("%Y-%m-%dT%H"))


@pytest.fixture
def page_files_dir(settings, tmp_path, monkeypatch):
    """Page files on, as in production: outside a transaction, with the add_header file
    `page_files_headers` wrote from the home page."""
    monkeypatch.setattr(caching, "_inside_transaction", lambda: False)
    page_files.nginx_headers.cache_clear()
    headers = tmp_path / "nginx" / "page-headers.conf"
    call_command("page_files_headers", "--output", str(headers))
    settings.PTSDINFO_PAGE_FILES_DIR = str(tmp_path / "pages")
    settings.PTSDINFO_PAGE_FILES_HEADERS = str(headers)
    settings.PTSDINFO_TRUSTED_PROXIES = ["127.0.0.1"]
    yield tmp_path / "pages"
    page_files.nginx_headers.cache_clear()


def nginx_asks(path, *, hour=None, client=None, **extra):
    """A request as nginx sends it when it has no file for `path` this hour."""
    headers = {"x-ptsdinfo-page-hour": hour if hour is not None else HOUR}
    return (client or Client()).get(path, headers=headers, **extra)


def page_file(root, path, hour=None):
    return root / (hour or HOUR) / path.lstrip("/") / "index.html"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/articles/", ARTICLE, "/es/"])
def test_a_page_nginx_asks_for_is_written_as_the_body_readers_get(
    page_files_dir, published_article, path
):
    response = nginx_asks(path)

    written = page_file(page_files_dir, path)
    assert response.status_code == 200
    assert written.read_bytes() == response.content
    assert stat.S_IMODE(written.stat().st_mode) == 0o644  # nginx's own user reads it
    assert [p.name for p in written.parent.iterdir()] == ["index.html"]  # no temporary left


@pytest.mark.django_db
def test_the_folders_nginx_reads_are_readable_whatever_the_umask(page_files_dir, published_article):
    previous = os.umask(0o077)
    try:
        nginx_asks(ARTICLE)
    finally:
        os.umask(previous)

    folder = page_file(page_files_dir, ARTICLE).parent
    while folder != page_files_dir.parent:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o755, folder
        folder = folder.parent


@pytest.mark.django_db
def test_a_rewritten_file_holds_the_new_page(page_files_dir, published_article):
    written = page_file(page_files_dir, ARTICLE)
    written.parent.mkdir(parents=True)
    written.write_bytes(b"the page before")

    nginx_asks(ARTICLE)

    assert b"the page before" not in written.read_bytes()
    assert b"<html" in written.read_bytes()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "extra"),
    [
        (ARTICLE, {"REMOTE_ADDR": "203.0.113.9"}),  # not a trusted proxy
        (ARTICLE + "?page=2", {}),  # a query string never gets a file
        ("/feed/", {}),  # not an HTML page
        ("/search/", {}),  # another Cache-Control than the add_header file's
        ("/articles/no-such-article/", {}),  # 404
    ],
)
def test_no_file_is_written_for_what_nginx_could_not_serve_as_it(
    page_files_dir, published_article, path, extra
):
    nginx_asks(path, **extra)

    assert not page_files_dir.exists() or not any(page_files_dir.rglob("index.html"))


@pytest.mark.django_db
def test_a_request_without_nginxs_header_writes_nothing(page_files_dir, published_article):
    Client().get(ARTICLE)

    assert not page_files_dir.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "hour",
    [
        "../../etc",
        "2026-12-06",
        "2026-12-06T05/..",
        "",
        "2099-12-31T23",  # a folder never deleted
        (datetime.now() - timedelta(hours=3)).strftime("%Y-%m-%dT%H"),
    ],
)
def test_an_hour_that_is_not_now_is_ignored(page_files_dir, published_article, hour):
    nginx_asks(ARTICLE, hour=hour)

    assert not page_files_dir.exists()


@pytest.mark.django_db
def test_a_signed_in_readers_page_is_never_written(page_files_dir, published_article, team):
    client = Client()
    client.force_login(team["author"])

    response = nginx_asks(ARTICLE, client=client)

    assert "private" in response["Cache-Control"]
    assert not page_files_dir.exists()


@pytest.mark.django_db
def test_a_withdrawn_articles_file_is_deleted_by_the_refresh_its_purge_triggers(
    page_files_dir, published_article, django_capture_on_commit_callbacks
):
    nginx_asks(ARTICLE)
    written = page_file(page_files_dir, ARTICLE)
    assert written.exists()
    publisher = make_user("test-publisher", groups=[PUBLISHERS])

    with django_capture_on_commit_callbacks(execute=True):
        article_withdraw(article=published_article, user=publisher, reason="Under review.")
    response = nginx_asks(ARTICLE)  # the refresh nginx runs on PURGE carries the header

    assert response.status_code == 410
    assert not written.exists()


@pytest.mark.django_db
def test_headers_other_than_nginxs_file_mean_no_file(page_files_dir, published_article, settings):
    headers = Path(settings.PTSDINFO_PAGE_FILES_HEADERS)
    headers.write_text(headers.read_text().replace("max-age=60", "max-age=61"))
    page_files.nginx_headers.cache_clear()
    written = page_file(page_files_dir, ARTICLE)
    written.parent.mkdir(parents=True)
    written.write_bytes(b"an older page")

    nginx_asks(ARTICLE)

    assert not written.exists()


@pytest.mark.django_db
def test_without_the_add_header_file_no_file_is_written(
    page_files_dir, published_article, settings
):
    settings.PTSDINFO_PAGE_FILES_HEADERS = str(page_files_dir.parent / "missing.conf")

    nginx_asks(ARTICLE)

    assert not page_files_dir.exists() or not any(page_files_dir.rglob("index.html"))


@pytest.mark.django_db
def test_a_new_hours_folder_deletes_the_past_hours(page_files_dir, published_article):
    now = datetime.strptime(HOUR, "%Y-%m-%dT%H")
    past = page_files_dir / (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H")
    future = page_files_dir / (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H")
    for folder in (past, future):
        (folder / "articles").mkdir(parents=True)
    other = page_files_dir / "not-an-hour"
    other.mkdir()

    nginx_asks(ARTICLE)

    assert page_file(page_files_dir, ARTICLE).exists()
    assert not past.exists()
    assert future.exists() and other.exists()


@pytest.mark.parametrize("headers", ["", "/nonexistent/page-headers.conf"])
def test_a_folder_without_a_readable_add_header_file_is_a_warning_at_start(settings, headers):
    settings.PTSDINFO_PAGE_FILES_DIR = "/var/cache/ptsdinfo/pages"
    settings.PTSDINFO_PAGE_FILES_HEADERS = headers

    assert [w.id for w in page_files.check_page_files(None)] == ["ptsdinfo.W004"]


def test_no_warning_with_page_files_off_or_set_up(settings, tmp_path):
    settings.PTSDINFO_PAGE_FILES_DIR = ""
    assert page_files.check_page_files(None) == []
    (tmp_path / "headers.conf").write_text("")
    settings.PTSDINFO_PAGE_FILES_DIR = str(tmp_path / "pages")
    settings.PTSDINFO_PAGE_FILES_HEADERS = str(tmp_path / "headers.conf")
    assert page_files.check_page_files(None) == []


def test_the_middleware_is_not_loaded_without_a_folder(settings):
    settings.PTSDINFO_PAGE_FILES_DIR = ""

    with pytest.raises(MiddlewareNotUsed):
        page_files.page_files_middleware(lambda request: None)


@pytest.mark.parametrize(
    ("path", "servable"),
    [
        ("/", True),
        ("/es/articles/que-es-el-tept/", True),
        ("/articles/x", False),  # nginx looks for /articles/xindex.html: never written
        ("/articles/../admin/", False),
        ("/articles/.hidden/", False),
        ("/articles/a b/", False),
        ("/articles/ñ/", False),
        ("//articles/", False),
    ],
)
def test_only_paths_nginx_maps_to_the_same_file_get_one(path, servable):
    assert (page_files.file_for("/pages", HOUR, path) is not None) is servable


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", ARTICLE, "/articles/", "/topics/", "/es/"])
def test_every_public_page_sends_the_headers_of_the_add_header_file(
    page_files_dir, published_article, settings, path
):
    expected = page_files.nginx_headers(settings.PTSDINFO_PAGE_FILES_HEADERS)

    response = Client().get(path)

    sent = {name.lower(): value for name, value in page_files.site_headers(response).items()}
    assert expected and sent == expected
    assert "content-security-policy" in expected and "cache-control" in expected


@pytest.mark.django_db
def test_the_add_header_file_round_trips_quotes_and_backslashes(tmp_path):
    headers = {"X-Quoted": 'say "hi" \\ bye', "Cache-Control": "public, max-age=60"}
    path = tmp_path / "headers.conf"
    path.write_text("\n".join(["# comment", *page_files.nginx_lines(headers), ""]))
    page_files.nginx_headers.cache_clear()

    assert page_files.nginx_headers(str(path)) == {
        "x-quoted": 'say "hi" \\ bye',
        "cache-control": "public, max-age=60",
    }
    page_files.nginx_headers.cache_clear()


def test_a_header_nginx_would_read_as_a_variable_is_refused():
    with pytest.raises(ValueError, match=r"\$"):
        page_files.nginx_lines({"x-price": "$5"})


def test_nginx_names_each_page_files_language_as_the_app_does(settings):
    text = (ROOT / "deploy" / "nginx" / "ptsdinfo-app.conf").read_text()
    files = text[text.index("location / {") : text.index("location @page {")]
    default = re.search(r"^    add_header Content-Language (\w+);", files, re.M)[1]
    prefixes = {
        block.split(" ", 1)[0]: re.search(r"add_header Content-Language (\w+);", block)[1]
        for block in files.split("    location ")[1:]
    }

    assert default == settings.LANGUAGE_CODE == path_language("/articles/")
    others = {code for code, _name in settings.LANGUAGES} - {settings.LANGUAGE_CODE}
    assert {prefix.strip("/") for prefix in prefixes} == others
    for prefix, code in prefixes.items():
        assert code == prefix.strip("/") == path_language(f"{prefix}articles/x/")
    # Every language's location has the same lines but the language.
    blocks = [files.split("location /es/ {")[0], files.split("location /es/ {")[1]]
    lines = (
        "try_files /$ptsdinfo_page_hour${uri}index.html @page;",
        "include ptsdinfo/page-headers.conf;",
    )
    for line in lines:
        assert all(line in block for block in blocks), line


@pytest.mark.django_db
def test_a_page_in_another_language_than_its_paths_is_not_servable(page_files_dir, settings):
    expected = page_files.nginx_headers(settings.PTSDINFO_PAGE_FILES_HEADERS)
    response = HttpResponse(b"<html></html>", content_type=page_files.CONTENT_TYPE)
    for name, value in expected.items():
        response[name] = value
    request = RequestFactory().get("/articles/x/")

    response["Content-Language"] = "en"
    assert page_files.servable(request, response, expected)
    response["Content-Language"] = "es"  # nginx would say "en" for this path
    assert not page_files.servable(request, response, expected)


@pytest.mark.django_db
def test_page_files_headers_before_collectstatic_says_to_run_it(settings, tmp_path):
    settings.STATIC_ROOT = str(tmp_path / "no-static-yet")
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }

    with pytest.raises(CommandError, match=re.escape("run `manage.py collectstatic` first")):
        call_command("page_files_headers", "--output", str(tmp_path / "headers.conf"))
    assert not (tmp_path / "headers.conf").exists()


def nginx_page_hour(method, args, session_cookie, time_iso8601):
    """$ptsdinfo_page_hour as deploy/nginx/ptsdinfo-http.conf's map computes it (its key
    and its one regular expression, which Python reads as PCRE does)."""
    text = (ROOT / "deploy" / "nginx" / "ptsdinfo-http.conf").read_text()
    block = re.search(r'^map "([^"]+)" \$ptsdinfo_page_hour \{\n(.*?)^\}', text, re.M | re.S)
    key = block[1]
    for name, value in {
        "$request_method": method,
        "$is_args": "?" if args else "",
        "$cookie_sessionid": session_cookie,
        "$time_iso8601": time_iso8601,
    }.items():
        key = key.replace(name, value)
    assert "$" not in key
    pattern = re.search(r'^\s*"~(.+)"\s+\$1;$', block[2], re.M)[1]
    assert re.search(r'^\s*default\s+"-";$', block[2], re.M)
    match = re.match(pattern, key)
    return match[1] if match else "-"


@pytest.mark.parametrize(
    ("method", "args", "cookie", "hour"),
    [
        ("GET", "", "", "2026-12-06T05"),
        ("HEAD", "", "", "2026-12-06T05"),
        ("GET", "q=ketamine", "", "-"),  # a query string: the proxy cache's key, no file
        ("GET", "", "abc123", "-"),  # signed in: never a shared page
        ("POST", "", "", "-"),
        ("PURGE", "", "", "-"),
        # a cookie cannot name another hour's folder (the app would write it there)
        ("GET", "", ":2026-12-06T06", "-"),
        ("GET", "", "x 2026-12-06T06:00:00+00:00 GET", "-"),
    ],
)
def test_nginx_looks_for_a_file_in_this_hours_folder_only_for_what_the_app_writes(
    method, args, cookie, hour
):
    found = nginx_page_hour(method, args, cookie, "2026-12-06T05:59:59+00:00")

    assert found == hour
    if found != "-":
        # the folder nginx reads is the one the app writes for this hour's header
        assert page_files.HOUR.fullmatch(found)
