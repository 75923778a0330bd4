import functools
import json
import re

from django import template
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.autoreload import file_changed
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, override

register = template.Library()

MEMO_MAX_ENTRIES = 512
_memo: dict[tuple, str] = {}


def ld_json_text(data) -> str:
    """JSON for inside a script element: it can never close the element."""
    return (
        json.dumps(data, ensure_ascii=False, sort_keys=True)
        .replace("<", "\\u003C")
        .replace(">", "\\u003E")
        .replace("&", "\\u0026")
    )


def ld_json_script(payload: str) -> str:
    """The script element around JSON made by `ld_json_text`."""
    return format_html('<script type="application/ld+json">{}</script>', mark_safe(payload))  # noqa: S308


@register.filter
def ld_json(data) -> str:
    """A JSON-LD script block whose content can never close the script element."""
    return ld_json_script(ld_json_text(data))


@register.simple_tag
def fixed_url(name: str) -> str:
    """`{% url name %}` for a URL that takes no arguments, reversed once per process (per
    script prefix and URLconf): the header, footer and breadcrumb links every page
    shows, which `{% url %}` would reverse again on every request. Per language too:
    the Spanish pages' links carry /es/."""
    return _fixed_url(name, get_script_prefix(), get_urlconf(), get_language())


@functools.lru_cache(maxsize=256)
def _fixed_url(name: str, prefix: str, urlconf, language: str | None) -> str:
    return reverse(name, urlconf=urlconf)


@receiver(setting_changed)
def _urls_changed(*, setting, **kwargs):
    if setting == "ROOT_URLCONF":
        _fixed_url.cache_clear()


@register.simple_tag(takes_context=True)
def language_alternates(context) -> list[dict]:
    """This page in each language it exists in: [{code, name, url, current}], for the
    hreflang links and the language switcher. A view limits the list by setting
    `page_languages` (the article page: English plus its published translations);
    every other public page exists in every language."""
    request = context.get("request")
    match = getattr(request, "resolver_match", None)
    if request is None or match is None:
        return []
    available = context.get("page_languages")
    current = get_language()
    alternates = []
    for code, name in settings.LANGUAGES:
        if available is not None and code not in available:
            continue
        url = _path_in(code, match, request.path)
        alternates.append(
            {
                "code": code,
                "name": name,
                "url": url,
                "absolute_url": request.build_absolute_uri(url),
                "current": code == current,
            }
        )
    return alternates if len(alternates) > 1 else []


def _path_in(code: str, match, path: str) -> str:
    """`path` in the language `code`: Django's `translate_url`, without resolving the
    path again (the request's own match is reused; this runs on every public page)."""
    with override(code):
        try:
            return reverse(match.view_name, args=match.args, kwargs=match.kwargs)
        except NoReverseMatch:
            return path


@register.simple_tag
def home_url(code: str) -> str:
    """The home page in the language `code`."""
    with override(code):
        return reverse("home")


_TEL_RE = re.compile(r"\{tel:([0-9+]+)(?:\|([^}]*))?\}")


@register.simple_tag
def crisis_lines() -> list[dict]:
    """The crisis lines for the active language (`PTSDINFO_CRISIS_HELP`), each
    {"label", "text"}, with `{tel:116123|116 123}` (or `{tel:988}`) in the text made a
    telephone link."""
    help_lines = settings.PTSDINFO_CRISIS_HELP
    lines = help_lines.get(get_language()) or help_lines.get(settings.LANGUAGE_CODE, [])
    return [{"label": line["label"], "text": _tel_links(line["text"])} for line in lines]


def _tel_links(text: str) -> str:
    return mark_safe(  # noqa: S308 - the text is escaped first, the links by format_html
        _TEL_RE.sub(
            lambda m: format_html('<a href="tel:{}">{}</a>', m[1], m[2] or m[1]), escape(text)
        )
    )


@register.simple_tag
def site_languages() -> list[tuple[str, str]]:
    """`settings.LANGUAGES`: each language named in itself ("English", "Español"), as a
    language switcher should, not in the page's language."""
    return list(settings.LANGUAGES)


class MemoNode(template.Node):
    """`{% memo "name" vary_on... %}...{% endmemo %}`: the block is rendered once per
    process for each language, URL prefix and combination of the `vary_on` values, and
    the same HTML is reused after that. For the site's chrome (header, footer, crisis
    help), which every page repeats and which depends on nothing else: a block that shows
    anything of the request, the user or the content must not be memoized, or must name
    what it shows in `vary_on`. Off under DEBUG, so template edits show at once."""

    def __init__(self, name: str, vary_on: list, nodelist):
        self.name = name
        self.vary_on = vary_on
        self.nodelist = nodelist

    def render(self, context):
        if settings.DEBUG:
            return self.nodelist.render(context)
        key = (
            self.name,
            get_language(),
            get_script_prefix(),
            get_urlconf(),
            *(str(value.resolve(context)) for value in self.vary_on),
        )
        try:
            return _memo[key]
        except KeyError:
            pass
        output = self.nodelist.render(context)
        if len(_memo) >= MEMO_MAX_ENTRIES:  # a bound, not a working size: start again
            _memo.clear()
        _memo[key] = output
        return output


@register.tag
def memo(parser, token):
    bits = token.split_contents()
    if len(bits) < 2 or bits[1][0] not in "'\"" or bits[1][0] != bits[1][-1]:
        raise template.TemplateSyntaxError(
            f"'{bits[0]}' takes a quoted fragment name, then the values it varies on"
        )
    nodelist = parser.parse(("endmemo",))
    parser.delete_first_token()
    return MemoNode(bits[1][1:-1], [parser.compile_filter(bit) for bit in bits[2:]], nodelist)


@receiver(setting_changed)
@receiver(file_changed)
def _forget_memos(**kwargs):
    """Any setting may show in a memoized block (the crisis lines, the languages, the
    URLs): forget them all, as a changed setting is rare outside tests. The same when
    runserver sees a file change (a template edited), as Django's cached template
    loader does."""
    _memo.clear()
