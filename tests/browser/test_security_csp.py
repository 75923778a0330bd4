"""The Content-Security-Policy in a real Chromium: public pages and the admin editor
(markdownx's script included) work under it with no violation reported."""

from tests.browser.conftest import screenshot

DEMO_PASSWORD = "ptsdinfo-demo"  # the documented local demo login

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


def _csp_errors(page) -> list[str]:
    return [e for e in page.console_errors if "Content Security Policy" in e or "Refused" in e]


def test_public_pages_have_a_strict_policy_and_no_violation(site, page):
    page.add_init_script(RECORD_VIOLATIONS)
    for path in ("/", "/articles/", "/articles/ketamine-for-ptsd/"):
        response = page.goto(f"{site['url']}{path}")
        assert response.status == 200, path
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe" not in policy
        assert "frame-ancestors 'none'" in policy
        assert page.evaluate("window.__csp") == [], path
    assert _csp_errors(page) == []


def test_admin_editor_live_preview_works_with_no_csp_violation(site, page):
    page.add_init_script(RECORD_VIOLATIONS)
    errors = []  # with where they came from: the admin declares no icon, so Chromium
    # asks for /favicon.ico and logs its 404, which is not a script error
    page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and not m.location.get("url", "").endswith("/favicon.ico")
            else None
        ),
    )
    page.goto(f"{site['url']}/admin/login/?next=/admin/articles/article/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/articles/article/")
    page.click("#result_list tbody tr th a")
    page.wait_for_selector("textarea.markdownx-editor")

    editor = page.locator("textarea.markdownx-editor")
    editor.click()
    editor.press("End")
    page.keyboard.type("\n\nA *fresh* sentence typed in the browser.")
    # A locator, not wait_for_function: that one evaluates a string, which this
    # very policy forbids ('unsafe-eval').
    page.locator(".markdownx-preview em", has_text="fresh").wait_for(timeout=10_000)

    screenshot(page, "admin-editor-under-csp")
    assert page.evaluate("window.__csp") == []
    assert _csp_errors(page) == []
    assert errors == []
