"""Issue 11, items 4 to 9: the reproductions, as tests.

4. the Atom feed declares its text as plain text, so no feed reader renders markup from it;
5. staff without a role get the same 404 for every article id on every admin endpoint;
6. the live preview refuses oversized input before it touches the database;
7. admin filters and forms answer bad input with a message, never a 500;
8. the sign-in lockout counts the address a trusted proxy saw, or else the peer's address;
9. re-encoded uploads keep no metadata segment.
"""

import xml.etree.ElementTree as ET

import pytest
from django.urls import reverse

from articles.models import ArticleVersion
from articles.roles import AUTHORS
from tests.factories import import_article, make_user, publish, write_article

pytestmark = pytest.mark.django_db

ATOM = "{http://www.w3.org/2005/Atom}"


# --- 4. the Atom feed --------------------------------------------------------------------

HOSTILE_TITLE = "<b>Bold</b> & <script>alert(1)</script> Tom &amp; Jerry"
HOSTILE_SUMMARY = "Summary with <b>markup</b> & <img src=x onerror=alert(1)>"
HOSTILE_REVIEWER = "Dr <i>Eve</i> & Co"


def _yaml(text):
    return "'" + text.replace("'", "''") + "'"


def test_feed_text_reaches_a_feed_reader_as_the_literal_text(client, tmp_path):
    path = write_article(tmp_path / "a", slug="feed-a", title=_yaml(HOSTILE_TITLE))
    text = path.read_text().replace(
        "summary: What the research says, in brief.", f"summary: {_yaml(HOSTILE_SUMMARY)}"
    )
    path.write_text(text)
    article = import_article(path).article
    reviewer = make_user("evil-reviewer", display_name=HOSTILE_REVIEWER, credentials="<u>MD</u>")
    publish(article, reviewer=reviewer)
    assert ArticleVersion.objects.get(article=article).title == HOSTILE_TITLE

    response = client.get("/feed/")
    root = ET.fromstring(response.content)
    (entry,) = root.findall(f"{ATOM}entry")

    title = entry.find(f"{ATOM}title")
    summary = entry.find(f"{ATOM}summary")
    # A feed reader decodes the XML once and, for type="text" (the default), shows the
    # result as text: it must be exactly what the author typed, markup characters and all.
    assert title.get("type", "text") == "text"
    assert title.text == HOSTILE_TITLE
    assert summary.get("type") == "text"
    assert summary.text.startswith(HOSTILE_SUMMARY)
    assert f"Medically reviewed by {HOSTILE_REVIEWER}, <u>MD</u>." in summary.text
    # No element anywhere in the feed is declared to carry HTML or XHTML.
    declared = [el.tag for el in root.iter() if el.get("type") in ("html", "xhtml")]
    assert declared == []


# --- 5. staff without a role --------------------------------------------------------------

MISSING_PK = 987_654


def _article_id_endpoints(pk):
    """Every admin URL that takes an article id, with the method it answers to."""
    return [
        ("get", reverse("admin:articles_article_change", args=[pk])),
        ("post", reverse("admin:articles_article_change", args=[pk])),
        ("get", reverse("admin:articles_article_diff", args=[pk])),
        ("get", reverse("admin:articles_article_history", args=[pk])),
        ("get", reverse("admin:articles_article_delete", args=[pk])),
        ("post", reverse("admin:articles_article_delete", args=[pk])),
        ("get", f"/admin/articles/article/{pk}/"),
        ("post", reverse("admin:articles_article_claims", args=[pk])),
        *(
            ("post", reverse("admin:articles_article_transition", args=[pk, action]))
            for action in (
                "submit",
                "approve",
                "request_changes",
                "publish",
                "schedule",
                "withdraw",
                "no-such-action",
            )
        ),
        ("get", reverse("editor:preview", args=[pk])),
        ("post", reverse("editor:markdownify") + f"?article={pk}"),
        ("get", f"/admin/r/{_content_type_id('article')}/{pk}/"),  # "view on site"
        ("get", reverse("admin:view_on_site", args=[_content_type_id("article"), pk])),
    ]


