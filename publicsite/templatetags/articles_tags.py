import functools
import json
import re

from django import template
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, override

register = template.Library()


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
