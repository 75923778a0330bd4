"""The whole editorial flow in a real browser: write and cite, preview, submit, the
author cannot approve, a reviewer grades and approves, a publisher publishes, and the
public page shows it."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot

PASSWORD = "ptsdinfo-demo"
NEW_DOI = "10.1073/pnas.1818871116"


def log_in(browser, site, username):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{site['url']}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r".*/admin/$"))
    return page


@pytest.mark.browser
def test_author_reviewer_publisher_flow(browser, site):
    url = site["url"]

    # The author adds a citation by DOI (fetched from the recorded Crossref server).
    author = log_in(browser, site, "author")
    author.goto(f"{url}/admin/articles/citation/add-from-source/")
    author.fill("#id_identifier", NEW_DOI)
    author.click("input[type=submit]")
    key = author.locator("code.cite-key").first.inner_text().strip("[@]")
    assert "Added" in author.content()

    # ...writes a new article with a claim citing it, and sees the live preview.
    author.goto(f"{url}/admin/articles/article/add/")
    author.fill("#id_title", "Brain receptors and suicidal thoughts")
    author.fill("#id_summary", "What one brain imaging study found.")
    author.check("#id_topics input[value=ptsd]")
    body = (
        "Researchers use brain scans to study suicidal thoughts.\n\n"
        "## What one study found\n\n"
        f"[One small imaging study linked a brain receptor to suicidal thoughts [@{key}]]"
        "{.claim #receptor-finding}\n"
    )
    author.fill("#id_body", body)
    author.locator(".markdownx-preview ol#references").wait_for(timeout=10_000)
    assert author.locator(".markdownx-preview a[href='#ref-1']").count() == 1
    author.click("input[value='Save draft']")
    author.wait_for_url(re.compile(r".*/change/$"))
    change_url = author.url
    assert "Saved." in author.content()

    # ...submits it, and is offered no approval.
    author.click("button[value=submit]")
    expect(author.locator("#state-title")).to_contain_text("In review")
    assert author.locator("button[value=approve]").count() == 0
    author.context.close()

    # The reviewer grades the claim, sees the gates clear, approves.
    reviewer = log_in(browser, site, "reviewer")
    reviewer.goto(change_url)
    assert "has no certainty grade" in reviewer.content()
    row = reviewer.locator("#claim-row-receptor-finding")
    row.locator("select[name=certainty]").select_option("low")
    row.locator("input[name=comment]").fill("One small case-control PET study.")
    row.locator("button").click()
    reviewer.wait_for_load_state()
    assert "has no certainty grade" not in reviewer.content()
    screenshot(reviewer, "admin-change-form")
    reviewer.fill("input[name=change_summary]", "First version.")
    reviewer.click("button[value=approve]")
    expect(reviewer.locator("#state-title")).to_contain_text("Approved")
    reviewer.goto(change_url.replace("/change/", "/diff/") + "?old=none&new=1")
    assert "receptor-finding" in reviewer.content()
    screenshot(reviewer, "admin-diff")
    reviewer.context.close()

    # The publisher publishes; the public page shows the approved version.
    publisher = log_in(browser, site, "publisher")
    publisher.goto(change_url)
    publisher.click("button[value=publish]")
    expect(publisher.locator("#state-title")).to_contain_text("Published")
    publisher.context.close()

    reader = browser.new_context().new_page()
    reader.goto(f"{url}/articles/brain-receptors-and-suicidal-thoughts/")
    claim = reader.locator("#claim-receptor-finding")
    assert claim.get_attribute("data-certainty") == "low"
    assert reader.locator("ol#references li").count() == 1
    assert "Dr Jordan Avery" in reader.content()
    screenshot(reader, "public-new-article")
    reader.context.close()


@pytest.mark.browser
def test_concurrent_edit_in_the_admin_shows_the_conflict_and_keeps_my_text(browser, site):
    first = log_in(browser, site, "admin")
    second = log_in(browser, site, "author")
    first.goto(f"{site['url']}/admin/articles/article/")
    first.click("text=What is PTSD?")
    change_url = first.url
    second.goto(change_url)

    body = first.input_value("#id_body")
    first.fill("#id_body", body.replace("## ", "## (edited by admin) ", 1))
    first.click("input[value='Save draft']")
    first.wait_for_selector("text=Saved.")  # the click returns before the next page loads

    mine = body + "\nMy own new paragraph, written at the same time.\n"
    second.fill("#id_body", mine)
    second.click("input[value='Save draft']")

    second.wait_for_selector("text=Someone else saved this article")
    assert "My own new paragraph" in second.input_value("#id_body")
    expect(second.locator(".conflict-current")).to_contain_text("(edited by admin)")
    screenshot(second, "admin-conflict")
    first.context.close()
    second.context.close()
