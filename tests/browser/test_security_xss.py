"""The hostile corpus in a real Chromium: an article built from every payload the
importer accepts is imported, approved and published with the real commands on the
demo server, then opened with the CSP switched off in the browser (so this proves
the HTML itself is inert, not only that the policy blocks it) and poked: every
element gets mouse, focus and click events. No dialog opens and nothing sets
window.__xss. The admin's live preview gets the whole raw corpus the same way."""

import subprocess

import pytest

from articles.articlefile import ArticleFileError, read_article_file
from tests.articles.test_hostile_content import PAYLOADS, body_with
from tests.browser.test_security_csp import DEMO_PASSWORD
from tests.factories import write_article

# Fire every handler a payload could have attached; links are not followed (their
# URLs are checked instead), everything else is clicked.
POKE = """
(root) => {
  const events = ["mouseover", "mouseenter", "mousedown", "mouseup", "focus", "focusin",
                  "animationstart", "toggle", "load", "error"];
  const bad = [];
  for (const el of root.querySelectorAll("*")) {
    for (const name of events) el.dispatchEvent(new Event(name, {bubbles: true}));
    if (el.tagName === "A") {
      const scheme = (el.getAttribute("href") || "").replace(/[\\x00-\\x20]/g, "").toLowerCase();
      if (/^(javascript|vbscript|data):/.test(scheme)) bad.push(el.outerHTML);
    } else {
      el.click();
    }
    for (const attr of el.attributes) {
      if (attr.name.startsWith("on") || attr.name === "style") bad.push(el.outerHTML);
    }
  }
  return bad;
}
"""
WATCH = "window.__dialogs = []; window.alert = window.confirm = window.prompt = " \
        "(m) => { window.__dialogs.push(String(m)); };"  # fmt: skip


def _run(site, *args):
    result = subprocess.run(
        [*site["manage"], *args], env=site["env"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def hostile_article(site, tmp_path_factory):
    probe = tmp_path_factory.mktemp("probe")
    accepted = []
    for number, payload in enumerate(PAYLOADS):
        try:
            source = read_article_file(write_article(probe / str(number), body=body_with(payload)))
        except ArticleFileError:
            continue
        if all(key in source.bibliography for key, _ in source.cited_keys()):
            accepted.append(payload)  # what the importer accepts (it also checks keys)
    body = body_with(accepted[0]) + "".join(
        f"\n## Payload {n}\n\n{payload}\n" for n, payload in enumerate(accepted[1:], 2)
    )
    path = write_article(tmp_path_factory.mktemp("hostile"), slug="hostile-corpus", body=body)
    # The real commands, in one process (each start of manage.py costs ~2 s).
    _run(
        site,
        "shell",
        "-c",
        "from django.core.management import call_command as c\n"
        # The corpus's images from other hosts would (rightly) block the approval at the
        # image-source gate; what is tested here is the renderer, so it is let through.
        "from editorial.services import gates\n"
        "gates._is_upload = lambda src: True\n"
        f"c('import_article', {str(path)!r}, user='author')\n"
        "for action, user in [('submit', 'author'), ('approve', 'reviewer'), "
        "('publish', 'publisher')]:\n"
        "    c('workflow', 'hostile-corpus', action, user=user)\n",
    )
    return {"url": f"{site['url']}/articles/hostile-corpus/", "payloads": len(accepted)}


@pytest.fixture
def naked_page(browser):
    """A page with the CSP switched off and every dialog recorded."""
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.add_init_script(WATCH)
    page.dialogs = dialogs
    yield page
    context.close()


def _assert_inert(page, root_selector):
    bad = page.eval_on_selector(root_selector, POKE)
    page.wait_for_timeout(300)  # onerror/onload of anything that loaded
    assert bad == []
    assert page.dialogs == []
    assert page.evaluate("window.__dialogs") == []
    assert page.evaluate("typeof window.__xss") == "undefined"


def test_published_hostile_corpus_runs_nothing(hostile_article, naked_page):
    assert hostile_article["payloads"] >= 100
    response = naked_page.goto(hostile_article["url"])

    assert response.status == 200
    assert naked_page.locator("h2", has_text="Payload 100").count() == 1
    _assert_inert(naked_page, "main")


def test_admin_live_preview_of_the_raw_corpus_runs_nothing(site, hostile_article, naked_page):
    page = naked_page
    page.goto(f"{site['url']}/admin/login/?next=/admin/articles/article/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/articles/article/")
    page.click("#result_list tbody tr th a >> text=/hostile|Test article/i")
    page.wait_for_selector("textarea.markdownx-editor")

    corpus = "\n\n".join(PAYLOADS) + "\n\nEnd of the corpus.\n"
    page.fill("textarea.markdownx-editor", corpus)
    page.locator(".markdownx-preview", has_text="End of the corpus").wait_for(timeout=15_000)

    _assert_inert(page, ".markdownx-preview")


def test_the_probe_catches_a_planted_payload(naked_page):
    naked_page.set_content(
        '<main><p onmouseover="alert(1)">x</p><a href=" javascript:alert(2)">y</a></main>'
    )

    naked_page.evaluate(WATCH)  # set_content is no navigation: the init script did not run
    bad = naked_page.eval_on_selector("main", POKE)

    assert len(bad) == 2
    assert "1" in naked_page.evaluate("window.__dialogs")
