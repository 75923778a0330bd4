"""The reader's language comes from the URL alone (issue 18).

English pages live at the root and Spanish ones under /es/ (`i18n_patterns` with
`prefix_default_language=False` in ptsdinfo/urls.py). Django's `LocaleMiddleware`
already ignores Accept-Language and the language cookie on unprefixed paths when the
default language is unprefixed, but still marks those responses
`Vary: Accept-Language`; since nothing here varies by that header, that would only
split every shared cache's copy of an English page by the browser's language list.
`PathLocaleMiddleware` leaves it out. The page cache (publicsite/caching.py) sits
after it and keys pages by path and active language.
"""

from django.middleware.locale import LocaleMiddleware


class PathLocaleMiddleware(LocaleMiddleware):
    def process_response(self, request, response):
        had_vary = response.has_header("Vary")
        vary_before = response.get("Vary", "")
        response = super().process_response(request, response)
        if had_vary:
            response["Vary"] = vary_before
        elif response.has_header("Vary"):
            del response["Vary"]
        return response
