"""Security and fault handling around the site (issue 8; docs/security.md says why).

- `ContentSecurityPolicyMiddleware`: Django's, building a policy without a nonce once.
- `PermissionsPolicyMiddleware`: switches off browser features no page uses.
- `DatabaseFaultMiddleware`: a database that is down or unreachable gives a plain 503
  page (never a traceback); the next request after it returns works again.
- `StaffGuardMiddleware`: the TOTP second factor before any admin or editor page for
  those who need it, and per-user rate limits on the editor's preview and upload.
- The audit log: sign-ins, failures, lockouts and second-factor events become
  `SecurityEvent` rows and lines on the `ptsdinfo.security` logger.
- The two second-factor pages: enrol (QR code) and verify.
"""

from __future__ import annotations

import ipaddress
import logging
import sys
import time
from urllib.parse import urlencode

from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.admin import site as admin_site
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.core.cache import cache
from django.core.checks import Error, Tags, register
from django.core.checks import Warning as CheckWarning
from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.dispatch import receiver
from django.http import HttpResponse, HttpResponseRedirect
from django.middleware import csp
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.cache import add_never_cache_headers
from django.utils.csp import CSP, build_policy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from articles.models import SecurityEvent
from articles.roles import CLINICAL_REVIEWERS, PUBLISHERS
from ptsdinfo.environment import LOCAL_SECRET_KEY_PREFIX
from ptsdinfo.proxies import client_ip, is_trusted_proxy

logger = logging.getLogger("ptsdinfo.security")

DATABASE_DOWN = (OperationalError, InterfaceError)
SECOND_FACTOR_ROLES = (CLINICAL_REVIEWERS, PUBLISHERS)
GUARDED_PREFIXES = ("/admin/", "/editor/")
# Reachable with a password but no second factor yet: the enrol and verify pages
# themselves, and signing out.
OPEN_PREFIXES = ("/admin/2fa/", "/admin/logout/", "/admin/login/")
RATE_LIMITS = {  # view name -> setting holding the per-user requests per minute
    "editor:markdownify": "PTSDINFO_MARKDOWNIFY_PER_MINUTE",
    "editor:upload": "PTSDINFO_UPLOADS_PER_MINUTE",
}


# --- deploy checks (part of `check --deploy`, which the container runs first) -------


@register(Tags.security)
def check_trusted_proxies(app_configs, **kwargs):
    """PTSDINFO_TRUSTED_PROXIES must parse; "*" trusts any peer's X-Forwarded-For."""
    problems = []
    for entry in settings.PTSDINFO_TRUSTED_PROXIES:
        if entry == "*":
            problems.append(
                CheckWarning(
                    "PTSDINFO_TRUSTED_PROXIES is '*': anyone who reaches gunicorn directly "
                    "chooses the address the sign-in lockout counts.",
                    hint="List the proxy addresses or networks instead (docs/security.md).",
                    id="ptsdinfo.W003",
                )
            )
        else:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                problems.append(
                    Error(
                        f"PTSDINFO_TRUSTED_PROXIES: {entry!r} is not an address or network.",
                        hint="Comma-separated addresses or CIDR networks, e.g. 10.0.0.0/24.",
                        id="ptsdinfo.E003",
                    )
                )
    return problems


@register(Tags.security, deploy=True)
def check_production_security(app_configs, **kwargs):
    problems = []
    if settings.SECRET_KEY.startswith(LOCAL_SECRET_KEY_PREFIX):
        problems.append(
            Error(
                "DJANGO_SECRET_KEY is not set: the site runs on the local development key.",
                hint="Set DJANGO_SECRET_KEY to a long random string (see .env.example).",
                id="ptsdinfo.E001",
            )
        )
    if not settings.PTSDINFO_REQUIRE_2FA:
        problems.append(
            CheckWarning(
                "PTSDINFO_REQUIRE_2FA is off: Clinical reviewers and Publishers can sign in "
                "with a password alone.",
                hint="Set PTSDINFO_REQUIRE_2FA=true in production (docs/security.md).",
                id="ptsdinfo.W001",
            )
        )
    return problems


