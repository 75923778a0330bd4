"""Hostile content: every payload of tests/data/hostile/payloads.txt is run through the
three ways text reaches a page (import as an article file, the admin's live preview,
the public page after the workflow publishes it) and the HTML must hold nothing that
runs: no script, no event handler, no javascript:/vbscript:/data: URL, no style.
Pathological inputs render within a fixed time or are refused by the size limits."""

import re
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.urls import reverse

from articles.articlefile import ArticleFileError
from articles.models import ArticleVersion
from articles.rendering import MAX_BODY_CHARS, MAX_MARKUP_CHARS, markdownify
from articles.roles import AUTHORS
from articles.services.snapshots import draft_snapshot
from articles.services.versions import snapshot_render
from editorial.services import gates, workflow
from tests.factories import import_article, make_user, write_article

CORPUS = Path(__file__).parents[1] / "data" / "hostile" / "payloads.txt"
# Elements that run code, load active content, submit or restyle the page.
FORBIDDEN_TAGS = {
    *("script", "style", "iframe", "frame", "frameset", "object", "embed", "applet"),
    *("base", "link", "meta", "form", "input", "button", "textarea", "select", "svg"),
    *("math", "template", "noscript", "xmp", "isindex", "bgsound", "marquee", "audio"),
    *("video", "source", "details", "body", "html", "head", "title"),
}
# On a whole page the template's own head, navigation and forms are expected; the
# article HTML inside it is checked on its own against FORBIDDEN_TAGS.
PAGE_FORBIDDEN_TAGS = {
    *("style", "iframe", "frame", "frameset", "object", "embed", "applet", "base"),
    *("template", "noscript", "xmp", "isindex", "bgsound", "marquee", "math"),
}
URL_ATTRIBUTES = {
    *("href", "src", "action", "formaction", "xlink:href", "background", "dynsrc"),
    *("lowsrc", "data", "poster", "srcset", "cite", "longdesc", "codebase", "ping"),
}
BAD_SCHEMES = ("javascript:", "vbscript:", "data:")
_IGNORED_IN_URLS = re.compile(r"[\x00-\x20\x7f-\x9f\u200b-\u200f\ufeff]")


def load_payloads() -> list[str]:
    return [p for p in CORPUS.read_text(encoding="utf-8").split("\n%%\n") if p.strip()]


PAYLOADS = load_payloads()


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.script_types: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))

    handle_startendtag = handle_starttag


def html_problems(html: str, *, page: bool = False) -> list[str]:
    """What in this HTML could run or restyle the page. `page=True` checks a whole page,
    where the template's own head elements and JSON-LD data block are expected."""
    parser = _Tags()
    parser.feed(html)
    parser.close()
    problems = []
    for tag, attrs in parser.tags:
        values = dict(attrs)
        if page and tag == "script":
            if values.get("type") != "application/ld+json" or "src" in values:
                problems.append(f"<script {attrs}>")
        elif tag in (PAGE_FORBIDDEN_TAGS if page else FORBIDDEN_TAGS):
            problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                problems.append(f"<{tag} {name}=...> event handler")
            elif name in {"style", "srcdoc", "formaction"}:
                problems.append(f"<{tag} {name}=...>")
            elif name in URL_ATTRIBUTES and value:
                url = _IGNORED_IN_URLS.sub("", value).lower()
                if url.startswith(BAD_SCHEMES):
                    problems.append(f"<{tag} {name}={value!r}>")
    if page and sum(1 for tag, _ in parser.tags if tag == "script") > 1:
        problems.append("more than the one JSON-LD script block")
    return problems


def body_with(payload: str) -> str:
    """An article body that is valid around the payload: a cited, graded lead claim."""
    return (
        "[A cited lead claim [@feder2014]]{.claim #lead-claim certainty=low}\n\n"
        f"## Payload\n\n{payload}\n"
    )


@pytest.fixture(autouse=True)
def _no_preview_rate_limit(settings):
    settings.PTSDINFO_MARKDOWNIFY_PER_MINUTE = 100_000  # this file sends hundreds


@pytest.fixture
def author(db):
    return make_user("alice", groups=[AUTHORS])


def test_corpus_has_at_least_100_distinct_payloads():
    assert len(PAYLOADS) >= 100
    assert len(set(PAYLOADS)) == len(PAYLOADS)


def test_the_checker_catches_what_it_must():
    """The checker itself would fail on each kind of unsafe output."""
    for unsafe in (
        "<script>alert(1)</script>",
        '<img src="x" onerror="alert(1)">',
        '<a href=" java\tscript:alert(1)">x</a>',
        '<a href="DATA:text/html,x">x</a>',
        '<p style="color:red">x</p>',
        "<style>p{}</style>",
    ):
        assert html_problems(unsafe), unsafe
    assert html_problems('<p><a href="https://example.org/">ok</a></p>') == []


