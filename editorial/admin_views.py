"""Staff-only endpoints behind the admin editor: live preview, image upload and the
draft preview page. Anonymous and non-staff users get 404, so nothing leaks."""

import io
import re
import uuid

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models import Case, IntegerField, Q, TextField, Value, When
from django.db.models.functions import Cast
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils.html import escape
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django.views.i18n import JavaScriptCatalog
from PIL import Image, ImageOps, UnidentifiedImageError

from articles.models import Article, ArticleCitation, Citation
from articles.rendering import CITATION_KEY, ArticleFormatError, check_complexity, sanitize_html
from articles.rendering import markdownify as render_preview
from articles.services import library
from articles.services.snapshots import draft_snapshot
from articles.services.versions import snapshot_render
from evidence.citations import format_reference_text
from evidence.fetching import FetchError, classify_identifier
from publicsite.article_page import page_parts, page_structured_data

# Raster formats only: never SVG or HTML, whatever the upload claims to be.
UPLOAD_FORMATS = {"JPEG": ("jpg", "JPEG"), "PNG": ("png", "PNG"), "GIF": ("png", "PNG"),
                  "WEBP": ("png", "PNG")}  # fmt: skip
MAX_UPLOAD_PIXELS = 25_000_000
_CITED_KEY_RE = re.compile(rf"@({CITATION_KEY})")


def staff_only(view):
    """404 (not a login redirect) for anyone who is not active staff allowed to see
    articles (every editorial role is; a staff account without a role is not)."""

    def wrapped(request, *args, **kwargs):
        user = request.user
        if not (user.is_authenticated and user.is_active and user.is_staff):
            raise Http404
        if not user.has_perm("articles.view_article"):
            raise Http404
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


# The most distinct citation keys one preview looks up. A long review cites a few hundred
# sources; the bound keeps each lookup one small query (SQLite refuses more than a few
# thousand variables in one statement, PostgreSQL plans a huge IN list slowly).
MAX_PREVIEW_KEYS = 500


# The editor's own words (static/js/i18n.js) in the staff member's language, which
# accounts.language.StaffLanguageMiddleware has activated for /editor/.
javascript_catalogue = never_cache(staff_only(JavaScriptCatalog.as_view()))


def preview_keys(text: str) -> set[str]:
    """The distinct citation keys the text names, refused above MAX_PREVIEW_KEYS."""
    keys = set(_CITED_KEY_RE.findall(text))
    if len(keys) > MAX_PREVIEW_KEYS:
        raise ArticleFormatError(
            f"the text names {len(keys):,} different citation keys; at most "
            f"{MAX_PREVIEW_KEYS:,} are previewed"
        )
    return keys


def preview_bibliography(keys: set[str], article: Article | None) -> dict[str, dict]:
    """CSL items for the given keys (at most MAX_PREVIEW_KEYS): the article's own keys
    first, then the library's. Two queries, whatever the number of keys."""
    if len(keys) > MAX_PREVIEW_KEYS:
        raise ValueError("preview_bibliography: too many keys; call preview_keys first")
    items: dict[str, dict] = {}
    if not keys:
        return items
    if article is not None:
        for link in ArticleCitation.objects.filter(article=article, key__in=keys).select_related(
            "citation"
        ):
            items[link.key] = {**link.citation.csl, "id": link.key}
    missing = keys - set(items)
    if missing:
        for citation in Citation.objects.filter(key__in=missing).order_by("pk"):
            items.setdefault(citation.key, {**citation.csl, "id": citation.key})
    return items


@never_cache
@staff_only
@require_POST
def markdownify(request):
    """django-markdownx's preview endpoint, rendered by the project's one renderer.

    The size, markup and key-count limits are checked before any query: an oversized
    text gets the format notice and never reaches the database."""
    text = request.POST.get("content", "")
    try:
        check_complexity(text)
        keys = preview_keys(text)
    except ArticleFormatError as exc:
        notice = f'<p class="format-error">{escape(exc.message)}</p>\n'
        return HttpResponse(sanitize_html(notice))
    article = None
    article_id = request.GET.get("article", "")
    if article_id.isascii() and article_id.isdigit() and len(article_id) <= 18:
        article = Article.objects.filter(pk=int(article_id)).first()
    return HttpResponse(render_preview(text, preview_bibliography(keys, article)))