def _content_type_id(model):
    from django.contrib.contenttypes.models import ContentType

    return ContentType.objects.get(app_label="articles", model=model).pk


def test_every_article_id_endpoint_is_covered():
    """A new admin URL that takes an article id must be added to the list above."""
    from django.contrib import admin

    from articles.models import Article
    from editorial.admin_urls import urlpatterns

    patterns = [str(p.pattern) for p in admin.site._registry[Article].get_urls()]
    with_id = sorted({p for p in patterns if "pk>" in p or "object_id>" in p})
    assert with_id == [
        "<int:pk>/change/",
        "<int:pk>/claims/",
        "<int:pk>/diff/",
        "<int:pk>/transition/<str:action>/",
        "<path:object_id>/",
        "<path:object_id>/change/",
        "<path:object_id>/delete/",
        "<path:object_id>/history/",
    ]
    assert [str(p.pattern) for p in urlpatterns if "pk>" in str(p.pattern)] == ["preview/<int:pk>/"]


def test_staff_without_a_role_get_the_same_404_for_every_article_id(client, tmp_path):
    owner = make_user("owner", groups=[AUTHORS], display_name="Dr Owner", credentials="MD")
    secret = import_article(
        write_article(tmp_path / "s", slug="secret-draft-plans", title="Secret plans"),
        user=owner,
    ).article
    client.force_login(make_user("staffer"))

    def answers(pk):
        out = []
        for method, url in _article_id_endpoints(pk):
            data = {"claim": "lead-claim", "certainty": "high", "at": "2030-01-01T00:00"}
            response = getattr(client, method)(url, data)
            body = response.content.decode()
            out.append((method, url, response.status_code, body))
        return out

    real, missing = answers(secret.pk), answers(MISSING_PK)

    assert [(m, u, status) for m, u, status, _ in real] == [(m, u, 404) for m, u, _, _ in real]
    # The same answer, endpoint by endpoint, for the real draft and a made-up id.
    assert [(m, status) for m, _, status, _ in real] == [(m, s) for m, _, s, _ in missing]
    for method, url, _, body in real:
        assert "secret-draft" not in body and "Secret plans" not in body, (method, url)
        assert "Draft" not in body, (method, url)
    secret.refresh_from_db()
    assert secret.status == "draft"


# --- 6. the live preview's limits come before the database ----------------------------------


def _key(i):
    digits = "abcdefghijklmnopqrstuvwxyz0123456789"
    out = ""
    while True:
        i, rest = divmod(i, 36)
        out = digits[rest] + out
        if i == 0:
            return out


def _cites(count, *, size=None):
    text = " ".join(f"@{_key(i)}" for i in range(count))
    if size is not None:
        assert len(text) <= size
        text += " " + "x" * (size - len(text) - 1)
    return text


def _preview(client, text, article_pk=None):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = reverse("editor:markdownify")
    if article_pk is not None:
        url += f"?article={article_pk}"
    with CaptureQueriesContext(connection) as queries:
        response = client.post(url, {"content": text})
    citation_queries = [q["sql"] for q in queries if "citation" in q["sql"].lower()]
    return response, citation_queries


@pytest.fixture
def author_client(client):
    client.force_login(make_user("typist", groups=[AUTHORS]))
    return client


@pytest.mark.parametrize(
    "keys, size",
    [(260_000, 1_750_000), (120_000, 1_000_000)],
    ids=["260k-keys-1.75MB", "120k-keys-1MB"],
)
def test_a_huge_preview_is_refused_before_any_citation_query(author_client, keys, size):
    text = _cites(keys, size=size)

    response, citation_queries = _preview(author_client, text, article_pk=1)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="format-error"' in html
    assert "characters long; at most 500,000 are allowed" in html
    assert citation_queries == []