@pytest.mark.parametrize("number", range(len(PAYLOADS)))
def test_payload_is_inert_in_preview_and_import(client, author, tmp_path, number):
    payload = PAYLOADS[number]
    client.force_login(author)

    preview = client.post(reverse("editor:markdownify"), {"content": payload})
    assert preview.status_code == 200
    assert html_problems(preview.content.decode()) == [], payload

    try:
        article = import_article(
            write_article(tmp_path, body=body_with(payload)), user=author
        ).article
    except ArticleFileError:
        return  # refused by the strict parser: nothing stored, nothing shown
    assert html_problems(snapshot_render(draft_snapshot(article), strict=False)) == [], payload
    draft = client.get(reverse("editor:preview", args=[article.pk]))
    assert draft.status_code == 200
    assert html_problems(draft.content.decode(), page=True) == [], payload


def test_corpus_published_through_the_workflow_is_inert(client, team, tmp_path, monkeypatch):
    """Every payload the importer accepts, in one article taken through submit, approve
    and publish: the stored version and the public page hold nothing that runs. (The
    corpus's images from other hosts are let through the image-source gate, which
    would rightly block the approval: what is tested here is the renderer.)"""
    monkeypatch.setattr(gates, "_is_upload", lambda src: True)
    accepted = []
    for number, payload in enumerate(PAYLOADS):
        try:
            import_article(
                write_article(
                    tmp_path / str(number), slug=f"probe-{number}", body=body_with(payload)
                )
            )
        except ArticleFileError:
            continue
        accepted.append(payload)
    assert len(accepted) >= 100  # most payloads are text to the parser, not errors
    body = body_with(accepted[0]) + "".join(
        f"\n## Payload {n}\n\n{payload}\n" for n, payload in enumerate(accepted[1:], 2)
    )
    article = import_article(
        write_article(tmp_path / "all", slug="hostile", body=body), user=team["author"]
    ).article
    workflow.article_submit(article=article, user=team["author"])
    workflow.article_approve(article=article, user=team["reviewer"])
    workflow.article_publish(article=article, user=team["publisher"])

    version = ArticleVersion.objects.get(article=article, published_at__isnull=False)
    assert html_problems(version.html) == []
    page = client.get(article.get_absolute_url())
    assert page.status_code == 200
    html = page.content.decode()
    assert "Payload 100" in html  # the whole corpus reached the page
    assert html_problems(html, page=True) == []


# --- pathological inputs ------------------------------------------------------------

TIME_BOUND = 5.0  # a guard against super-linear blow-ups, not a target; typical is < 0.3 s


def _pathological():
    budget = MAX_MARKUP_CHARS - 100  # just inside the markup limit
    rows = "\n".join("| a | b | c |" for _ in range(budget // 5))
    return {
        "deep brackets": "[" * budget + "x" + "]" * 50,
        "long bracket run": "[" * budget,
        "balanced deep nesting": "[" * (budget // 2) + "x" + "]" * (budget // 2),
        "link label nesting": "[a" * (budget // 3) + "](b)" * 20,
        "image run": "![" * (budget // 2),
        "deep blockquotes": "> " * budget + "x",
        "deep lists": "".join("  " * i + "- x\n" for i in range(200)),
        "emphasis runs": "*a" * (budget // 2) + "_b" * 10,
        "backtick runs": "`" * budget,
        "parenthesis destinations": "[x](" + "(" * (budget - 10) + ")",
        "attribute blocks": "[x]{" * (budget // 3),
        "citations": "[@a; " * (budget // 2),
        "huge table": "| a | b | c |\n|---|---|---|\n" + rows,
        "long plain text": "word " * (MAX_BODY_CHARS // 5 - 10),
    }


@pytest.mark.parametrize("name", list(_pathological()))
def test_pathological_input_renders_within_the_time_bound(name):
    text = _pathological()[name]

    started = time.perf_counter()
    html = markdownify(text)
    elapsed = time.perf_counter() - started

    assert elapsed < TIME_BOUND, f"{name}: {elapsed:.2f} s"
    assert "format-error" not in html or "at most" not in html  # rendered, not refused


@pytest.mark.parametrize(
    "text",
    [
        "[" * (MAX_MARKUP_CHARS + 1),
        "> " * (MAX_MARKUP_CHARS + 1),
        "| a |\n" * (MAX_MARKUP_CHARS // 2 + 1),
        "x" * (MAX_BODY_CHARS + 1),
    ],
    ids=["brackets", "blockquotes", "table", "length"],
)
def test_input_over_the_limits_is_refused_quickly(text):
    started = time.perf_counter()
    html = markdownify(text)

    assert time.perf_counter() - started < 2.0  # refusal happens before parsing
    assert 'class="format-error"' in html and "at most" in html


def test_oversized_preview_request_is_refused_not_rendered(client, author):
    client.force_login(author)

    response = client.post(reverse("editor:markdownify"), {"content": "x" * 3_000_000})

    assert response.status_code == 400  # DATA_UPLOAD_MAX_MEMORY_SIZE, before any rendering
