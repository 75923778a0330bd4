"""Review reminders sent, and readers' reports of a problem."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from articles.models.common import choices_constraint
from articles.models.content import Article


class ReviewReminder(models.Model):
    """One review-due email about an article (`review_due --email`): at most one per
    article per day, which the unique constraint guarantees even for concurrent runs."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="reminders")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    email = models.EmailField()
    sent_on = models.DateField()
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-sent_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["article", "sent_on"], name="review_reminder_once_per_article_per_day"
            ),
        ]

    def __str__(self):
        return f"{self.article_id} -> {self.email} on {self.sent_on}"


class ReaderReportKind(models.TextChoices):
    # Readers choose these on the public form: translated (locale/es).
    WRONG = "wrong", _("It is wrong or out of date")
    SOURCE = "source", _("A source does not say this")
    UNCLEAR = "unclear", _("It is hard to understand")
    BROKEN_LINK = "broken-link", _("A link is broken")
    OTHER = "other", _("Something else")


class ReaderReportState(models.TextChoices):
    NEW = "new", _("New")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    FIXED = "fixed", _("Fixed")


class ReaderReport(models.Model):
    """A reader's report of a problem with an article or one of its claims (issue 17).

    Anonymous: no account and no IP address (the rate limiter keeps only a hashed
    address in the cache, for its window). The optional email is erased when the
    report is closed or after `REPORT_EMAIL_DAYS` (`manage.py purge_report_emails`).
    `claim_key` is blank for a report about the whole page; it is a key, not a
    foreign key, because claims are re-derived from the draft on every save.
    """

    Kind = ReaderReportKind
    State = ReaderReportState
    OPEN_STATES = (ReaderReportState.NEW, ReaderReportState.ACCEPTED)

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="reader_reports")
    claim_key = models.CharField(max_length=80, blank=True)
    kind = models.CharField(max_length=20, choices=ReaderReportKind)
    description = models.TextField(max_length=2000)
    email = models.EmailField(blank=True)
    state = models.CharField(
        max_length=10, choices=ReaderReportState, default=ReaderReportState.NEW
    )
    decision_reason = models.TextField(blank=True)
    # The language of the page the reader reported from (issue 18): a report from /es/
    # is about the Spanish text, and its reply's fixed wording is written in Spanish.
    language = models.CharField(
        _("language"),
        max_length=8,
        choices=settings.LANGUAGES,
        default="en",
        help_text=_("The language of the page the report came from; the reply is written in it."),
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("reader report")
        verbose_name_plural = _("reader reports")
        ordering = ["-created_at", "-id"]
        constraints = [
            choices_constraint("kind", ReaderReportKind, "reader_report_kind_valid"),
            choices_constraint("state", ReaderReportState, "reader_report_state_valid"),
            models.CheckConstraint(
                condition=models.Q(language__in=[code for code, _name in settings.LANGUAGES]),
                name="reader_report_language_valid",
            ),
        ]

    def __str__(self):
        return f"Report {self.pk} on {self.claim_key or 'the page'}"

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN_STATES