def test_a_preview_naming_too_many_keys_is_refused_before_any_citation_query(author_client):
    from articles.rendering import MAX_BODY_CHARS
    from editorial.admin_views import MAX_PREVIEW_KEYS

    text = _cites(MAX_PREVIEW_KEYS + 1)
    assert len(text) < MAX_BODY_CHARS  # within the size limit: the key bound refuses it

    response, citation_queries = _preview(author_client, text, article_pk=1)

    html = response.content.decode()
    assert f"names {MAX_PREVIEW_KEYS + 1:,} different citation keys; at most" in html
    assert citation_queries == []


def test_a_preview_within_the_key_bound_runs_two_bounded_lookups(author_client, tmp_path):
    from editorial.admin_views import MAX_PREVIEW_KEYS

    article = import_article(write_article(tmp_path / "p", slug="preview-keys")).article
    text = _cites(MAX_PREVIEW_KEYS - 1) + " [@feder2014]"

    response, citation_queries = _preview(author_client, text, article_pk=article.pk)

    html = response.content.decode()
    assert "different citation keys" not in html
    assert 'href="#ref-1"' in html  # the article's own key resolved
    assert len(citation_queries) == 2  # the article's keys, then the library's


def test_a_preview_with_an_out_of_range_article_id_still_renders(author_client):
    response, _ = _preview(author_client, "Plain text.", article_pk="9" * 40)

    assert response.status_code == 200
    assert "Plain text." in response.content.decode()


# --- 7. bad input in admin filters and forms: a message, never a 500 ----------------------

BIG = "99999999999999999999"
BAD_VALUES = [
    BIG,
    "-" + BIG,
    "9999-12-31T23:59:59-12:00",  # overflows on conversion to UTC
    "99999-01-01",
    "garbage",
    "²",  # a digit to str.isdigit, not to int()
    "nul\x00byte",  # PostgreSQL refuses NUL in text
]


def _changelist_parameters(model_admin, request):
    """Every query parameter a changelist reads: its list filters' parameters, every
    concrete field (a lookup the admin allows), the date hierarchy, paging, order, search."""
    changelist = model_admin.get_changelist_instance(request)
    names = {"p", "o", "q"}
    for spec in changelist.filter_specs:
        names.update(spec.expected_parameters())
    for field in model_admin.model._meta.get_fields():
        if getattr(field, "concrete", False):
            names.add(f"{field.name}__exact")  # the same check as the bare name
    if model_admin.date_hierarchy:
        names.update(f"{model_admin.date_hierarchy}__{part}" for part in ("year", "month", "day"))
    return sorted(names)


def _answer(client, method, url, data=None, *, follow=True):
    """The status and the text of the page a browser would end on, or the exception."""
    try:
        response = getattr(client, method)(url, data or {}, follow=follow)
    except Exception as exc:  # the defect under test is an unhandled exception
        return f"raised {type(exc).__name__}: {exc}"[:200], ""
    return response.status_code, response.content.decode(errors="replace")


@pytest.fixture
def root_client(client, tmp_path):
    article = import_article(write_article(tmp_path / "w", slug="walked")).article
    publish(article)
    client.force_login(make_user("root", is_superuser=True, display_name="Root"))
    return client


@pytest.mark.filterwarnings("ignore:DateTimeField .* received a naive datetime")
def test_every_admin_changelist_answers_bad_filter_values_without_a_500(root_client):
    from django.contrib import admin
    from django.contrib.auth import get_user_model
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = get_user_model().objects.get(username="root")
    failures = []
    for model, model_admin in admin.site._registry.items():
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for name in _changelist_parameters(model_admin, request):
            for value in BAD_VALUES:
                try:
                    response = root_client.get(url, {name: value})
                except Exception as exc:  # the defect under test is an unhandled exception
                    failures.append((url, name, value, type(exc).__name__))
                    continue
                # 200: applied or ignored; 302 to "?e=1": refused with a message (the test
                # below follows one); 400: Django's own answer to a lookup the admin never
                # allows (for example on a password hash).
                refused = response.status_code == 302 and response["Location"].endswith("?e=1")
                if response.status_code not in (200, 400) and not refused:
                    failures.append((url, name, value, response.status_code))
    assert failures == []