# --- headers ------------------------------------------------------------------------


def forwarded_headers_middleware(get_response):
    """Drop X-Forwarded-Proto unless the peer is a trusted proxy, before Django reads it.

    Behind a proxy SECURE_PROXY_SSL_HEADER makes Django believe that header for "is
    this request HTTPS?" (the SSL redirect, secure cookies, CSRF's origin check). Sent
    by anyone else (gunicorn reachable directly), it would let a plain-HTTP request pass
    for HTTPS. The same trusted list decides X-Forwarded-For (`client_ip`)."""

    def middleware(request):
        if "HTTP_X_FORWARDED_PROTO" in request.META and not is_trusted_proxy(
            request.META.get("REMOTE_ADDR")
        ):
            del request.META["HTTP_X_FORWARDED_PROTO"]
        return get_response(request)

    return middleware


class ContentSecurityPolicyMiddleware(csp.ContentSecurityPolicyMiddleware):
    """Django 6.1's, with the policy of a response that used no nonce built once.

    Django builds the header string for every response. Without a nonce it is the same
    string every time for the same configuration: every public page, and every page
    served from the cache, which never uses a nonce (docs/security.md). Those get the
    string built once per configuration object (`SECURE_CSP` is replaced, never changed
    in place, when settings change); a response that used the nonce, or that a view gave
    its own policy, goes through Django's code unchanged."""

    def process_response(self, request, response):
        if (
            csp.get_nonce(request)
            or hasattr(response, "_csp_config")
            or hasattr(response, "_csp_ro_config")
        ):
            return super().process_response(request, response)
        for header, config in (
            (CSP.HEADER_ENFORCE, settings.SECURE_CSP),
            (CSP.HEADER_REPORT_ONLY, settings.SECURE_CSP_REPORT_ONLY),
        ):
            if config and header not in response:
                response.headers[str(header)] = _policy_without_nonce(config)
        return response


# {id(configuration): (the configuration, its policy)}: the configuration is kept, so its
# id is never reused by another object while the entry exists.
_policies: dict[int, tuple[dict, str]] = {}


def _policy_without_nonce(config: dict) -> str:
    known = _policies.get(id(config))
    if known is None or known[0] is not config:
        known = _policies[id(config)] = (config, build_policy(config))
    return known[1]


class PermissionsPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", settings.PTSDINFO_PERMISSIONS_POLICY)
        return response


# --- database faults ----------------------------------------------------------------


def database_down_response() -> HttpResponse:
    """The 503 page: a template with no context processors, so it needs no database."""
    response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = "30"
    add_never_cache_headers(response)
    return response