@never_cache
@staff_only
@require_POST
def upload(request):
    """Accept one raster image, verify it with Pillow and store a re-encoded copy.

    Bad uploads get 400 with a reason, never 500. The re-encoding drops metadata and
    anything smuggled after the image data.
    """
    if not request.user.has_perm("articles.change_article"):
        raise Http404  # only those who edit article text add images to it
    upload = request.FILES.get("image")
    if upload is None:
        return _upload_error(gettext("No image was sent."))
    if upload.size > settings.MARKDOWNX_UPLOAD_MAX_SIZE:
        limit = settings.MARKDOWNX_UPLOAD_MAX_SIZE // (1024 * 1024)
        return _upload_error(gettext("The image is larger than %(limit)s MB.") % {"limit": limit})
    data = upload.read()
    try:
        with Image.open(io.BytesIO(data)) as probe:
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in UPLOAD_FORMATS:
                return _upload_error(gettext("Only JPEG, PNG, GIF and WebP images are accepted."))
            if image.width * image.height > MAX_UPLOAD_PIXELS:
                return _upload_error(gettext("The image has too many pixels."))
            data, extension = image_reencode(image)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return _upload_error(gettext("The file is not a readable image."))
    name = default_storage.save(
        f"{settings.MARKDOWNX_MEDIA_PATH}{uuid.uuid4().hex}.{extension}", ContentFile(data)
    )
    return JsonResponse({"image_code": f"![]({default_storage.url(name)})"})


def image_reencode(image: Image.Image) -> tuple[bytes, str]:
    """The first frame's pixels, re-encoded with no metadata: (bytes, extension).

    Nothing of the upload but its pixels survives: no JPEG COM segment, no APPn segment
    (EXIF, XMP, ICC, Photoshop, ...), no PNG text, EXIF or ICC chunk, no GIF comment or
    extension, no WebP EXIF/XMP. The EXIF orientation is applied to the pixels first, so
    a photo stays upright. Pillow's JPEG writer falls back to the source's comment
    (`image.info["comment"]`) and `convert` copies `info`, so `info` is emptied before
    saving; the only header written is libjpeg's own JFIF APP0 (version and pixel
    density, no thumbnail). No ICC profile is re-embedded: colours are read as sRGB.
    """
    extension, encoder = UPLOAD_FORMATS[image.format]
    image.seek(0)
    upright = ImageOps.exif_transpose(image) or image
    frame = upright.convert("RGB" if encoder == "JPEG" else "RGBA")
    frame.info = {}
    output = io.BytesIO()
    frame.save(output, encoder, optimize=True)
    return output.getvalue(), extension


def _upload_error(message: str) -> JsonResponse:
    return JsonResponse({"image": [message]}, status=400)


@never_cache
@staff_only
def draft_preview(request, pk: int):
    """The draft rendered by the public template, clearly marked, never cached."""
    article = get_object_or_404(Article, pk=pk)
    snapshot = draft_snapshot(article)
    version = _PreviewVersion(snapshot, article)
    page = page_parts(slug=article.slug, version=version, history=[])
    response = render(
        request,
        "articles/article_detail.html",
        {
            "article": article,
            "version": version,
            "page": page,
            "is_preview": True,
            "structured_data": page_structured_data(request, article=article, page=page),
        },
    )
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


class _PreviewVersion:
    """What the public template needs from a version, built from the draft."""

    def __init__(self, snapshot: dict, article: Article):
        self.snapshot = snapshot
        self.title = snapshot["title"]
        self.summary = snapshot["summary"]
        self.html = snapshot_render(snapshot, strict=False)
        self.reviewer_name = self.reviewer_credentials = self.reviewer_coi = ""
        self.last_reviewed = self.next_review_due = self.published_at = None
        self.change_summary = ""
        self.content_hash = ""
        self.number = None


# --- cite while you write --------------------------------------------------------------

SEARCH_LIMIT = 12
SEARCH_MAX_CHARS = 200


def _citation_row(citation: Citation) -> dict:

    retracted = citation.retraction_status != Citation.Retraction.NONE
    return {
        "key": citation.key,
        "reference": format_reference_text({**citation.csl, "id": citation.key}),
        "year": citation.year,
        "retracted": citation.get_retraction_status_display() if retracted else "",
    }