@pytest.mark.parametrize("changelist", ["article", "articleversion"])
def test_the_reported_reviewer_filter_answers_with_a_message(root_client, changelist):
    url = reverse(f"admin:articles_{changelist}_changelist")

    status, html = _answer(root_client, "get", url, {"reviewer": BIG})

    assert status == 200
    assert "Filter not applied." in html and BIG in html


def test_a_bad_filter_value_is_refused_before_any_query_of_the_listed_rows(root_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = reverse("admin:articles_reviewevent_changelist")
    with CaptureQueriesContext(connection) as queries:
        response = root_client.get(url, {"article": BIG})

    assert response.status_code == 302 and response["Location"].endswith("?e=1")
    assert not [q for q in queries if "articles_reviewevent" in q["sql"]]


def test_admin_pages_taking_ids_answer_out_of_range_ids_without_a_500(root_client):
    from django.contrib import admin

    article_pk = ArticleVersion.objects.get().article_id
    pages = [
        ("get", reverse("admin:articles_article_diff", args=[article_pk]), {"old": BIG}),
        ("get", reverse("admin:articles_article_diff", args=[article_pk]), {"old": "²"}),
        ("get", reverse("admin:articles_article_diff", args=[article_pk]), {"new": BIG}),
        ("get", reverse("editor:preview", args=[BIG])),
        ("post", reverse("editor:markdownify") + "?article=²", {"content": "x"}),
        ("post", reverse("editor:markdownify") + f"?article={BIG}", {"content": "x"}),
        ("get", reverse("admin:articles_citation_evidence", args=[BIG])),
        ("post", reverse("admin:articles_article_claims", args=[BIG]), {"claim": BIG}),
        ("post", reverse("admin:articles_article_transition", args=[BIG, "submit"])),
        (
            "post",
            reverse("admin:articles_article_change", args=[article_pk]),
            {
                "title": "T",
                "summary": "S",
                "topics": "ptsd",
                "audience": "public",
                "body": "Text.",
                "lock_version": BIG,
                "review_interval_months": BIG,
            },
        ),
    ]
    for model in admin.site._registry:
        for view in ("change", "history", "delete"):
            name = f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}"
            pages.append(("get", reverse(name, args=[BIG])))
    failures = []
    for method, url, *data in pages:
        status, _ = _answer(root_client, method, url, data[0] if data else None)
        if status not in (200, 403, 404):
            failures.append((method, url, status))
    assert failures == []


@pytest.mark.parametrize(
    "at, message",
    [
        ("9999-12-31T23:59:59-12:00", "The go-live time is out of range."),
        ("0001-01-01T00:00:00+14:00", "The go-live time is out of range."),
        ("9999-12-31T23:59:59", None),  # naive: read in the site's time zone
        ("99999-01-01T00:00", "Give the go-live time as a date and time."),
        ("garbage", "Give the go-live time as a date and time."),
    ],
)
def test_scheduling_at_an_out_of_range_time_answers_with_a_message(client, tmp_path, at, message):
    from articles.models import Article
    from articles.roles import CLINICAL_REVIEWERS, PUBLISHERS
    from editorial.services import workflow

    owner = make_user("owner", groups=[AUTHORS], display_name="Dr Owner", credentials="MD")
    article = import_article(write_article(tmp_path / "s", slug="sched"), user=owner).article
    reviewer = make_user("rev", groups=[CLINICAL_REVIEWERS], display_name="Dr R", credentials="MD")
    workflow.article_submit(article=article, user=owner)
    workflow.article_approve(article=article, user=reviewer)
    client.force_login(make_user("pub", groups=[PUBLISHERS], display_name="P"))

    status, html = _answer(
        client, "post", reverse("admin:articles_article_transition", args=[article.pk, "schedule"]),
        {"at": at},
    )  # fmt: skip

    assert status == 200
    version = ArticleVersion.objects.get(article=article)
    if message:
        assert message in html
        assert version.scheduled_for is None
    else:
        assert version.scheduled_for is not None
    assert Article.objects.get(pk=article.pk).status == "approved"