class DatabaseFaultMiddleware:
    """Turn a database that cannot be reached into a 503 instead of a 500.

    Pages cached upstream of the view are served without touching the database, so
    they keep working. Recovery needs nothing: Django closes a connection that
    failed at the end of the request and the next request opens a new one.
    A failure inside a view is caught by `process_exception`; one in a middleware's
    response phase (a session save) has already become a 500 by the time it gets
    here, so `got_request_exception` marks the request and the 500 is replaced.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 500 and getattr(request, "_ptsdinfo_database_down", False):
            return database_down_response()
        return response

    def process_exception(self, request, exception):
        if isinstance(exception, DATABASE_DOWN):
            logger.error(
                "database unavailable on %s %s: %s", request.method, request.path, exception
            )
            return database_down_response()
        return None


@receiver(got_request_exception, dispatch_uid="ptsdinfo-database-down")
def _mark_database_down(sender, request=None, **kwargs):
    if request is not None and isinstance(sys.exc_info()[1], DATABASE_DOWN):
        request._ptsdinfo_database_down = True


# --- rate limits ----------------------------------------------------------------------


def rate_limit_exceeded(scope: str, ident: object, per_minute: int) -> int:
    """Count one request in this minute's window; returns how far over the limit it is
    (0 when allowed). One cache counter per scope, identity and minute: with Redis the
    limit is site-wide, with the local-memory cache it holds per worker process."""
    window = int(time.time() // 60)
    key = f"ptsdinfo:rate:{scope}:{ident}:{window}"
    cache.add(key, 0, timeout=90)
    try:
        count = cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=90)
        count = 1
    return max(0, count - per_minute)


def too_many_requests(retry_after: int = 60) -> HttpResponse:
    response = HttpResponse(
        "Too many requests: wait a minute and try again.\n",
        status=429,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = str(retry_after)
    add_never_cache_headers(response)
    return response


# --- second factor --------------------------------------------------------------------


def second_factor_required(user) -> bool:
    """Staff who must pass a second factor: anyone who enrolled one; and, while
    PTSDINFO_REQUIRE_2FA is on, every Clinical reviewer, Publisher and superuser
    (those who approve and publish what readers see)."""
    from django_otp import user_has_device

    if not (user.is_authenticated and user.is_active and user.is_staff):
        return False
    if settings.PTSDINFO_REQUIRE_2FA and (
        user.is_superuser or user.groups.filter(name__in=SECOND_FACTOR_ROLES).exists()
    ):
        return True
    return user_has_device(user)


class StaffGuardMiddleware:
    """After OTPMiddleware: admin and editor requests by staff who need a second factor
    and have not passed it go to the verify page (or to enrolment, when they have no
    device yet); editor endpoints, which are called by scripts, get 403. Then the
    per-user rate limits on the editor's preview and upload endpoints."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if path.startswith(GUARDED_PREFIXES) and not path.startswith(OPEN_PREFIXES):
            user = request.user
            if user.is_authenticated and not user.is_verified() and second_factor_required(user):
                if path.startswith("/editor/"):
                    return HttpResponse("Second factor required.\n", status=403)
                return _to_second_factor(request, user)
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        setting = RATE_LIMITS.get(match.view_name if match else "")
        if setting is None or not request.user.is_authenticated:
            return None
        over = rate_limit_exceeded(match.view_name, request.user.pk, getattr(settings, setting))
        if over == 0:
            return None
        if over == 1:  # one audit row per user and window, however hard it is hammered
            record_event(
                SecurityEvent.Kind.RATE_LIMITED,
                request=request,
                user=request.user,
                detail=f"{match.view_name} over {getattr(settings, setting)}/min",
            )
        return too_many_requests()


def _to_second_factor(request, user) -> HttpResponseRedirect:
    from django_otp import user_has_device

    name = "security:otp_verify" if user_has_device(user) else "security:otp_setup"
    return _redirect_with_next(name, request.get_full_path())


