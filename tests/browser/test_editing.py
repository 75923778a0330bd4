"""Writing as a clinician-editor does: the toolbar, the citation picker, Mark as claim,
the unsaved-draft offer, keyboard-only use and axe-core on the editor and the picker.

The flow test counts every click and keystroke and never types a Markdown character;
the counts go in docs/editing.md. Screenshots for that guide go to docs/img/.
"""

import json
import re
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ROOT
from tests.browser.test_public_pages import AXE, _require

PASSWORD = "ptsdinfo-demo"
MARKUP = set("[]{}#@")
DOCS_IMG = ROOT / "docs" / "img"
COUNTS = ROOT / "tests" / "browser" / "artifacts" / "editing-counts.json"
UNIT_TESTS = Path(__file__).parent / "js" / "editor-toolbar.test.js"

RIS = """TY  - JOUR
AU  - Bisson, Jonathan I.
AU  - Olff, Miranda
TI  - Prevention and treatment of PTSD: the current evidence base
JO  - European Journal of Psychotraumatology
PY  - 2021
DO  - 10.1080/20008198.2020.1824381
ER  -
"""


class Recorder:
    """Clicks and keystrokes a person would make; typed text never holds Markdown."""

    def __init__(self, page):
        self.page, self.clicks, self.keys = page, 0, 0

    def click(self, selector):
        self.clicks += 1
        self.page.click(selector)

    def type(self, text):
        assert not MARKUP & set(text), text
        self.keys += len(text)
        self.page.keyboard.type(text)

    def press(self, key):
        self.keys += 1
        self.page.keyboard.press(key)


