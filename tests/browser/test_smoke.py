from tests.browser.conftest import screenshot


def test_article_page_renders_in_chromium_without_errors(site, page):
    response = page.goto(f"{site['url']}/articles/ketamine-for-ptsd/")

    assert response.status == 200
    assert page.locator("ol#references li").count() >= 10
    assert page.locator(".claim[data-certainty]").count() >= 10
    screenshot(page, "article-phone")
    assert page.console_errors == []
