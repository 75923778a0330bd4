"""The site's chrome (header, footer, crisis help) is rendered once per process with
`{% memo %}` (issue 16): what varies from page to page still varies, and nothing of
one page or language shows on another."""

import re

import pytest
from django.template import Context, Template, TemplateSyntaxError
from django.utils import translation as django_translation
from django.utils.autoreload import file_changed

from tests.publicsite import test_spanish_article

fluent = test_spanish_article.fluent
translation = test_spanish_article.translation
published = test_spanish_article.published

pytestmark = pytest.mark.django_db

CURRENT = re.compile(r'<a (?:class="brand" )?href="([^"]*)"[^>]*aria-current="page"')
SWITCH = re.compile(r'<nav class="language-switch"[^>]*>\s*<ul><li><a href="([^"]*)"')


def memo_template(name: str) -> Template:
    return Template(
        "{% load articles_tags %}{% memo '" + name + "' key %}{{ key }}:{{ other }}{% endmemo %}"
    )


def test_a_memo_block_renders_once_per_language_and_vary_on_value(settings):
    settings.DEBUG = False
    block = memo_template("per-key")

    assert block.render(Context({"key": 1, "other": "a"})) == "1:a"
    assert block.render(Context({"key": 1, "other": "b"})) == "1:a"  # kept, not re-rendered
    assert block.render(Context({"key": 2, "other": "b"})) == "2:b"
    with django_translation.override("es"):
        assert block.render(Context({"key": 1, "other": "c"})) == "1:c"


def test_a_memo_block_renders_every_time_under_debug(settings):
    settings.DEBUG = True
    block = memo_template("debug")

    assert block.render(Context({"key": 1, "other": "a"})) == "1:a"
    assert block.render(Context({"key": 1, "other": "b"})) == "1:b"


def test_a_changed_setting_forgets_the_memoized_blocks(settings):
    settings.DEBUG = False
    block = memo_template("setting")
    assert block.render(Context({"key": 1, "other": "a"})) == "1:a"

    settings.PTSDINFO_CRISIS_HELP = {"en": []}

    assert block.render(Context({"key": 1, "other": "b"})) == "1:b"


def test_an_edited_file_forgets_the_memoized_blocks(settings, tmp_path):
    settings.DEBUG = False
    block = memo_template("edited")
    assert block.render(Context({"key": 1, "other": "a"})) == "1:a"

    file_changed.send(sender=None, file_path=tmp_path / "base.html")

    assert block.render(Context({"key": 1, "other": "b"})) == "1:b"


def test_memo_takes_a_quoted_name():
    with pytest.raises(TemplateSyntaxError, match="quoted fragment name"):
        Template("{% load articles_tags %}{% memo header %}x{% endmemo %}")


def test_the_header_marks_the_page_it_is_on_whichever_page_came_before(client):
    pages = {
        "/": "/",
        "/articles/": "/articles/",
        "/topics/": "/topics/",
        "/about/": "/about/",
    }
    for _ in range(2):
        for url, current in pages.items():
            html = client.get(url).content.decode()
            assert CURRENT.findall(html) == [current], url
    assert CURRENT.findall(client.get("/search/?q=x").content.decode()) == []


def test_the_language_switch_leads_to_this_page_in_the_other_language(client, published):
    for _ in range(2):
        article = client.get("/articles/test-article/").content.decode()
        assert SWITCH.findall(article) == ["/es/articles/test-article/"]
        assert SWITCH.findall(client.get("/topics/").content.decode()) == ["/es/topics/"]
        spanish = client.get("/es/articles/test-article/").content.decode()
        assert SWITCH.findall(spanish) == ["/articles/test-article/"]
        assert 'lang="es"' in spanish.split("<main", 1)[0]


def test_each_language_gets_its_own_header_and_footer(client):
    english = client.get("/").content.decode()
    spanish = client.get("/es/").content.decode()
    again = client.get("/").content.decode()

    assert "Skip to main content" in english and "Skip to main content" in again
    assert "Skip to main content" not in spanish
    assert 'href="/es/articles/"' in spanish and 'href="/es/articles/"' not in again
