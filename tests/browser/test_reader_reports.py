"""The "Report a problem" form (issue 17) in Chromium: reached and sent with the
keyboard only, accessible (axe-core) on a phone, and calm on the article page."""

import pytest

from tests.browser.test_public_pages import AXE, _require, axe_violations

ARTICLE = "/articles/ketamine-for-ptsd/"


def test_report_links_do_not_clutter_the_article_on_a_phone(site, page):
    page.set_viewport_size({"width": 390, "height": 900})
    page.goto(site["url"] + ARTICLE)
    # One visible page-level link; the per-claim links wait in a closed <details>.
    assert page.get_by_role("link", name="Report a problem with this page").is_visible()
    claim_links = page.locator(".report-links__claims li a[href*='?claim=']")
    assert claim_links.count() >= 3
    assert not claim_links.first.is_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390


def test_report_form_with_keyboard_only_and_axe(site, page):
    _require(AXE)
    page.set_viewport_size({"width": 390, "height": 900})
    page.goto(site["url"] + ARTICLE + "report/?claim=ptsd-definition")
    page.evaluate(AXE.read_text(encoding="utf-8"))
    assert axe_violations(page) == []
    assert page.locator("select[name=claim]").input_value() == "ptsd-definition"

    # Tab until the first radio button of "What is wrong" has the focus.
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.name") == "kind":
            break
    else:
        pytest.fail("the keyboard never reached the 'What is wrong' options")
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "description"
    page.keyboard.type("The definition misses the one-month rule.")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "email"
    page.keyboard.press("Tab")  # the honeypot is hidden and skipped
    assert page.evaluate("document.activeElement.type") == "submit"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_role("heading", name="Thank you").is_visible()
    page.evaluate(AXE.read_text(encoding="utf-8"))
    assert axe_violations(page) == []
