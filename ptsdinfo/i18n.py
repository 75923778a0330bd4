"""The reader's language comes from the URL alone (issue 18).

English pages live at the root and Spanish ones under /es/ (`i18n_patterns` with
`prefix_default_language=False` in ptsdinfo/urls.py). With that layout Django's
`LocaleMiddleware` already ignores Accept-Language and the language cookie: a prefixed
path is in its prefix's language, every other path in `LANGUAGE_CODE`, and no 404 is
redirected to a prefixed path. `path_locale_middleware` does exactly that and no more.
It leaves out two things `LocaleMiddleware` does on every request: reading the
Accept-Language header and the cookie only to discard them (a cost on every cached
page, publicsite/caching.py), and marking unprefixed responses
`Vary: Accept-Language`, which nothing here varies by and which would only split
every shared cache's copy of an English page by the browser's language list.

The page cache sits after it and keys pages by path and active language.
"""

from django.conf import settings
from django.utils import translation


def path_language(path: str) -> str:
    """The language of the page at `path`: its prefix's, else `LANGUAGE_CODE`."""
    return translation.get_language_from_path(path) or settings.LANGUAGE_CODE


def path_locale_middleware(get_response):
    def middleware(request):
        translation.activate(path_language(request.path_info))
        request.LANGUAGE_CODE = translation.get_language()
        response = get_response(request)
        # The language at the end of the request: a staff member's own admin language
        # (accounts/language.py) is activated by a later middleware.
        response.headers.setdefault("Content-Language", translation.get_language())
        return response

    return middleware
