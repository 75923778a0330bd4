import functools
import json

from django import template
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

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
    shows, which `{% url %}` would reverse again on every request."""
    return _fixed_url(name, get_script_prefix(), get_urlconf())


@functools.lru_cache(maxsize=256)
def _fixed_url(name: str, prefix: str, urlconf) -> str:
    return reverse(name, urlconf=urlconf)


@receiver(setting_changed)
def _urls_changed(*, setting, **kwargs):
    if setting == "ROOT_URLCONF":
        _fixed_url.cache_clear()
