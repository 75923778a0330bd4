"""Reader reports of a problem with a claim or a page (issue 17, part 1).

The public form (publicsite) calls `report_submit`; editors decide in the admin with
`report_accept`, `report_decline` and `report_fixed`, and may reply once to a reader
who left an email address when they close the report. No IP address is stored: the
rate limiter keeps a hash of the address in Django's cache (Redis when configured, so
the limit holds across workers) for its window only. Emails are erased on closing and
by `purge_report_emails` (cron) after REPORT_EMAIL_DAYS.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext

from articles.models import (
    Article,
    ArticleStatus,
    ArticleTranslation,
    ReaderReport,
    ReviewEvent,
)
from editorial.services.workflow import WorkflowError, article_submit

REPORT_EMAIL_DAYS = 90
RATE_LIMIT = 5  # reports per address per window
RATE_WINDOW_SECONDS = 3600
DESCRIPTION_MAX = 2000
# The public "What changed" line for a correction that came from a reader report: it
# never names or quotes the reporter.
CHANGE_NOTE = "Corrected after a reader report."


class ReportRejected(Exception):
    """Why a report was not stored, in the reader's language (the form shows it).
    `too_many` is set when the address is over the rate limit (the form answers 429)."""

    def __init__(self, message: str, *, too_many: bool = False):
        super().__init__(message)
        self.too_many = too_many


def _rate_key(address: str) -> str:
    digest = hashlib.sha256(f"{settings.SECRET_KEY}:{address}".encode()).hexdigest()
    return f"ptsdinfo:report-rate:{digest}"


def rate_limited(address: str) -> bool:
    """Count one attempt from `address`; True once it is over RATE_LIMIT in the window."""
    key = _rate_key(address)
    if cache.add(key, 1, RATE_WINDOW_SECONDS):
        return False
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, RATE_WINDOW_SECONDS)
        return False
    return count > RATE_LIMIT


def report_submit(
    *,
    article: Article,
    claim_key: str,
    kind: str,
    description: str,
    email: str = "",
    address: str,
    language: str | None = None,
) -> ReaderReport:
    """Store a reader's report. `language` is the language of the page it came from
    (the reply is written in it); by default the active one, which on the public site
    is the page's (its path decides)."""
    if rate_limited(address):
        raise ReportRejected(
            gettext("Too many reports from this address; please try again later."),
            too_many=True,
        )
    live = article.live_version
    live_keys = {claim["id"] for claim in (live.snapshot.get("claims", []) if live else [])}
    if claim_key and claim_key not in live_keys:
        raise ReportRejected(gettext("That claim is not on this page."))
    if language is None:
        language = _site_language(translation.get_language())
    if language not in dict(settings.LANGUAGES):
        raise ReportRejected(gettext("That is not a language of this site."))
    if kind not in ReaderReport.Kind.values:
        raise ReportRejected(gettext("Choose what is wrong."))
    description = description.strip()
    if not description or len(description) > DESCRIPTION_MAX:
        raise ReportRejected(
            gettext("Describe the problem in up to %(limit)s characters.")
            % {"limit": DESCRIPTION_MAX}
        )
    return ReaderReport.objects.create(
        article=article,
        claim_key=claim_key,
        kind=kind,
        description=description,
        email=email.strip(),
        language=language,
    )


def _site_language(code: str | None) -> str:
    """`code` as one of settings.LANGUAGES ("es-mx" -> "es", Django's own matching),
    else the default."""
    try:
        return translation.get_supported_language_variant(code or "")
    except LookupError:
        return settings.LANGUAGE_CODE


def open_reports(article: Article):
    return article.reader_reports.filter(state__in=ReaderReport.OPEN_STATES)


@transaction.atomic
def report_accept(*, report: ReaderReport, user, send_to_review: bool = False) -> ReaderReport:
    """Accept a report; on a live article, optionally send it back to clinical review.

    The report's text goes to the review as a comment on its claim (the audit trail);
    the public submit comment is only CHANGE_NOTE, so "What changed" never shows it.
    """
    if report.state != ReaderReport.State.NEW:
        raise WorkflowError(gettext("Only a new report can be accepted."), rule="report-state")
    article = report.article
    if send_to_review:
        if article.status != ArticleStatus.PUBLISHED:
            raise WorkflowError(
                gettext("Only a live article goes back to review."), rule="report-review"
            )
        article_submit(article=article, user=user, comment=CHANGE_NOTE)
        with translation.override(settings.LANGUAGE_CODE):  # the audit trail is English
            kind = str(report.get_kind_display())
        ReviewEvent.objects.create(
            article=article,
            actor=user,
            kind=ReviewEvent.Kind.COMMENT,
            claim_key=report.claim_key,
            comment=f"Reader report {report.pk} ({kind}): {report.description}",
        )
    report.state = ReaderReport.State.ACCEPTED
    report.save(update_fields=["state"])
    return report