# --- 8. the lockout counts the address a trusted proxy saw, or the peer's own ------------

PROXY = "10.0.0.2"
DIRECT = "203.0.113.9"


@pytest.fixture
def behind_proxy(settings):
    settings.PTSDINFO_BEHIND_PROXY = True
    settings.PTSDINFO_TRUSTED_PROXIES = [PROXY, "10.1.0.0/24"]
    return settings


def _sign_in(client, password, *, remote, forwarded):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": "alice", "password": password},
        REMOTE_ADDR=remote,
        HTTP_X_FORWARDED_FOR=forwarded,
    )


def _failed_from():
    from articles.models import SecurityEvent

    return set(
        SecurityEvent.objects.filter(kind="login_failed").values_list("ip_address", flat=True)
    )


def test_direct_requests_with_a_new_forwarded_for_each_time_are_locked_out(client, behind_proxy):
    make_user("alice", groups=[AUTHORS])
    for i in range(8):
        _sign_in(client, "wrong", remote=DIRECT, forwarded=f"198.51.100.{i}")

    locked = _sign_in(client, "test-pass-123", remote=DIRECT, forwarded="198.51.100.99")

    assert locked.status_code == 429
    assert _failed_from() == {DIRECT}
    # Counted by address: the clinician signing in through the proxy is not locked out.
    through_proxy = _sign_in(client, "test-pass-123", remote=PROXY, forwarded="198.51.100.1")
    assert through_proxy.status_code == 302


def test_requests_from_a_trusted_proxy_are_counted_per_forwarded_address(client, behind_proxy):
    make_user("alice", groups=[AUTHORS])
    limit = behind_proxy.AXES_FAILURE_LIMIT
    for i in range(8):
        _sign_in(client, "wrong", remote=PROXY, forwarded=f"198.51.100.{i}")

    assert _failed_from() == {f"198.51.100.{i}" for i in range(8)}
    assert (
        _sign_in(client, "test-pass-123", remote=PROXY, forwarded="198.51.100.50").status_code
        == 302
    )

    client.logout()
    for _ in range(limit):
        _sign_in(client, "wrong", remote=PROXY, forwarded="192.0.2.77")
    assert (
        _sign_in(client, "test-pass-123", remote=PROXY, forwarded="192.0.2.77").status_code == 429
    )
    # A spoofed entry to the left of the address the proxy saw changes nothing.
    spoofed = _sign_in(client, "test-pass-123", remote=PROXY, forwarded="198.51.100.3, 192.0.2.77")
    assert spoofed.status_code == 429


@pytest.mark.parametrize(
    "behind, remote, forwarded, expected",
    [
        (False, PROXY, "198.51.100.7", PROXY),  # no proxy configured: never the header
        (True, DIRECT, "198.51.100.7", DIRECT),  # an untrusted peer: its own address
        (True, PROXY, "198.51.100.7", "198.51.100.7"),
        (True, PROXY, "6.6.6.6, 198.51.100.7", "198.51.100.7"),  # left entries ignored
        (True, PROXY, "6.6.6.6, 198.51.100.7, 10.1.0.5", "198.51.100.7"),  # proxy chain
        (True, PROXY, "198.51.100.7, not-an-address", PROXY),  # malformed: the proxy's
        (True, PROXY, "", PROXY),
        (True, "10.1.0.9", "2001:db8::1", "2001:db8::1"),  # a trusted network
    ],
)
def test_client_ip(behind_proxy, behind, remote, forwarded, expected):
    from django.test import RequestFactory

    from accounts.security import client_ip

    behind_proxy.PTSDINFO_BEHIND_PROXY = behind
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)

    assert client_ip(request) == expected