def citation_search_queryset(query: str):
    """Library citations matching every word of `query` in the authors, title, year,
    journal, key, DOI or PMID; ranked (identifier or key match first, then title
    words, then the newest) and bounded by SEARCH_LIMIT. One query."""

    words = query.split()[:8]
    plain = query.strip().lower().removeprefix("https://doi.org/").removeprefix("doi:")
    qs = Citation.objects.annotate(meta=Cast("csl", TextField()))
    for word in words:
        qs = qs.filter(
            Q(title__icontains=word)
            | Q(meta__icontains=word)
            | Q(key__icontains=word)
            | Q(doi__icontains=word)
            | Q(pmid=word)
        )
    rank = Case(
        When(Q(doi__iexact=plain) | Q(pmid=plain) | Q(key__iexact=plain), then=Value(0)),
        When(title__istartswith=words[0] if words else "", then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    return qs.annotate(rank=rank).order_by("rank", "-year", "pk")[:SEARCH_LIMIT]


@never_cache
@staff_only
def citation_search(request):
    """JSON: the best library matches for ?q=, each with its formatted reference."""
    query = request.GET.get("q", "")[:SEARCH_MAX_CHARS].strip()
    if not query:
        return JsonResponse({"results": []})
    if not request.user.has_perm("articles.view_citation"):
        raise Http404
    rows = [_citation_row(c) for c in citation_search_queryset(query).defer("retraction_note")]
    return JsonResponse({"results": rows})


def _paste_template(kind: str, value: str) -> str:
    """A record with the identifier filled, for the author to complete by hand: RIS for
    a DOI, PubMed's format for a PMID."""
    if kind == "pmid":
        return f"PMID- {value}\nTI  - \nAU  - \nDP  - \nTA  - \n"
    return f"TY  - JOUR\nTI  - \nAU  - \nPY  - \nJO  - \nDO  - {value}\nER  - \n"


@never_cache
@staff_only
@require_POST
def citation_add(request):
    """Add a source from the editor's picker: a DOI or PMID (fetched), or pasted text.
    A work already in the library resolves to the existing citation."""

    if not request.user.has_perm("articles.add_citation"):
        raise Http404
    identifier = request.POST.get("identifier", "").strip()
    text = request.POST.get("text", "")
    if identifier:
        try:
            citation = library.citation_add_by_identifier(identifier=identifier, user=request.user)
        except library.DuplicateCitationError as exc:
            return JsonResponse(
                {
                    "message": gettext("Already in the library as %(key)s: using it.")
                    % {"key": exc.existing.key},
                    "citations": [_citation_row(exc.existing)],
                }
            )
        except FetchError as exc:
            kind, value = classify_identifier(identifier)
            return JsonResponse(
                {
                    "message": gettext(
                        "The details of %(identifier)s could not be fetched (%(error)s). "
                        "Paste the reference below instead: the identifier is filled in."
                    )
                    % {"identifier": value, "error": exc},
                    "fetch_failed": True,
                    "paste_template": _paste_template(kind, value),
                    "citations": [],
                }
            )
        except library.EXPECTED_ERRORS as exc:
            return JsonResponse({"message": str(exc), "citations": []}, status=400)
        return JsonResponse(
            {
                "message": gettext("Added %(key)s.") % {"key": citation.key},
                "citations": [_citation_row(citation)],
            }
        )
    if not text.strip():
        return JsonResponse(
            {"message": gettext("Enter a DOI or PMID, or paste a reference."), "citations": []},
            status=400,
        )
    try:
        result = library.citations_add_from_text(text=text, fmt="auto", user=request.user)
    except library.EXPECTED_ERRORS as exc:
        return JsonResponse({"message": str(exc), "citations": []}, status=400)
    rows, notes = [], []
    for item in result.items:
        if item.citation is not None:
            rows.append(_citation_row(item.citation))
        if item.outcome == "duplicate":
            notes.append(
                gettext("Already in the library as %(key)s: using it.") % {"key": item.citation.key}
            )
        elif item.outcome == "error":
            notes.append(item.message)
        else:
            notes.append(gettext("Added %(key)s.") % {"key": item.citation.key})
    return JsonResponse({"message": " ".join(notes), "citations": rows})


@never_cache
@staff_only
def citation_status(request):
    """JSON: which of the given keys (?keys=a,b; at most 200) name a retracted or
    flagged source, for the editor's live checks: the article's own keys (?article=)
    first, then the library's. At most two queries."""
    keys = {k for k in request.GET.get("keys", "").split(",") if k}
    keys = set(sorted(keys)[:200])
    flagged: dict[str, str] = {}
    article_id = request.GET.get("article", "")
    if article_id.isdigit():
        for link in (
            ArticleCitation.objects.filter(article_id=int(article_id), key__in=keys)
            .select_related("citation")
            .exclude(citation__retraction_status=Citation.Retraction.NONE)
        ):
            flagged[link.key] = link.citation.get_retraction_status_display()
    for citation in Citation.objects.filter(key__in=keys - set(flagged)).exclude(
        retraction_status=Citation.Retraction.NONE
    ):
        flagged.setdefault(citation.key, citation.get_retraction_status_display())
    return JsonResponse({"flagged": flagged})
