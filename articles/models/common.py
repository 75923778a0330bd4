"""Patterns and the choices constraint every model module uses."""

from django.db import models
from django.db.models import Q

CLAIM_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$"

DOI_PATTERN = r"^10\.[0-9]{4,9}(\.[0-9]+)*/\S+$"

PMID_PATTERN = r"^[1-9][0-9]{0,7}$"

PMCID_PATTERN = r"^PMC[0-9]{1,9}$"


def choices_constraint(field: str, choices: type[models.TextChoices], name: str, blank=False):
    values = list(choices.values) + ([""] if blank else [])
    return models.CheckConstraint(condition=Q(**{f"{field}__in": values}), name=name)
