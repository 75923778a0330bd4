"""What readers see about the clinicians behind an article."""

from django.conf import settings
from django.db import models
from django.db.models import Q


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

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(display_name=""),
                name="staff_profile_display_name_not_empty",
            ),
        ]

    def __str__(self):
        return self.display_name
