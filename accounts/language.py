"""The admin in the language each staff member chose (issue 18).

The public site's language comes from its path alone (ptsdinfo/i18n.py). The staff
side (/admin/, /editor/) is not under a language prefix; there, a signed-in staff
member gets the interface language on their staff profile (English by default and
when they have no profile). Django's own admin strings come in Spanish with Django;
ours are in locale/es. The browser's Accept-Language decides nothing, here or there.
"""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin import site as admin_site
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache

from accounts.security import GUARDED_PREFIXES
from articles.models import StaffProfile

SESSION_KEY = "ptsdinfo:interface-language"


def staff_language(user) -> str:
    """The interface language `user` chose; the site's default when they chose none."""
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return settings.LANGUAGE_CODE
    chosen = StaffProfile.objects.filter(user=user).values_list("interface_language", flat=True)
    return chosen.first() or settings.LANGUAGE_CODE


def request_language(request) -> str:
    """The signed-in staff member's language, kept in their session after the first
    request so the admin pays no query for it: choosing a language here updates the
    session; a change made for them in the staff-profile admin applies from their next
    sign-in (signing in looks it up afresh)."""
    user = request.user
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return settings.LANGUAGE_CODE
    language = request.session.get(SESSION_KEY)
    if language not in dict(settings.LANGUAGES):
        language = staff_language(user)
        request.session[SESSION_KEY] = language
    return language


@receiver(user_logged_in)
def _remember_language(sender, request=None, user=None, **kwargs):
    if request is not None and hasattr(request, "session") and user is not None:
        request.session[SESSION_KEY] = staff_language(user)


class StaffLanguageMiddleware:
    """After AuthenticationMiddleware: activates the staff member's interface language
    for admin and editor requests (one query), and restores it afterwards."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path_info.startswith(GUARDED_PREFIXES):
            return self.get_response(request)
        language = request_language(request)
        previous = translation.get_language()
        translation.activate(language)
        request.LANGUAGE_CODE = language
        try:
            response = self.get_response(request)
        finally:
            translation.activate(previous)
        response.headers["Content-Language"] = language
        return response


# --- choosing it ----------------------------------------------------------------------


class InterfaceLanguageForm(forms.Form):
    language = forms.ChoiceField(
        label=_("Language of the admin"),
        choices=settings.LANGUAGES,
        widget=forms.RadioSelect,
        help_text=_("Also the language of the emails ptsdinfo sends you."),
    )


@transaction.atomic
def staff_language_set(*, user, language: str) -> StaffProfile:
    """Store `user`'s interface language on their staff profile, creating the profile
    (named after the account) when they have none. Only a language of settings.LANGUAGES."""
    if language not in dict(settings.LANGUAGES):
        raise ValueError(f"not a site language: {language!r}")
    profile, _created = StaffProfile.objects.get_or_create(
        user=user,
        defaults={"display_name": user.get_full_name() or user.get_username()},
    )
    profile.interface_language = language
    profile.save(update_fields=["interface_language"])
    return profile


@never_cache
@staff_member_required
def interface_language(request):
    """Any staff member picks the language of their own admin (/admin/language/)."""
    form = InterfaceLanguageForm(
        request.POST or None, initial={"language": staff_language(request.user)}
    )
    if request.method == "POST" and form.is_valid():
        language = form.cleaned_data["language"]
        staff_language_set(user=request.user, language=language)
        request.session[SESSION_KEY] = language
        with translation.override(language):
            messages.success(request, gettext("Language saved."))
        return HttpResponseRedirect(reverse("admin:index"))
    return TemplateResponse(
        request,
        "admin/accounts/interface_language.html",
        {**admin_site.each_context(request), "title": _("Language"), "form": form},
    )
