import json

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

register = template.Library()


@register.filter
def ld_json(data) -> str:
    """A JSON-LD script block whose content can never close the script element."""
    payload = (
        json.dumps(data, ensure_ascii=False, sort_keys=True)
        .replace("<", "\\u003C")
        .replace(">", "\\u003E")
        .replace("&", "\\u0026")
    )
    return format_html('<script type="application/ld+json">{}</script>', mark_safe(payload))  # noqa: S308
