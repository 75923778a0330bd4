"""The evidence watch in a real browser: `watch_evidence` runs against the recorded
E-utilities server, the dashboard and the review page show what it found, axe-core
finds nothing in the panel, and an editor dismisses a work with the keyboard only.

Only dismisses (no re-review), so the demo article's state stays as other browser
tests expect it."""

import re
import subprocess

import pytest

from tests.browser.conftest import ROOT, screenshot
from tests.browser.test_admin_flow import log_in
from tests.browser.test_editing import axe_clean


@pytest.mark.browser
def test_editor_sees_new_evidence_and_dismisses_one_with_the_keyboard(browser, site):
    watch = subprocess.run(
        [*site["manage"], "watch_evidence", "--article", "ketamine-for-ptsd",
         "--since", "2026-01-01"],
        env=site["env"], cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert watch.returncode == 1, watch.stderr  # new systematic reviews and trials
    assert "6 new work(s), 4 to look at" in watch.stdout

    page = log_in(browser, site, "author")
    assert "New evidence since last review (6)" in page.content()
    page.locator("#work-queue a[href$='#new-evidence']").first.click()
    page.wait_for_url(re.compile(r".*/change/#new-evidence$"))
    panel = page.locator("#new-evidence")
    assert "New evidence since last review (6)" in panel.inner_text()
    axe_clean(page, "#new-evidence")
    screenshot(page, "admin-new-evidence")

    first = panel.locator(".found-item").first
    title = first.locator("a").first.inner_text()
    reason = first.locator("input[name=reason]")
    reason.focus()
    page.keyboard.type("Adults only; this page already covers it.")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/change/#new-evidence$"))
    assert "dismissed" in page.locator(".messagelist").inner_text()
    assert "New evidence since last review (5)" in page.locator("#new-evidence").inner_text()
    assert title not in page.locator("#new-evidence").inner_text()
    page.context.close()