def test_one_setting_drives_gunicorn_and_django(monkeypatch, settings):
    import runpy
    from pathlib import Path

    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    monkeypatch.setenv("PTSDINFO_TRUSTED_PROXIES", "10.9.0.0/16,192.0.2.1")
    config = runpy.run_path(str(Path(__file__).parents[2] / "deploy" / "gunicorn.conf.py"))
    assert config["forwarded_allow_ips"] == "10.9.0.0/16,192.0.2.1"
    settings_text = (Path(__file__).parents[2] / "ptsdinfo" / "settings.py").read_text()
    assert 'env_list("PTSDINFO_TRUSTED_PROXIES", "127.0.0.1,::1")' in settings_text
    assert (
        'forwarded_allow_ips = os.environ.get("PTSDINFO_TRUSTED_PROXIES", "127.0.0.1,::1")'
        in (Path(__file__).parents[2] / "deploy" / "gunicorn.conf.py").read_text()
    )

    settings.PTSDINFO_TRUSTED_PROXIES = ["10.0.0.300"]
    with pytest.raises(SystemCheckError, match=r"ptsdinfo\.E003"):
        call_command("check", "--tag", "security")


# --- 9. re-encoded uploads keep no metadata -----------------------------------------------

SCRIPT = b"<script>alert(1)</script>"


