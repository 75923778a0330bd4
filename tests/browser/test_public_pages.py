"""Every public page type in Chromium: axe-core (zero violations), the Nu HTML Checker
(zero errors), screenshots at phone and desktop widths, and the reader-facing checks
that need a real browser (no JavaScript needed, page weight, keyboard focus).

axe-core and vnu-jar come from npm (`make node-tools`, run by `make test`); in CI a
missing tool fails, elsewhere it skips with the command to run.
"""

import json
import os
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.browser.conftest import ROOT, screenshot

NODE_MODULES = Path(
    os.environ.get("PTSDINFO_NODE_MODULES", ROOT / ".cache" / "node" / "node_modules")
)
AXE = NODE_MODULES / "axe-core" / "axe.min.js"
VNU = NODE_MODULES / "vnu-jar" / "build" / "dist" / "vnu.jar"

WITHDRAWN_SLUG = "withdrawn-example"
# (name, path, expected status): one of each public page type.
PAGES = [
    ("home", "/", 200),
    ("article-list", "/articles/", 200),
    ("article", "/articles/ketamine-for-ptsd/", 200),
    ("report-form", "/articles/ketamine-for-ptsd/report/?claim=ptsd-definition", 200),
    ("topics", "/topics/", 200),
    ("topic", "/topics/treatments/", 200),
    ("search-results", "/search/?q=ketamine", 200),
    ("search-empty", "/search/", 200),
    ("search-no-results", "/search/?q=xylophone", 200),
    ("search-absurd", "/search/?q=%22%22%22!!!", 200),
    ("editorial-policy", "/editorial-policy/", 200),
    ("about", "/about/", 200),
    ("withdrawn", f"/articles/{WITHDRAWN_SLUG}/", 410),
    ("not-found", "/no-such-page/", 404),
    ("server-error", "/__server-error__/", 500),
    # The Spanish site (issue 18): the demo's translated article, with one stale claim.
    ("es-home", "/es/", 200),
    ("es-article-list", "/es/articles/", 200),
    ("es-article", "/es/articles/what-is-ptsd/", 200),
    ("es-article-ketamine", "/es/articles/ketamine-for-ptsd/", 200),
    ("es-report-form", "/es/articles/what-is-ptsd/report/?claim=definition", 200),
    ("es-topics", "/es/topics/", 200),
    ("es-search-results", "/es/search/?q=trauma", 200),
    ("es-editorial-policy", "/es/editorial-policy/", 200),
    ("es-about", "/es/about/", 200),
    ("es-not-found", "/es/no-such-page/", 404),
    ("es-topic", "/es/topics/treatments/", 200),
    ("es-search-no-results", "/es/search/?q=xil%C3%B3fono", 200),
    ("es-withdrawn", f"/es/articles/{WITHDRAWN_SLUG}/", 410),
    ("es-report-form-ketamine", "/es/articles/ketamine-for-ptsd/report/", 200),
]
WIDTHS = {"phone": 390, "desktop": 1280}

# Publish an article through the real workflow, then withdraw it, so the site has a
# tombstone to show. Runs in the server's database, from a separate process, as an
# editor's action would.
WITHDRAW_SCRIPT = f"""
from django.contrib.auth import get_user_model
from articles.articlefile import parse_article_text
from articles.models import Article
from ops.demo import DEMO_DIR
from articles.services.drafts import article_import
from editorial.services import translations, workflow

if not Article.objects.filter(slug="{WITHDRAWN_SLUG}").exists():
    users = get_user_model().objects
    names = ("author", "reviewer", "publisher")
    author, reviewer, publisher = (users.get(username=name) for name in names)
    folder = DEMO_DIR / "what-is-ptsd"
    text = (folder / "article.md").read_text()
    text = text.replace("slug: what-is-ptsd", "slug: {WITHDRAWN_SLUG}")
    text = text.replace("title: What is PTSD?", "title: PTSD explained (older page)")
    article = article_import(source=parse_article_text(text, base_dir=folder), user=author).article
    workflow.article_submit(article=article, user=author)
    workflow.article_approve(article=article, user=reviewer)
    workflow.article_publish(article=article, user=publisher)
    # Published in Spanish too, so the Spanish tombstone has a translation to stand for.
    article.refresh_from_db()
    started = translations.translation_start(article=article, language="es", user=author)
    translation = translations.translation_save(
        translation=started,
        user=author,
        title="El TEPT explicado (página anterior)",
        summary="Qué es el TEPT.",
        body=started.body,
    )
    translations.translation_submit(translation=translation, user=author)
    translations.translation_approve(translation=translation, user=reviewer)
    translations.translation_publish(translation=translation, user=publisher)
    workflow.article_withdraw(article=article, user=publisher, reason="Replaced by What is PTSD?")
"""


