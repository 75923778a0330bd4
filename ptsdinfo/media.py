"""Editor uploads (`/media/...`) served by the app itself, for the single-container case.

On an app host the shipped nginx serves `/media/` straight from the media directory
(deploy/nginx.conf) and the app never sees those requests. A container run on its own
has no nginx, and WhiteNoise serves only the static files collected at build time, so
with `PTSDINFO_SERVE_MEDIA=true` (the Dockerfile's default) the app answers them:
uploads are images the editor has already validated and re-encoded, served with
`nosniff`, a week's caching and no directory listings. Off (404) otherwise.
"""

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.http import Http404
from django.views.decorators.http import require_safe
from django.views.static import serve


@require_safe
def media(request, path):
    if not settings.PTSDINFO_SERVE_MEDIA:
        raise Http404
    try:
        response = serve(request, path, document_root=settings.MEDIA_ROOT, show_indexes=False)
    except SuspiciousFileOperation as exc:  # a path leading outside the media root
        raise Http404 from exc
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "public, max-age=604800"
    return response
