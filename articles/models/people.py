"""What readers see about the clinicians behind an article."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

# Lowercase language codes, comma-separated without spaces: "es" or "es,fr".
LANGUAGES_PATTERN = r"^([a-z]{2,3}(,[a-z]{2,3})*)?$"


class StaffProfile(models.Model):
    """What readers must see about the clinicians behind an article."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    display_name = models.CharField(max_length=200)
    credentials = models.CharField(max_length=200, blank=True, help_text='e.g. "MD, psychiatrist"')
    conflict_of_interest = models.TextField(
        blank=True, help_text="Shown to readers beside the reviewer's name."
    )
    # The languages this person may review translations in (issue 18). A plain,
    # comma-separated list of codes, not a JSON list: a CHECK constraint enforces its
    # shape on SQLite and PostgreSQL alike, and the admin edits it as one text field.
    languages = models.CharField(
        max_length=100,
        blank=True,
        help_text="Languages this person may review translations in, as codes separated by "
        'commas, e.g. "es". Empty: none.',
    )
    # The language of the admin for this person (issue 18): applied to their /admin/ and
    # /editor/ requests by accounts.language.StaffLanguageMiddleware. The public site's
    # language is decided by the path alone, whoever is signed in.
    interface_language = models.CharField(
        _("interface language"),
        max_length=10,
        choices=settings.LANGUAGES,
        default="en",
        help_text=_("The language of the admin pages and the emails you get from ptsdinfo."),
    )

    class Meta:
        verbose_name = _("staff profile")
        verbose_name_plural = _("staff profiles")
        constraints = [
            models.CheckConstraint(
                condition=~Q(display_name=""),
                name="staff_profile_display_name_not_empty",
            ),
            models.CheckConstraint(
                condition=Q(languages__regex=LANGUAGES_PATTERN),
                name="staff_profile_languages_are_codes",
            ),
            models.CheckConstraint(
                condition=Q(interface_language__in=[code for code, _name in settings.LANGUAGES]),
                name="staff_profile_interface_language_valid",
            ),
        ]

    def __str__(self):
        return self.display_name

    @property
    def language_codes(self) -> list[str]:
        return [code for code in self.languages.split(",") if code]

    def reads(self, language: str) -> bool:
        """Whether this person is marked fluent in `language` (may review in it)."""
        return language in self.language_codes
