"""The public site in Spanish (issue 18): the interface, the URLs, the page cache per
language, hreflang alternates, the language switcher and crisis help per locale."""

import re
import shutil
from contextlib import chdir
from pathlib import Path

import pytest
from django.conf import settings
from django.conf.urls.i18n import is_language_prefix_patterns_used
from django.core.management import call_command

pytestmark = pytest.mark.django_db

# As in the Makefile's `messages` target.
MESSAGES_IGNORE = [
    ".venv/*",
    "node_modules/*",
    "tests/*",
    "static/*",
    "staticfiles/*",
    "docs/*",
    "scripts/*",
]
# As in the Makefile's `messages` target for the editor's JavaScript (static/js).
JS_MESSAGES_IGNORE = [pattern for pattern in MESSAGES_IGNORE if pattern != "static/*"] + [
    "static/css/*",
    "static/img/*",
]


def html_of(response) -> str:
    return response.content.decode()


def test_english_pages_keep_their_addresses_and_spanish_ones_live_under_es(client):
    english = client.get("/")
    spanish = client.get("/es/")

    assert english.status_code == spanish.status_code == 200
    assert '<html lang="en">' in html_of(english)
    assert '<html lang="es">' in html_of(spanish)
    assert english["Content-Language"] == "en"
    assert spanish["Content-Language"] == "es"
    assert "¿Necesita ayuda ahora?" in html_of(spanish)
    assert "Need help now?" in html_of(english)
    assert client.get("/en/").status_code == 404


def test_the_browsers_language_never_decides_the_language_of_a_page(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="es")
    spanish = client.get("/es/", HTTP_ACCEPT_LANGUAGE="en")

    assert '<html lang="en">' in html_of(response)
    assert response["Content-Language"] == "en"
    assert "Accept-Language" not in response.get("Vary", "")
    assert spanish["Content-Language"] == "es"
    assert "Accept-Language" not in spanish.get("Vary", "")


def test_the_url_layout_is_the_one_the_locale_middleware_is_written_for():
    # ptsdinfo.i18n reads the language from the path alone, as Django's LocaleMiddleware
    # does only when the default language is unprefixed.
    assert is_language_prefix_patterns_used(settings.ROOT_URLCONF) == (True, False)


def test_cached_pages_are_kept_per_language(client, monkeypatch):
    from publicsite import caching

    monkeypatch.setattr(caching, "_inside_transaction", lambda: False)
    assert client.get("/about/")["X-Cache"] == "miss"
    spanish = client.get("/es/about/")
    assert spanish["X-Cache"] == "miss"
    assert '<html lang="es">' in html_of(spanish)

    assert '<html lang="es">' in html_of(client.get("/es/about/"))
    assert '<html lang="en">' in html_of(client.get("/about/"))


def test_spanish_links_stay_in_spanish(client):
    html = html_of(client.get("/es/about/"))

    assert 'href="/es/articles/"' in html
    assert 'href="/es/editorial-policy/"' in html
    assert 'action="/es/search/"' in html


def test_pages_in_both_languages_name_each_other_and_the_switcher_keeps_the_page(client):
    html = html_of(client.get("/editorial-policy/"))

    assert '<link rel="alternate" hreflang="en" href="http://testserver/editorial-policy/">' in html
    assert (
        '<link rel="alternate" hreflang="es" href="http://testserver/es/editorial-policy/">' in html
    )
    assert '<a href="/es/editorial-policy/" lang="es" hreflang="es">Español</a>' in html
    spanish = html_of(client.get("/es/editorial-policy/"))
    assert '<a href="/editorial-policy/" lang="en" hreflang="en">English</a>' in spanish


def test_an_article_without_a_translation_offers_the_spanish_home(client, published_article):
    html = html_of(client.get("/articles/test-article/"))

    assert 'hreflang="es" href=' not in html.replace('<a href="/es/" lang="es" hreflang="es"', "")
    assert '<a href="/es/" lang="es" hreflang="es">Español</a>' in html


def test_crisis_help_is_per_language_from_settings(client, settings):
    spanish = html_of(client.get("/es/"))
    assert "marque 2 para hablar en español" in spanish
    assert 'envíe AYUDA al <a href="tel:988">988</a>' in spanish
    english = html_of(client.get("/"))
    assert 'Samaritans on <a href="tel:116123">116 123</a>' in english

    settings.PTSDINFO_CRISIS_HELP = {
        "en": [{"label": "Here:", "text": "call {tel:123|1 2 3} <now>"}],
    }
    html = html_of(client.get("/topics/"))
    assert '<strong>Here:</strong> call <a href="tel:123">1 2 3</a> &lt;now&gt;' in html


# --- the catalogue ------------------------------------------------------------------


def _entries(po_text: str) -> list[dict]:
    entries = []
    for block in po_text.split("\n\n")[1:]:
        fields, current = {}, None
        for line in block.splitlines():
            if line.startswith("#"):
                fields.setdefault("flags", []).append(line)
                continue
            name, _, rest = line.partition(" ")
            if line.startswith('"'):
                fields[current] += line[1:-1]
            else:
                current = name
                fields[name] = rest[1:-1]
        entries.append(fields)
    return entries