REPLY_MAX = 5000


def report_reply_message(report: ReaderReport, reply: str) -> EmailMessage:
    """The editors' answer to a reader who left an email address: the fixed wording in
    the language of the page the reader reported from (the editor's own words as they
    wrote them), and the article's title in that language when it has a published
    translation."""
    with translation.override(report.language):
        return _reply_message(report, reply)


def _reply_message(report: ReaderReport, reply: str) -> EmailMessage:
    article = report.article
    title = _title_in(article, report.language)
    when = date_format(timezone.localtime(report.created_at), gettext("j F Y"))
    if report.claim_key:
        thanks = gettext(
            "Thank you for reporting a problem with the claim “%(claim)s” in “%(title)s” on "
            "%(date)s. Our editors have looked at it. Their answer:"
        )
    else:
        thanks = gettext(
            "Thank you for reporting a problem with the page “%(title)s” on %(date)s. Our "
            "editors have looked at it. Their answer:"
        )
    body = [
        gettext("Hello,"),
        "",
        thanks % {"claim": report.claim_key, "title": title, "date": when},
        "",
        reply.strip(),
        "",
        gettext("We have now deleted your email address from the report; we will not write again."),
        "",
        gettext(
            "This service cannot give medical advice. If you are in crisis in the United "
            "States, call or text 988 (the Suicide & Crisis Lifeline)."
        ),
    ]
    return EmailMessage(
        subject="[ptsdinfo] " + gettext("Your report about “%(title)s”") % {"title": title},
        body="\n".join(body) + "\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[report.email],
    )


def _title_in(article: Article, language: str) -> str:
    """The title readers of `language` saw: the published translation's, else English."""
    if language != settings.LANGUAGE_CODE:
        live = (
            ArticleTranslation.objects.filter(article=article, language=language)
            .exclude(live_version=None)
            .values_list("live_version__title", flat=True)
            .first()
        )
        if live:
            return live
    return article.title


def _close(report: ReaderReport, state: str, reason: str = "", reply: str = "") -> ReaderReport:
    """Close the report and erase its email; a reply, when given, is sent first, and a
    reply that cannot be sent leaves the report open (so the address is not lost)."""
    if reply.strip():
        if not report.email:
            raise WorkflowError(
                gettext("The reader left no email address to reply to."), rule="report-reply"
            )
        if len(reply) > REPLY_MAX:
            raise WorkflowError(
                gettext("The reply is longer than %(max)s characters.") % {"max": REPLY_MAX},
                rule="report-reply",
            )
        try:
            report_reply_message(report, reply).send()
        except OSError as exc:
            raise WorkflowError(
                gettext("The reply could not be sent (%(error)s); the report stays open.")
                % {"error": exc},
                rule="report-reply",
            ) from exc
    report.state = state
    report.decision_reason = reason
    report.email = ""
    report.closed_at = timezone.now()
    report.save(update_fields=["state", "decision_reason", "email", "closed_at"])
    return report


def report_decline(*, report: ReaderReport, user, reason: str, reply: str = "") -> ReaderReport:
    if not report.is_open:
        raise WorkflowError(gettext("The report is already closed."), rule="report-state")
    if not reason.strip():
        raise WorkflowError(gettext("Declining a report needs a reason."), rule="comment-required")
    return _close(report, ReaderReport.State.DECLINED, reason.strip(), reply)


def report_fixed(*, report: ReaderReport, user, note: str = "", reply: str = "") -> ReaderReport:
    if not report.is_open:
        raise WorkflowError(gettext("The report is already closed."), rule="report-state")
    return _close(report, ReaderReport.State.FIXED, note.strip(), reply)


def purge_report_emails(*, now=None) -> int:
    """Erase the email on closed reports and on every report older than REPORT_EMAIL_DAYS."""
    now = now or timezone.now()
    old = now - timedelta(days=REPORT_EMAIL_DAYS)
    return (
        ReaderReport.objects.exclude(email="")
        .filter(~Q(state__in=ReaderReport.OPEN_STATES) | Q(created_at__lt=old))
        .update(email="")
    )