def _require(tool: Path) -> None:
    if not tool.exists():
        message = f"{tool} is missing: run `make node-tools`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def public_site(site):
    subprocess.run(
        [*site["manage"], "shell", "-c", WITHDRAW_SCRIPT],
        env=site["env"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return site


@pytest.fixture(scope="module")
def server_error_html(public_site):
    """The 500 page as the server would send it (it cannot be provoked on purpose)."""
    result = subprocess.run(
        [
            *public_site["manage"],
            "shell",
            "-v0",
            "-c",
            "from django.template.loader import render_to_string; "
            "print(render_to_string('500.html'), end='')",
        ],
        env=public_site["env"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


def open_page(page, site, path, server_error_html):
    if path == "/__server-error__/":
        page.route(
            f"{site['url']}{path}",
            lambda route: route.fulfill(
                status=500, body=server_error_html, content_type="text/html; charset=utf-8"
            ),
        )
    return page.goto(f"{site['url']}{path}", wait_until="load")


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def axe_violations(page) -> list[dict]:
    """axe-core's violations with every rule on, target-size (WCAG 2.2 2.5.8) included."""
    return page.evaluate(
        """async () => {
            const results = await axe.run(document, {
                resultTypes: ["violations"],
                rules: {"target-size": {enabled: true}},
            });
            return results.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + ": " + n.failureSummary),
            }));
        }"""
    )


@pytest.mark.parametrize(("name", "path", "status"), PAGES, ids=[p[0] for p in PAGES])
def test_public_page_is_accessible_and_renders_cleanly(
    public_site, server_error_html, page, name, path, status
):
    _require(AXE)
    response = open_page(page, public_site, path, server_error_html)

    assert response.status == status
    page.evaluate(AXE.read_text(encoding="utf-8"))
    for width_name, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        assert axe_violations(page) == [], width_name
        # No sideways scrolling, even on a phone.
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width, width_name
        screenshot(page, f"public-{name}-{width_name}")
    # Crisis help right after the site header on every page (WCAG 2.2 Consistent Help).
    assert page.evaluate(
        "() => document.querySelector('header.site-header').nextElementSibling"
        ".classList.contains('crisis-help')"
    )
    expected = f"the server responded with a status of {status}"
    assert [e for e in page.console_errors if status == 200 or expected not in e] == []


def test_every_page_is_valid_html(public_site, server_error_html, tmp_path):
    _require(VNU)
    files = []
    for name, path, status in PAGES:
        if path == "/__server-error__/":
            code, body = 500, server_error_html.encode()
        else:
            code, body = fetch(f"{public_site['url']}{path}")
        assert code == status, path
        target = tmp_path / f"{name}.html"
        target.write_bytes(body)
        files.append(str(target))
    css_path = next(Path(public_site["env"]["PTSDINFO_STATIC_ROOT"]).glob("css/site.*.css"))

    result = subprocess.run(
        # A quick-starting JVM (C1 only), with the stack the checker's schema needs.
        [
            "java",
            "-Xss8m",
            "-XX:TieredStopAtLevel=1",
            "-XX:+UseSerialGC",
            "-jar",
            str(VNU),
            "--format",
            "json",
            "--also-check-css",
            *files,
            str(css_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )

    messages = json.loads(result.stderr or result.stdout)["messages"]
    errors = [
        f"{Path(m.get('url', '')).name}:{m.get('lastLine')}: {m['message']}"
        for m in messages
        if m["type"] == "error" or m.get("subType") == "fatal"
    ]
    assert errors == []


def test_article_page_weighs_under_100_kb_before_images(public_site, page):
    page.goto(f"{public_site['url']}/articles/ketamine-for-ptsd/", wait_until="load")

    weight = page.evaluate(
        """() => {
            const nav = performance.getEntriesByType("navigation")[0];
            const resources = performance.getEntriesByType("resource")
                .filter(r => r.initiatorType !== "img");
            return nav.transferSize + resources.reduce((sum, r) => sum + r.transferSize, 0);
        }"""
    )
    scripts = page.evaluate(
        "() => [...document.scripts].filter(s => s.type !== 'application/ld+json').length"
    )
    fonts = page.evaluate(
        "() => performance.getEntriesByType('resource')"
        ".filter(r => /\\.(woff2?|ttf|otf)$/.test(r.name)).length"
    )

    assert 0 < weight < 100_000
    assert scripts == 0
    assert fonts == 0


def test_site_works_without_javascript(public_site, browser):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{public_site['url']}/", wait_until="load")
        page.fill("#site-search-q", "esketamine")
        page.click(".site-search button")
        page.wait_for_url("**/search/?q=esketamine")
        assert page.locator(".result").count() >= 1
        page.locator(".result__title a").first.click()
        assert page.locator("ol#references li").count() >= 1
        page.click("nav.toc a[href='#references-section']")
        assert page.url.endswith("#references-section")
    finally:
        context.close()


def test_skip_link_is_the_first_stop_and_focus_is_visible(public_site, page):
    page.goto(f"{public_site['url']}/articles/ketamine-for-ptsd/", wait_until="load")

    page.keyboard.press("Tab")
    focused = page.evaluate(
        """() => {
            const el = document.activeElement, box = el.getBoundingClientRect();
            const style = getComputedStyle(el);
            return {text: el.textContent, left: box.left, top: box.top,
                    background: style.backgroundColor};
        }"""
    )
    page.keyboard.press("Enter")

    assert focused["text"] == "Skip to main content"
    assert focused["left"] >= 0 and focused["top"] >= 0  # on screen once focused
    assert focused["background"] != "rgba(0, 0, 0, 0)"
    assert page.evaluate("() => document.activeElement.id") == "main"


def test_citation_markers_lead_to_the_reference_list(public_site, page):
    page.goto(f"{public_site['url']}/articles/ketamine-for-ptsd/", wait_until="load")

    marker = page.locator("sup.citations a.citation").first
    target = marker.get_attribute("href")
    marker.click()

    assert target.startswith("#ref-")
    assert page.locator(f"ol#references li{target}").is_visible()


def test_print_stylesheet_keeps_references_and_hides_navigation(public_site, page):
    page.goto(f"{public_site['url']}/articles/ketamine-for-ptsd/", wait_until="load")
    page.emulate_media(media="print")

    assert page.locator("ol#references").is_visible()
    assert not page.locator(".site-search").is_visible()
    assert not page.locator("nav.toc").is_visible()
    # Each address printed once: a link whose text is its address gets no copy after it.
    printed = page.evaluate(
        """[...document.querySelectorAll('#references a')].map((a) => [a.textContent,
            a.getAttribute('href'), getComputedStyle(a, '::after').content])"""
    )
    assert any(text == href for text, href, _ in printed)
    for text, href, after in printed:
        copies = (text + (after if after != "none" else "")).count(href)
        assert copies <= 1, (text, href, after)
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF")


def headers_of(url: str, **headers) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


def test_real_server_answers_conditional_requests_with_304(public_site):
    url = f"{public_site['url']}/articles/ketamine-for-ptsd/"
    _, first = headers_of(url)

    status, _ = headers_of(url, **{"If-None-Match": first["ETag"]})

    assert status == 304
    assert "public" in first["Cache-Control"]
    assert first["Last-Modified"]


def test_a_publication_in_another_process_invalidates_every_worker(public_site):
    url = f"{public_site['url']}/about/"
    for _ in range(10):
        headers_of(url)
    assert headers_of(url)[1]["X-Cache"] == "hit"

    # What `manage.py publish_scheduled` (cron) or the admin in another worker does
    # after a publication commits.
    subprocess.run(
        [
            *public_site["manage"],
            "shell",
            "-v0",
            "-c",
            "from publicsite import caching; caching.public_invalidate(paths=[])",
        ],
        env=public_site["env"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )

    assert headers_of(url)[1]["X-Cache"] == "miss"
