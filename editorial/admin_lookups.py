"""Bad changelist filter values get a message, never a 500 (issue 11, item 7).

Django's admin builds a changelist query from the query string and runs it while the
page renders. A value the database cannot take (an id beyond 64 bits, an aware datetime
that overflows on conversion to UTC, a year 99999) raised OverflowError there: an
unhandled 500. Every registered ModelAdmin, the project's and the third-party ones
(auth, axes, django-otp), gets `BoundedLookupsMixin` (installed by
`articles.apps.ArticlesConfig.ready`), which checks each filter value against the field
it filters before any query and answers a bad one with the admin's message and a
redirect to the unfiltered list. Many-to-many form fields get the same check on the ids
they receive.
"""

import math
from datetime import UTC, datetime

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG, IGNORED_PARAMS, PAGE_VAR
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.validators import validate_ipv46_address
from django.db import connection, models
from django.utils import timezone
from django.utils.translation import gettext

_INT64 = (-(2**63), 2**63 - 1)
_COMPARE = {"exact", "iexact", "gt", "gte", "lt", "lte"}
_LISTS = {"in", "range"}
_DATE_PARTS = {"year": (1, 9999), "iso_year": (1, 9999), "month": (1, 12), "day": (1, 31),
               "week": (1, 53), "week_day": (1, 7), "iso_week_day": (1, 7), "quarter": (1, 4),
               "hour": (0, 23), "minute": (0, 59), "second": (0, 59)}  # fmt: skip
_BOOLEAN_TEXT = {"0", "1", "true", "false", "True", "False"}


def _resolve(model, key: str):
    """(field, lookups) for a lookup key such as `owner__id__exact`; field is None when
    the key names no field (then Django's own checks decide)."""
    parts = key.split("__")
    opts, field, index = model._meta, None, 0
    while index < len(parts):
        name = parts[index]
        try:
            found = opts.pk if name == "pk" else opts.get_field(name)
        except FieldDoesNotExist:
            break
        field, index = found, index + 1
        if not (found.is_relation and found.related_model is not None):
            break
        opts = found.related_model._meta
    return field, parts[index:]


def _target(field):
    """The field a value for `field` is compared with: a relation's key field."""
    if field.is_relation and field.related_model is not None:
        return getattr(field, "target_field", None) or field.related_model._meta.pk
    return field


def _value_problem(field, value: str) -> str | None:
    if isinstance(field, (models.IntegerField, models.AutoField)):
        try:
            number = int(value)
        except ValueError:
            return "is not a whole number"
        low, high = connection.ops.integer_field_range(field.get_internal_type())
        low = _INT64[0] if low is None else max(low, _INT64[0])
        high = _INT64[1] if high is None else min(high, _INT64[1])
        return None if low <= number <= high else "is out of range"
    if isinstance(field, (models.FloatField, models.DecimalField)):
        try:
            number = float(value)
        except ValueError:
            return "is not a number"
        return None if math.isfinite(number) and abs(number) < 1e300 else "is out of range"
    if isinstance(field, models.GenericIPAddressField):  # PostgreSQL's inet refuses the rest
        try:
            validate_ipv46_address(value)
        except ValidationError:
            return "is not an IP address"
        return None
    if isinstance(field, (models.DateField, models.BooleanField, models.UUIDField)):
        try:
            converted = field.to_python(value)
        except (ValidationError, ValueError, OverflowError):
            return "is not a valid value"
        if isinstance(converted, datetime):
            try:
                aware = (
                    converted if timezone.is_aware(converted) else timezone.make_aware(converted)
                )
                aware.astimezone(UTC)
            except (OverflowError, ValueError):
                return "is out of range"
    return None


def lookup_problem(model, key: str, value: str) -> str | None:
    """Why `?key=value` cannot filter `model`, or None if the database can take it."""
    field, lookups = _resolve(model, key)
    if field is None:
        return None
    target = _target(field)
    if not lookups:
        return _value_problem(target, value)
    last = lookups[-1]
    if last == "isnull":
        return None if value in _BOOLEAN_TEXT else "is not yes or no"
    if lookups[0] in _DATE_PARTS:
        low, high = _DATE_PARTS[lookups[0]]
        values = value.split(",") if last in _LISTS else [value]
        for part in values:
            try:
                number = int(part)
            except ValueError:
                number = None
            if number is None or not low <= number <= high:
                return f"is not a {lookups[0]} between {low} and {high}"
        return None
    if lookups[0] == "date":
        target = models.DateField()
    elif last not in _COMPARE | _LISTS:
        return None  # text lookups (contains, startswith...) take any string
    values = value.split(",") if last in _LISTS else [value]
    for part in values:
        problem = _value_problem(target, part)
        if problem:
            return problem
    return None


class _BoundedChoices:
    """For a many-to-many form field: each submitted id must fit its key field before
    Django's `pk__in` query, which has no overflow guard (a 500 on the group and user
    forms' permission lists)."""

    def _check_values(self, value):
        if isinstance(value, (list, tuple)):
            key = self.to_field_name or "pk"
            opts = self.queryset.model._meta
            target = opts.pk if key == "pk" else opts.get_field(key)
            for pk in value:
                if _value_problem(target, str(pk)):
                    raise ValidationError(
                        self.error_messages["invalid_pk_value"],
                        code="invalid_pk_value",
                        params={"pk": str(pk)[:80]},
                    )
        return super()._check_values(value)


_BOUNDED_FIELD_CLASSES: dict[type, type] = {}


class BoundedLookupsMixin:
    """Checks the changelist's query string before Django builds the query from it, and
    the ids a many-to-many form field receives."""

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if field is not None and hasattr(field, "_check_values"):
            cls = type(field)
            if cls not in _BOUNDED_FIELD_CLASSES:
                _BOUNDED_FIELD_CLASSES[cls] = type(cls.__name__, (_BoundedChoices, cls), {})
            field.__class__ = _BOUNDED_FIELD_CLASSES[cls]
        return field

    def lookup_problems(self, request) -> list[str]:
        simple = {
            f.parameter_name: f
            for f in self.get_list_filter(request)
            if isinstance(f, type) and issubclass(f, admin.SimpleListFilter)
        }
        problems = []
        for key, values in request.GET.lists():
            for value in values:
                if "\x00" in key or "\x00" in value:  # PostgreSQL refuses NUL in text
                    problems.append(f"“{key[:80].replace(chr(0), '')}” contains a NUL character")
                    continue
                if key in IGNORED_PARAMS or key in (ERROR_FLAG, PAGE_VAR):
                    continue
                if key in simple:
                    spec = simple[key](request, {}, self.model, self)
                    choices = {str(v) for v, _ in spec.lookup_choices}
                    problem = None if value in choices else "is not one of the choices"
                else:
                    problem = lookup_problem(self.model, key, value)
                if problem:
                    problems.append(f"“{key}”: “{value[:80]}” {problem}")
        return problems

    def get_changelist_instance(self, request):
        problems = self.lookup_problems(request)
        if problems:
            messages.error(
                request,
                gettext("Filter not applied. %(problems)s.") % {"problems": "; ".join(problems)},
            )
            raise IncorrectLookupParameters(problems)
        return super().get_changelist_instance(request)


def install(site=admin.site) -> None:
    """Give every registered ModelAdmin the checks, keeping its own class behaviour."""
    for model, model_admin in list(site._registry.items()):
        cls = type(model_admin)
        if issubclass(cls, BoundedLookupsMixin):
            continue
        bounded = type(cls.__name__, (BoundedLookupsMixin, cls), {"__module__": cls.__module__})
        site.unregister(model)
        site.register(model, bounded)
