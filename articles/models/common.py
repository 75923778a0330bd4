"""Patterns and the choices constraint every model module uses."""

from django.core.exceptions import ValidationError
from django.db import models, router
from django.db.models import BooleanField, ExpressionWrapper, Q, Value
from django.db.models.functions import Coalesce
from django.db.models.sql import Query
from django.db.models.sql.constants import SINGLE

CLAIM_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$"

DOI_PATTERN = r"^10\.[0-9]{4,9}(\.[0-9]+)*/\S+$"

PMID_PATTERN = r"^[1-9][0-9]{0,7}$"

PMCID_PATTERN = r"^PMC[0-9]{1,9}$"


def choices_constraint(field: str, choices: type[models.TextChoices], name: str, blank=False):
    values = list(choices.values) + ([""] if blank else [])
    return models.CheckConstraint(condition=Q(**{f"{field}__in": values}), name=name)


class ChecksInOneQuery(models.Model):
    """`validate_constraints` (run by `full_clean`) with every CheckConstraint of the
    model evaluated in one query, instead of one query (and a savepoint) each: the same
    constraints, fields excluded the same way and the same errors, at a seventh of the
    round trips for Article. Other constraints are validated as Django does."""

    class Meta:
        abstract = True

    def validate_constraints(self, exclude=None):
        model = type(self)
        checks = [
            constraint
            for constraint in model._meta.constraints
            if isinstance(constraint, models.CheckConstraint)
            and not (
                exclude
                and constraint._expression_refs_exclude(model, constraint.condition, exclude)
            )
        ]
        errors = {}
        try:
            self._validate_other_constraints(exclude, skip=checks)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if checks:
            using = router.db_for_write(model, instance=self)
            query = Query(None)
            against = self._get_field_expression_map(meta=model._meta, exclude=exclude)
            for name, value in against.items():
                if not hasattr(value, "resolve_expression"):
                    value = Value(value)
                query.add_annotation(value, name, select=False)
            for number, constraint in enumerate(checks):
                # A CHECK passes when its condition is UNKNOWN (NULL), as in the database.
                holds = Coalesce(
                    ExpressionWrapper(Q(constraint.condition), output_field=BooleanField()),
                    Value(True),
                    output_field=BooleanField(),
                )
                query.add_annotation(holds, f"_check_{number}")
            row = query.get_compiler(using=using).execute_sql(SINGLE)
            for constraint, holds in zip(checks, row, strict=True):
                if not holds:
                    error = ValidationError(
                        constraint.get_violation_error_message(),
                        code=constraint.violation_error_code,
                    )
                    errors = error.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)

    def _validate_other_constraints(self, exclude, *, skip):
        using = router.db_for_write(type(self), instance=self)
        errors = {}
        for model_class, constraints in self.get_constraints():
            for constraint in constraints:
                if constraint in skip:
                    continue
                try:
                    constraint.validate(model_class, self, exclude=exclude, using=using)
                except ValidationError as exc:
                    if getattr(exc, "code", None) == "unique" and len(constraint.fields) == 1:
                        errors.setdefault(constraint.fields[0], []).append(exc)
                    else:
                        errors = exc.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)