def _exif(orientation=None):
    from PIL import Image

    exif = Image.Exif()
    exif[0x010E] = SCRIPT.decode()  # ImageDescription
    exif[0x0131] = "EvilCam"  # Software
    if orientation:
        exif[0x0112] = orientation
    return exif.tobytes()


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def _hostile_jpeg(size=(40, 20), orientation=None) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(
        buffer,
        "JPEG",
        comment=SCRIPT,
        exif=_exif(orientation),
        icc_profile=b"\0" * 128 + SCRIPT,
    )
    data = buffer.getvalue()
    xmp = _segment(0xE1, b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta>" + SCRIPT + b"</x:xmpmeta>")
    photoshop = _segment(0xED, b"Photoshop 3.0\0" + SCRIPT)
    return data[:2] + xmp + photoshop + data[2:]  # right after SOI


def _jpeg_segments(data: bytes) -> list[tuple[int, bytes]]:
    """(marker, payload) for every segment before the image data."""
    assert data[:2] == b"\xff\xd8"
    segments, pos = [], 2
    while pos < len(data):
        assert data[pos] == 0xFF
        marker = data[pos + 1]
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        segments.append((marker, data[pos + 4 : pos + 2 + length]))
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            return segments
        pos += 2 + length
    return segments


def _png_chunks(data: bytes) -> list[bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, pos = [], 8
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        chunks.append(data[pos + 4 : pos + 8])
        pos += 12 + length
    return chunks


def _upload_and_read(client, settings, name, data, content_type):
    import json

    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(
        reverse("editor:upload"), {"image": SimpleUploadedFile(name, data, content_type)}
    )
    assert response.status_code == 200, response.content
    url = json.loads(response.content)["image_code"][len("![](") : -1]
    return (settings.MEDIA_ROOT / url.removeprefix(settings.MEDIA_URL)).read_bytes()


@pytest.fixture
def uploader(client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    client.force_login(make_user("uploader", groups=[AUTHORS]))
    return client


def test_the_crafted_jpeg_has_the_segments_under_test():
    markers = [marker for marker, _ in _jpeg_segments(_hostile_jpeg())]
    assert {0xFE, 0xE1, 0xE2, 0xED} <= set(markers)  # COM, EXIF+XMP, ICC, Photoshop


def test_a_reencoded_jpeg_keeps_no_comment_or_app_segment(uploader, settings):
    import io

    from PIL import Image

    stored = _upload_and_read(uploader, settings, "x.jpg", _hostile_jpeg(), "image/jpeg")

    assert SCRIPT not in stored and b"<script" not in stored
    assert b"Exif" not in stored and b"EvilCam" not in stored
    assert b"ns.adobe.com" not in stored and b"Photoshop" not in stored
    segments = _jpeg_segments(stored)
    markers = [marker for marker, _ in segments]
    assert 0xFE not in markers  # COM
    app = [(marker, payload) for marker, payload in segments if 0xE0 <= marker <= 0xEF]
    # Only libjpeg's own JFIF header: version and density, no thumbnail.
    assert [(marker, payload[:5]) for marker, payload in app] == [(0xE0, b"JFIF\0")]
    assert app[0][1][12:14] == b"\0\0"
    with Image.open(io.BytesIO(stored)) as image:
        image.load()
        assert image.format == "JPEG" and image.size == (40, 20)
        assert not image.info.get("comment") and "exif" not in image.info
        assert "icc_profile" not in image.info
        red, green, blue = image.getpixel((20, 10))
        assert red > 150 and green < 80 and blue < 80


def test_the_exif_orientation_is_applied_before_the_exif_goes(uploader, settings):
    import io

    from PIL import Image

    rotated = _hostile_jpeg(size=(40, 20), orientation=6)  # "rotate 90° clockwise to view"

    stored = _upload_and_read(uploader, settings, "x.jpg", rotated, "image/jpeg")

    with Image.open(io.BytesIO(stored)) as image:
        assert image.size == (20, 40)
        assert "exif" not in image.info


def test_a_reencoded_png_keeps_no_text_exif_or_icc_chunk(uploader, settings):
    import io

    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", SCRIPT.decode())
    info.add_text("XML:com.adobe.xmp", SCRIPT.decode(), zip=True)
    info.add_itxt("Description", SCRIPT.decode(), lang="en")
    buffer = io.BytesIO()
    Image.new("RGBA", (8, 8), (0, 0, 255, 255)).save(
        buffer, "PNG", pnginfo=info, exif=_exif(), icc_profile=b"\0" * 128 + SCRIPT
    )
    hostile = buffer.getvalue()
    assert {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"iCCP"} <= set(_png_chunks(hostile))

    stored = _upload_and_read(uploader, settings, "x.png", hostile, "image/png")

    assert b"<script" not in stored and b"EvilCam" not in stored
    assert set(_png_chunks(stored)) <= {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"}
    with Image.open(io.BytesIO(stored)) as image:
        image.load()
        assert image.size == (8, 8) and image.getpixel((4, 4)) == (0, 0, 255, 255)


def test_a_gif_comment_and_a_webp_exif_do_not_survive(uploader, settings):
    import io

    from PIL import Image, features

    gif = io.BytesIO()
    Image.new("P", (8, 8), 1).save(gif, "GIF", comment=SCRIPT)
    assert SCRIPT in gif.getvalue()
    stored = _upload_and_read(uploader, settings, "x.gif", gif.getvalue(), "image/gif")
    assert b"<script" not in stored
    assert set(_png_chunks(stored)) <= {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"}

    if not features.check("webp"):
        pytest.skip("Pillow without WebP")
    webp = io.BytesIO()
    Image.new("RGB", (8, 8), "green").save(webp, "WEBP", exif=_exif(), xmp=SCRIPT)
    assert b"EvilCam" in webp.getvalue()
    stored = _upload_and_read(uploader, settings, "x.webp", webp.getvalue(), "image/webp")
    assert b"<script" not in stored and b"EvilCam" not in stored
    assert set(_png_chunks(stored)) <= {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"}


@pytest.mark.filterwarnings("ignore:DateTimeField .* received a naive datetime")
def test_every_admin_form_answers_bad_values_without_a_500(root_client):
    """Every registered add and change form, and the project's own forms, posted with
    every field set to each bad value: a form error or a save, never an exception."""
    from django.contrib import admin

    from articles.models import Article, Citation

    forms = []
    for model, _ in admin.site._registry.items():
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        first = model.objects.order_by("pk").first()
        for url in [base + "add/", *([f"{base}{first.pk}/change/"] if first else [])]:
            response = root_client.get(url)
            if response.status_code == 200 and response.context.get("adminform"):
                forms.append((url, list(response.context["adminform"].form.fields)))
    article, citation = Article.objects.get(), Citation.objects.order_by("pk").first()
    editor = ["title", "summary", "topics", "audience", "review_interval_months", "body",
              "lock_version", "slug"]  # fmt: skip
    forms += [
        (f"/admin/articles/article/{article.pk}/change/", editor),
        ("/admin/articles/article/add/", editor),
        (
            f"/admin/articles/citation/{citation.pk}/evidence/",
            ["retraction_status", "retraction_note", "study_design", "reason"],
        ),
        ("/admin/articles/citation/add-from-source/", ["identifiers", "text", "source"]),
    ]
    assert len(forms) > 15
    failures = []
    for url, names in forms:
        for value in BAD_VALUES:
            data = dict.fromkeys(names, value)
            data.update({f"{name}_{part}": value for name in names for part in (0, 1)})
            try:
                status = root_client.post(url, data).status_code
            except Exception as exc:  # the defect under test is an unhandled exception
                status = f"{type(exc).__name__}: {exc}"[:120]
            if status not in (200, 302, 403):
                failures.append((url, value, status))
    assert failures == []


@pytest.mark.parametrize(
    "endpoint, data",
    [
        ("transition", {"comment": "x\x00y"}),
        ("claims", {"claim": "lead-claim", "comment": "x\x00y"}),
        ("claims", {"claim": "lead\x00claim", "certainty": "high"}),
    ],
)
def test_a_nul_character_in_a_workflow_form_gets_a_message(client, tmp_path, endpoint, data):
    """PostgreSQL cannot store NUL: refused before any write, on every database."""
    from articles.models import ReviewEvent
    from articles.roles import CLINICAL_REVIEWERS

    owner = make_user("owner", groups=[AUTHORS], display_name="Dr Owner", credentials="MD")
    article = import_article(write_article(tmp_path / "n", slug="nul"), user=owner).article
    user = owner
    if endpoint == "claims":
        user = make_user("rev", groups=[CLINICAL_REVIEWERS], display_name="R", credentials="MD")
    client.force_login(user)
    args = [article.pk, "submit"] if endpoint == "transition" else [article.pk]
    events = ReviewEvent.objects.count()

    status, html = _answer(
        client, "post", reverse(f"admin:articles_article_{endpoint}", args=args), data
    )

    assert status == 200
    assert "The form contained a NUL character; nothing was recorded." in html
    assert ReviewEvent.objects.count() == events


# --- X-Forwarded-Proto only from a trusted proxy ---------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("peer", "treated_as_https"), [("127.0.0.1", True), ("203.0.113.9", False)]
)
def test_forwarded_proto_is_believed_only_from_a_trusted_proxy(
    client, settings, peer, treated_as_https
):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    settings.PTSDINFO_TRUSTED_PROXIES = ["127.0.0.1"]

    response = client.get("/healthz", HTTP_X_FORWARDED_PROTO="https", REMOTE_ADDR=peer)
    page = client.get("/about/", HTTP_X_FORWARDED_PROTO="https", REMOTE_ADDR=peer)

    assert response.status_code == 200  # exempt from the redirect either way
    if treated_as_https:
        assert page.status_code != 301
    else:
        assert page.status_code == 301
        assert page["Location"].startswith("https://")