def log_in(browser, site, username):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.on(
        "console",
        lambda m: (
            page.errors.append(f"{m.text} {m.location.get('url')}")
            if m.type == "error" and "favicon" not in m.location.get("url", "")
            else None
        ),
    )
    page.goto(f"{site['url']}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r".*/admin/$"))
    return page


def shot(page, name, selector=None):
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    from PIL import Image

    target = page.locator(selector) if selector else page
    path = DOCS_IMG / f"{name}.png"
    target.screenshot(path=str(path), scale="css", type="png")
    with Image.open(path) as image:  # a 32-colour palette keeps the committed PNGs small
        small = image.convert("RGB").quantize(colors=32)
    small.save(path, optimize=True)


def axe_clean(page, selector):
    """axe-core finds nothing inside `selector` (the parts this project builds; the
    admin's own chrome around them is Django's)."""
    _require(AXE)
    page.evaluate(AXE.read_text(encoding="utf-8"))
    found = page.evaluate(
        """async (selector) => {
            const r = await axe.run(document.querySelector(selector),
                                    {resultTypes: ["violations"]});
            return r.violations.map(v => ({
                id: v.id, nodes: v.nodes.slice(0, 3).map(n => n.target.join(" ")),
            }));
        }""",
        selector,
    )
    assert found == [], found


def body(page):
    return page.input_value("#id_body")


@pytest.mark.browser
def test_toolbar_module_unit_tests_pass_in_chromium(browser, site):
    page = log_in(browser, site, "author")
    page.goto(f"{site['url']}/admin/articles/article/add/")
    failures = page.evaluate(f"async () => {{ {UNIT_TESTS.read_text()} }}")
    assert not failures, "\n".join(failures)
    page.context.close()


@pytest.mark.browser
def test_clinician_writes_two_sections_three_cited_claims_and_submits(browser, site):
    """...and the rest of the cycle: graded claim by claim in the preview, sent back,
    fixed and resubmitted, approved, published."""
    url = site["url"]
    page = log_in(browser, site, "author")
    r = Recorder(page)
    page.goto(f"{url}/admin/articles/article/add/")
    page.locator(".editor-toolbar").wait_for()
    assert body(page).count("## ") == 4  # the starter outline
    shot(page, "editor-new-article", "#content-main")
    axe_clean(page, "#content-main")

    r.click("#id_title")
    r.type("Ketamine and PTSD")
    assert page.input_value("#id_slug") == "ketamine-and-ptsd"  # follows the title
    r.click("#id_summary")
    r.type("What the trials of ketamine for PTSD found.")
    r.click("#id_topics input[value=ptsd]")

    # The author replaces the starter outline with two sections of their own.
    r.click("#id_body")
    r.press("Control+A")
    r.press("Delete")

    def section(title):
        r.click("button[data-action=heading]")
        r.type(title)
        r.press("Enter")

    def claim(sentence, search):
        r.type(sentence)
        r.click("button[data-action=claim]")
        try:
            page.locator("#tb-dialog-title").wait_for(timeout=5000)
        except Exception:
            raise AssertionError((page.locator(".tb-status").inner_text(), body(page), page.errors))
        r.press("Enter")  # accept the suggested claim name
        page.locator("#cite-search").wait_for()
        r.type(search)
        page.locator("#cite-results [role=option]").first.wait_for()
        r.press("Enter")  # the best match
        r.click(".cite-picker .tb-actions .default")
        page.locator(".cite-picker").wait_for(state="detached")

    section("What the research shows")
    claim("One infusion of ketamine eased PTSD symptoms for a day.", "feder 2014")
    r.press("Space")
    claim("Repeated infusions helped more than midazolam.", "feder 2021")
    r.press("Enter")
    r.press("Enter")
    section("Safety")
    r.click("#id_body")
    r.press("Control+End")
    claim("Ketamine can cause dissociation during the infusion.", "abdallah")

    text = body(page)
    assert text.count("{.claim #") == 3
    assert "[@feder2014]]{.claim #one-infusion-of-ketamine-eased-ptsd" in text
    assert "## Safety {#safety}" in text
    page.locator(".markdownx-preview .claim").nth(2).wait_for()
    shot(page, "editor-three-claims", ".markdownx")

    r.click("input[value='Save draft']")
    page.wait_for_url(re.compile(r".*/change/$"))
    change_url = page.url
    assert "Saved." in page.content()
    r.click("button[value=submit]")
    expect(page.locator("#state-title")).to_contain_text("In review")
    assert page.errors == []
    page.context.close()

    # The reviewer's page: the state, checks, claims table and live preview pass axe.
    reviewer = log_in(browser, site, "reviewer")
    reviewer.goto(change_url)
    reviewer.locator(".markdownx-preview .claim .grade-button").nth(2).wait_for()
    axe_clean(reviewer, "#content-main")
    # ...grades the first claim on the claim itself, in the preview.
    reviewer.locator(".markdownx-preview .grade-button").first.click()
    reviewer.select_option(".tb-dialog select[name=certainty]", "low")
    reviewer.fill(".tb-dialog textarea[name=comment]", "One small crossover trial.")
    reviewer.click(".tb-dialog button[type=submit]")
    reviewer.wait_for_load_state()
    message = reviewer.locator(".messagelist").inner_text()
    assert "2 claims still to grade" in message, message
    row = reviewer.locator("#claim-row-one-infusion-of-ketamine-eased-ptsd")
    assert "Low" in row.inner_text() and "One small crossover trial." in row.inner_text()
    shot(reviewer, "review-claims", ".claims-table")
    # ...and sends it back: the page says who holds it now.
    reviewer.fill("form:has(button[value=request_changes]) textarea[name=comment]", "Add dosing.")
    reviewer.click("button[value=request_changes]")
    reviewer.wait_for_selector("#state-title:has-text('Changes requested')")
    message = reviewer.locator(".messagelist").inner_text()
    assert "Sent back to Dr Casey Lin" in message, message
    assert reviewer.errors == []
    reviewer.context.close()

    # The author fixes it (a sentence outside the claims) and resubmits.
    author = log_in(browser, site, "author")
    author.goto(change_url)
    if author.locator("button[value=revise]").count():
        author.click("button[value=revise]")
    author.click("#id_body")
    author.keyboard.press("Control+End")
    author.keyboard.type(" The usual dose is 0.5 mg per kg of body weight.")
    author.click("input[value='Save draft']")
    author.wait_for_url(re.compile(r".*/change/$"))
    author.click("button[value=submit]")
    expect(author.locator("#state-title")).to_contain_text("In review")
    author.context.close()

    # The reviewer grades every claim still ungraded on the claim itself and approves.
    reviewer = log_in(browser, site, "reviewer")
    reviewer.goto(change_url)
    for _ in range(3):
        reviewer.locator(".markdownx-preview .grade-button").nth(2).wait_for()
        reviewer.wait_for_function(  # the live checks have given every claim its state
            "() => document.querySelectorAll('.markdownx-preview .claim[data-state]').length === 3"
        )
        ungraded = reviewer.locator(".markdownx-preview .claim[data-state=ungraded] .grade-button")
        if not ungraded.count():
            break
        ungraded.first.click()
        reviewer.select_option(".tb-dialog select[name=certainty]", "moderate")
        reviewer.click(".tb-dialog button[type=submit]")
        reviewer.wait_for_load_state()
    expect(reviewer.locator(".messagelist")).to_contain_text("Every claim is graded")
    reviewer.fill("input[name=change_summary]", "First version.")
    reviewer.click("button[value=approve]")
    expect(reviewer.locator("#state-title")).to_contain_text("Approved")
    expect(reviewer.locator(".messagelist")).to_contain_text("waits for a Publisher")
    reviewer.context.close()

    publisher = log_in(browser, site, "publisher")
    publisher.goto(change_url)
    publisher.click("button[value=publish]")
    expect(publisher.locator("#state-title")).to_contain_text("Published")
    publisher.goto(f"{url}/articles/ketamine-and-ptsd/")
    assert "One infusion of ketamine eased PTSD symptoms" in publisher.content()
    publisher.context.close()

    counts = {"toolbar": {"clicks": r.clicks, "keystrokes": r.keys}}
    # The same article in the plain textarea: every character of the same fields typed,
    # the body included, plus one click per field and the two buttons.
    typed = "Ketamine and PTSD" + "What the trials of ketamine for PTSD found." + text
    counts["plain"] = {
        "clicks": 6,
        "keystrokes": len(typed) + 2,
        "markup_characters": sum(c in MARKUP for c in typed),
    }
    COUNTS.parent.mkdir(parents=True, exist_ok=True)
    COUNTS.write_text(json.dumps(counts, indent=1))
    print(counts)


@pytest.mark.browser
def test_toolbar_works_from_the_keyboard_alone(browser, site):
    page = log_in(browser, site, "author")
    page.goto(f"{site['url']}/admin/articles/article/add/")
    page.locator(".editor-toolbar").wait_for()
    page.fill("#id_body", "")
    page.focus("#id_body")
    page.keyboard.type("Trauma therapy helps most adults.")
    # Shortcut from the text: Alt+Shift+M marks the sentence at the cursor.
    page.keyboard.press("Alt+Shift+M")
    page.keyboard.press("Enter")
    page.locator("#cite-search").wait_for()
    page.keyboard.press("Escape")  # no sources now: the claim is marked without one
    assert (
        body(page)
        == "[Trauma therapy helps most adults.]{.claim #trauma-therapy-helps-most-adults}"
    )
    page.locator(".live-check-error", has_text="has no source yet").wait_for()
    # Alt+Shift+U at the cursor removes the claim again.
    page.keyboard.press("Alt+Shift+U")
    assert body(page) == "Trauma therapy helps most adults."
    # Tab into the toolbar: one stop, arrows move, Enter presses.
    page.focus("#id_review_interval_months")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.dataset.action")
    assert focused == "heading"
    page.keyboard.press("End")
    assert page.evaluate("document.activeElement.dataset.action") == "unclaim"
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    assert page.evaluate("document.activeElement.dataset.action") == "cite"
    page.keyboard.press("Enter")
    page.locator("#cite-search").wait_for()
    page.keyboard.type("ketamine")
    page.locator("#cite-results [role=option]").first.wait_for()
    page.keyboard.press("ArrowDown")
    active = page.get_attribute("#cite-search", "aria-activedescendant")
    assert active == "cite-option-1"
    axe_clean(page, ".cite-picker")
    shot(page, "cite-picker", ".cite-picker")
    page.keyboard.press("Enter")
    page.locator(".cite-picker").wait_for(state="detached")
    assert re.search(r"\[@\w+\]", body(page))
    # Tab leaves the text box, unchanged: the keyboard reaches what follows it.
    page.focus("#id_body")
    before = body(page)
    page.keyboard.press("Control+Home")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") != "id_body"
    assert body(page) == before
    page.focus("#id_body")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.id") != "id_body"
    assert body(page) == before
    assert page.errors == []
    page.context.close()


@pytest.mark.browser
def test_a_page_typed_after_choosing_a_source_is_kept(browser, site):
    page = log_in(browser, site, "author")
    page.goto(f"{site['url']}/admin/articles/article/add/")
    page.locator(".editor-toolbar").wait_for()
    page.fill("#id_body", "")
    page.focus("#id_body")

    def claim_with_a_page(sentence, field, page_typed):
        page.keyboard.type(sentence)
        page.click("button[data-action=claim]")
        page.locator("#tb-dialog-title").wait_for()
        page.keyboard.press("Enter")
        page.locator("#cite-search").wait_for()
        page.keyboard.type("feder 2014")
        page.locator("#cite-results [role=option]").first.wait_for()
        page.locator("#cite-results [role=option]").first.click()
        page.fill(field, page_typed)  # typed after choosing
        page.click(".cite-picker .tb-actions .default")
        page.locator(".cite-picker").wait_for(state="detached")

    claim_with_a_page("Some medicines help with nightmares.", "#cite-locator", "Table 2")
    assert re.search(r"\[@\w+, Table 2\]", body(page)), body(page)
    # A chosen source's own field sets its page too.
    page.keyboard.press("Control+End")
    claim_with_a_page(" Another claim here.", ".cite-picked-locator", "p. 5")
    assert re.search(r"\[@\w+, p\. 5\]", body(page)), body(page)
    assert page.errors == []
    page.context.close()


@pytest.mark.browser
def test_mark_as_claim_refuses_a_selection_across_paragraphs(browser, site):
    page = log_in(browser, site, "author")
    page.goto(f"{site['url']}/admin/articles/article/add/")
    page.locator(".editor-toolbar").wait_for()
    page.fill("#id_body", "First paragraph.\n\nSecond paragraph.")
    page.evaluate("document.querySelector('#id_body').setSelectionRange(0, 25)")
    page.click("button[data-action=claim]")
    page.locator(".tb-status", has_text="more than one paragraph").wait_for(timeout=3000)
    assert body(page) == "First paragraph.\n\nSecond paragraph."
    page.context.close()


@pytest.mark.browser
def test_a_pasted_ris_record_is_added_and_cited(browser, site):
    page = log_in(browser, site, "author")
    page.goto(f"{site['url']}/admin/articles/article/add/")
    page.locator(".editor-toolbar").wait_for()
    page.fill("#id_body", "Early help prevents PTSD.")
    page.focus("#id_body")
    page.keyboard.press("Control+End")
    page.click("button[data-action=cite]")
    page.click(".cite-add summary")
    page.fill("#cite-paste", RIS)
    page.click(".cite-add button")
    page.locator(".cite-picker").wait_for(state="detached")
    assert re.fullmatch(r"Early help prevents PTSD\. \[@bisson2021\w*\]", body(page))
    # Pasting it again resolves to the same citation, not a second one.
    page.click("button[data-action=cite]")
    page.click(".cite-add summary")
    page.fill("#cite-paste", RIS)
    page.click(".cite-add button")
    page.locator(".cite-picker").wait_for(state="detached")
    assert body(page).count("@bisson2021") == 1  # added to the same group once
    page.context.close()


@pytest.mark.browser
def test_unsaved_text_is_offered_back_after_the_tab_closes(browser, site):
    page = log_in(browser, site, "author")
    page.goto(f"{site['url']}/admin/articles/article/add/")
    page.locator(".editor-toolbar").wait_for()
    page.fill("#id_body", "Text I had not saved.")
    page.dispatch_event("#id_body", "input")
    page.wait_for_timeout(800)
    page.goto(f"{site['url']}/admin/articles/article/add/")  # the tab was closed
    page.click("text=Restore my unsaved text")
    assert body(page) == "Text I had not saved."
    page.context.close()


@pytest.mark.browser
def test_image_button_uploads_and_writes_the_description_as_alt_text(browser, site, tmp_path):
    from PIL import Image

    png = tmp_path / "scan.png"
    Image.new("RGB", (40, 30), "#336699").save(png)
    page = log_in(browser, site, "author")
    page.goto(f"{site['url']}/admin/articles/article/add/")
    page.locator(".editor-toolbar").wait_for()
    page.fill("#id_body", "")
    page.click("button[data-action=image]")
    page.fill(".tb-dialog input[name=description]", "A brain scan with two bright areas")
    page.set_input_files(".tb-dialog input[type=file]", str(png))
    page.click(".tb-dialog button[type=submit]")
    page.locator(".tb-status", has_text="Image added").wait_for()
    assert re.fullmatch(
        r"!\[A brain scan with two bright areas\]\(/media/uploads/[0-9a-f]{32}\.png\)",
        body(page),
    ), body(page)
    assert page.errors == []
    page.context.close()


@pytest.mark.browser
def test_a_failed_doi_lookup_offers_the_paste_route_with_the_doi_filled(browser, site):
    page = log_in(browser, site, "author")
    page.goto(f"{site['url']}/admin/articles/article/add/")
    page.locator(".editor-toolbar").wait_for()
    page.click("button[data-action=cite]")
    page.click(".cite-add summary")
    page.fill("#cite-identifier", "10.9999/not-recorded.1")
    page.click(".cite-add button")
    page.locator(".cite-add-message", has_text="could not be fetched").wait_for()
    assert "DO  - 10.9999/not-recorded.1" in page.input_value("#cite-paste")
    assert page.evaluate("document.activeElement.id") == "cite-paste"
    page.context.close()


SEND_BACK_AND_EDIT_A_CLAIM = """
from django.contrib.auth import get_user_model
from articles.models import Article
from editorial.services import workflow
from articles.services.drafts import article_save_text, draft_body_text

users = {u.username: u for u in get_user_model().objects.all()}
article = Article.objects.get(slug="ptsd-treatments")
workflow.ACTIONS["submit"](article=article, user=users["author"], comment="Yearly review.")
workflow.ACTIONS["request_changes"](
    article=article, user=users["reviewer"], comment="Say when the guideline applies."
)
workflow.ACTIONS["revise"](article=article, user=users["author"], comment="")
article.refresh_from_db()
claim = article.claims.order_by("position").first()
body = draft_body_text(article)
start = "[" + claim.statement[:30]
assert start in body, start
article_save_text(
    slug=article.slug, title=article.title, summary=article.summary,
    topics=list(article.topics.values_list("slug", flat=True)), audience=article.audience,
    review_interval_months=article.review_interval_months,
    body=body.replace(start, "[In short: " + claim.statement[:30], 1),
    user=users["author"], expected_lock_version=article.lock_version,
)
article.refresh_from_db()
workflow.ACTIONS["submit"](article=article, user=users["author"], comment="Done.")
print(article.pk, claim.key)
"""


@pytest.mark.browser
def test_reviewer_sees_the_changes_since_sending_it_back_in_the_preview(browser, site):
    """A claim the author changed after a request for changes is marked in the live
    preview, and the changed words are shown inline (issue 13, item 6)."""
    done = subprocess.run(
        [*site["manage"], "shell", "-c", SEND_BACK_AND_EDIT_A_CLAIM],
        env=site["env"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    pk, key = done.stdout.split()[-2:]
    reviewer = log_in(browser, site, "reviewer")
    reviewer.goto(f"{site['url']}/admin/articles/article/{pk}/change/")

    changed = reviewer.locator(f".markdownx-preview .claim-changed#claim-{key}")
    expect(changed).to_be_visible()
    expect(reviewer.locator(".markdownx-preview .changed-badge")).to_have_count(1)
    expect(reviewer.locator(".since-review-panel ins")).to_contain_text("In short:")
    axe_clean(reviewer, "#content-main")
    shot(reviewer, "review-changes-since", ".since-review-panel")
    assert reviewer.errors == []
    reviewer.context.close()


def choose_admin_language(page, site, language):
    page.goto(f"{site['url']}/admin/language/")
    page.check(f"input[name=language][value={language}]")
    page.click("#content-main [type=submit]")
    page.wait_for_url(re.compile(r".*/admin/$"))


@pytest.mark.browser
def test_the_editor_speaks_the_staff_members_language(browser, site):
    """The toolbar, the live checks and the toolbar's refusals come from the JavaScript
    catalogue in the language the author chose; English again once they switch back."""
    page = log_in(browser, site, "author")
    try:
        choose_admin_language(page, site, "es")
        page.goto(f"{site['url']}/admin/articles/article/add/")
        page.locator(".editor-toolbar").wait_for()

        toolbar = page.locator(".editor-toolbar")
        assert toolbar.get_attribute("aria-label") == "Formato y citas"
        expect(toolbar.get_by_role("button", name="Citar", exact=True)).to_be_visible()
        expect(toolbar.get_by_role("button", name="Marcar como afirmación")).to_be_visible()
        expect(page.locator("#live-checks-title")).to_have_text("Revisión mientras escribe")
        refusal = page.evaluate(
            """async () => (await import("/static/js/editor-toolbar.js"))
                .claimSelectionProblem("", 0, 0)"""
        )
        assert refusal == "Primero seleccione la oración que quiere marcar como afirmación."
        axe_clean(page, "#content-main")
        assert page.errors == []
    finally:
        choose_admin_language(page, site, "en")
    page.goto(f"{site['url']}/admin/articles/article/add/")
    expect(
        page.locator(".editor-toolbar").get_by_role("button", name="Cite", exact=True)
    ).to_be_visible()
    page.context.close()