@pytest.mark.skipif(not shutil.which("xgettext"), reason="needs gettext (xgettext)")
@pytest.mark.parametrize(
    ("domain", "ignore", "at_least"),
    [("django", MESSAGES_IGNORE, 150), ("djangojs", JS_MESSAGES_IGNORE, 60)],
)
def test_every_marked_string_has_a_spanish_translation(
    tmp_path, settings, domain, ignore, at_least
):
    """`makemessages` run afresh (into a copy of the catalogue) finds no string that the
    Spanish catalogue leaves untranslated or fuzzy: marking a new string in a template,
    a view or the editor's JavaScript without translating it fails here."""
    # makemessages writes to the `locale` folder it finds in the tree it walks, whatever
    # LOCALE_PATHS says: it walks a scratch tree of links to the sources beside a copy of
    # the catalogue, so the real one is neither written nor read stale.
    base = Path(settings.BASE_DIR)
    tree = tmp_path / "tree"
    tree.mkdir()
    skipped = {"locale", *(pattern.removesuffix("/*") for pattern in ignore)}
    for entry in base.iterdir():
        if entry.name not in skipped and not entry.name.startswith("."):
            (tree / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    locale = tree / "locale"
    shutil.copytree(base / "locale", locale)
    settings.LOCALE_PATHS = [locale]
    with chdir(tree):
        call_command(
            "makemessages",
            locale=["es"],
            domain=domain,
            no_obsolete=True,
            symlinks=True,
            ignore_patterns=ignore,
            verbosity=0,
        )
    entries = _entries((locale / f"es/LC_MESSAGES/{domain}.po").read_text())

    assert len(entries) > at_least
    untranslated = [
        entry["msgid"]
        for entry in entries
        if any("fuzzy" in flag for flag in entry.get("flags", []) if flag.startswith("#,"))
        or not any(value for key, value in entry.items() if key.startswith("msgstr"))
    ]
    assert untranslated == []


# Visible text a reader sees: between tags, outside {% %} and {{ }}.
_TEXT_RE = re.compile(r">([^<>]*[A-Za-z][^<>]*)<")
_TAG_RE = re.compile(r"\{%.*?%\}|\{\{.*?\}\}|\{#.*?#\}", re.S)
_ATTRIBUTE_RE = re.compile(r'(?:aria-label|title|placeholder|alt)="([^"{]*[A-Za-z][^"{]*)"')
# Not words: the brand, and text a translation would not change.
_NOT_WORDS = {"ptsdinfo"}
PUBLIC_TEMPLATES = [
    *sorted((Path(__file__).resolve().parents[2] / "templates/articles").glob("*.html")),
    *sorted((Path(__file__).resolve().parents[2] / "templates/includes").glob("*.html")),
    Path(__file__).resolve().parents[2] / "templates/base.html",
    Path(__file__).resolve().parents[2] / "templates/404.html",
]


def _unmarked(source: str) -> list[str]:
    """The visible words of a template that are outside translate/blocktranslate."""
    source = re.sub(r"\{% comment %\}.*?\{% endcomment %\}", "", source, flags=re.S)
    source = re.sub(r"\{% blocktranslate.*?\{% endblocktranslate %\}", "", source, flags=re.S)
    stripped = _TAG_RE.sub("", source)
    found = [text.strip() for text in _TEXT_RE.findall(stripped)]
    found += _ATTRIBUTE_RE.findall(stripped)
    return [text for text in found if set(re.findall(r"\w+", text)) - _NOT_WORDS]


@pytest.mark.parametrize("template", PUBLIC_TEMPLATES, ids=lambda path: path.name)
def test_no_visible_text_in_a_public_template_is_left_unmarked(template):
    assert _unmarked(template.read_text()) == []


def test_the_unmarked_text_check_finds_unmarked_text():
    assert _unmarked('<p>Hello {% translate "there" %}</p><a aria-label="Go">x</a>') == [
        "Hello",
        "x",
        "Go",
    ]


def test_the_static_error_pages_say_the_essentials_in_both_languages():
    """500.html and 503.html cannot use the catalogue (they render when something has
    failed), so each says what happened, what to do and where help is in English and,
    marked lang="es", in Spanish."""
    from django.template.loader import render_to_string

    server_error = render_to_string("500.html")
    spanish = server_error[server_error.index('<section lang="es"') :]
    assert "Something went wrong on our side" in server_error
    assert "Lo sentimos: no pudimos mostrar esta página." in spanish
    assert '<a href="/es/" hreflang="es">página de inicio</a>' in spanish

    unavailable = render_to_string("503.html")
    spanish = unavailable[unavailable.index('<div lang="es">') :]
    assert "ptsdinfo is briefly unavailable" in unavailable
    assert "ptsdinfo no está disponible por un momento" in spanish
    assert "marque 2 para hablar en español" in spanish and "AYUDA" in spanish


def test_a_server_error_on_a_spanish_page_gives_spanish_crisis_help(client):
    from unittest import mock

    client.raise_request_exception = False
    with mock.patch("publicsite.views.selectors.published_articles", side_effect=RuntimeError):
        response = client.get("/es/articles/")

    assert response.status_code == 500
    assert "marque 2 para hablar en español" in html_of(response)
    assert "Lo sentimos: no pudimos mostrar esta página." in html_of(response)
