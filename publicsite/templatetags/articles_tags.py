import json

from django import template
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