def _redirect_with_next(name: str, target: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(f"{reverse(name)}?{urlencode({'next': target})}")


def _next_url(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("admin:index")


def _token(request) -> str:
    return "".join(request.POST.get("token", "").split())


def _page(request, template: str, context: dict) -> TemplateResponse:
    return TemplateResponse(
        request,
        template,
        {**admin_site.each_context(request), "next": _next_url(request), **context},
    )


@never_cache
@sensitive_post_parameters("token")
@staff_member_required
def otp_setup(request):
    """Enrol an authenticator app: scan the QR code (or type the key), confirm a code."""
    import qrcode
    import qrcode.image.svg
    from django_otp import login as otp_login
    from django_otp import user_has_device
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = request.user
    if user_has_device(user):
        return _redirect_with_next("security:otp_verify", _next_url(request))
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    error = ""
    if request.method == "POST":
        if device.verify_token(_token(request)):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            otp_login(request, device)
            record_event(SecurityEvent.Kind.OTP_ENROLLED, request=request, user=user)
            return HttpResponseRedirect(_next_url(request))
        record_event(SecurityEvent.Kind.OTP_FAILED, request=request, user=user, detail="enrol")
        error = gettext("That code did not match. Check the app's clock and try the newest code.")
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage)
    svg = image.to_string(encoding="unicode")
    secret = device.config_url.split("secret=", 1)[1].split("&", 1)[0]
    return _page(
        request,
        "admin/security/otp_setup.html",
        {
            "title": gettext("Set up two-step sign-in"),
            "qr_svg": mark_safe(svg),  # noqa: S308 - generated here from our own data
            "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            "error": error,
        },
    )


@never_cache
@sensitive_post_parameters("token")
@staff_member_required
def otp_verify(request):
    """The second step of signing in: a code from the enrolled authenticator app.
    django-otp throttles a device after failures (growing delays)."""
    from django_otp import devices_for_user
    from django_otp import login as otp_login

    user = request.user
    devices = list(devices_for_user(user))
    if not devices:
        return _redirect_with_next("security:otp_setup", _next_url(request))
    error = ""
    if request.method == "POST":
        token = _token(request)
        device = next((d for d in devices if d.verify_token(token)), None)
        if device is not None:
            otp_login(request, device)
            record_event(SecurityEvent.Kind.OTP_VERIFIED, request=request, user=user)
            return HttpResponseRedirect(_next_url(request))
        record_event(SecurityEvent.Kind.OTP_FAILED, request=request, user=user, detail="verify")
        error = gettext(
            "That code did not match, or too many codes were tried: wait and try again."
        )
    return _page(
        request,
        "admin/security/otp_verify.html",
        {"title": gettext("Two-step sign-in"), "error": error},
    )


urlpatterns = [
    path("setup/", otp_setup, name="otp_setup"),
    path("verify/", otp_verify, name="otp_verify"),
]
urls = (urlpatterns, "security")


# --- audit log ------------------------------------------------------------------------


def record_event(kind: str, *, request=None, user=None, username: str = "", detail: str = ""):
    """Write one audit row and one log line. The audit must never break a sign-in:
    when the database refuses the row, the log line still carries the event."""
    ip = client_ip(request) if request is not None else None
    username = username or (user.get_username() if user is not None else "")
    agent = request.META.get("HTTP_USER_AGENT", "")[:300] if request is not None else ""
    where = request.path[:300] if request is not None else ""
    logger.info("security event %s user=%r ip=%s path=%s %s", kind, username, ip, where, detail)
    try:
        return SecurityEvent.objects.create(
            kind=kind,
            user=user if user is not None and user.pk else None,
            username=username[:150],
            ip_address=ip,
            user_agent=agent,
            path=where,
            detail=detail[:500],
        )
    except DATABASE_DOWN:
        logger.exception("could not store security event %s for %r", kind, username)
        return None


@receiver(user_logged_in, dispatch_uid="ptsdinfo-audit-login")
def _audit_login(sender, request, user, **kwargs):
    record_event(SecurityEvent.Kind.LOGIN, request=request, user=user)


@receiver(user_logged_out, dispatch_uid="ptsdinfo-audit-logout")
def _audit_logout(sender, request, user, **kwargs):
    record_event(SecurityEvent.Kind.LOGOUT, request=request, user=user)


@receiver(user_login_failed, dispatch_uid="ptsdinfo-audit-login-failed")
def _audit_login_failed(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username", ""))
    locked = bool(getattr(request, "axes_locked_out", False))
    record_event(
        SecurityEvent.Kind.LOGIN_FAILED,
        request=request,
        username=username,
        detail="while locked out" if locked else "",
    )


@receiver(user_locked_out, dispatch_uid="ptsdinfo-audit-lockout")
def _audit_lockout(sender, request, username, ip_address, **kwargs):
    record_event(
        SecurityEvent.Kind.LOCKOUT,
        request=request,
        username=username or "",
        detail=f"{settings.AXES_FAILURE_LIMIT} failures for this username from {ip_address}",
    )
