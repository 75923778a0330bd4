"""Translations (issue 18): the fluency field, the models and their database guards."""

import pytest
from django.db import IntegrityError, transaction

from articles.models import StaffProfile

pytestmark = pytest.mark.django_db


def test_staff_languages_are_codes_and_say_who_reads_what(team):
    profile = StaffProfile.objects.get(user=team["reviewer"])
    assert profile.language_codes == [] and not profile.reads("es")

    profile.languages = "es,fr"
    profile.save()
    assert profile.reads("es") and profile.reads("fr") and not profile.reads("de")

    for bad in ("Spanish", "es, fr", "es,", "ES"):
        profile.languages = bad
        with pytest.raises(IntegrityError), transaction.atomic():
            profile.save()
