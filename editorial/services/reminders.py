"""Review-due reminder emails (`manage.py review_due --email`).

Rules enforced here:
- an article's responsible editor is its owner, else whoever last edited its draft;
  only active users with an email address are written to;
- at most one reminder per article per day: each article is claimed in ReviewReminder
  (unique per article and day) in the same transaction as the send, so two runs at
  once cannot both send, and a failed send claims nothing and is retried next run;
- each editor gets one email listing all their articles due that day.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import date

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils import translation
from django.utils.translation import gettext, ngettext

from articles.models import Article, ReviewReminder, StaffProfile

SENT = "sent"
ALREADY_SENT = "already-sent"
NO_RECIPIENT = "no-recipient"
FAILED = "failed"


@dataclass
class ReminderOutcome:
    slug: str
    status: str
    to: str = ""
    error: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def reviews_due(*, until) -> QuerySet[Article]:
    """Live articles whose next clinical review falls on or before `until` (overdue first)."""
    return (
        Article.objects.live()
        .filter(next_review_due__lte=until)
        .only("slug", "title", "last_reviewed", "next_review_due")
        .order_by("next_review_due", "slug")
    )


def responsible_editor(article: Article):
    """The owner, else the last editor; None when neither can be emailed."""
    for user in (article.owner, article.last_edited_by):
        if user is not None and user.is_active and user.email:
            return user
    return None


def review_reminders_send(*, articles: list[Article], today: date) -> dict[int, ReminderOutcome]:
    """Email the responsible editor of each article whose review is due; returns an
    outcome per article id (sent, already-sent today, no-recipient or failed)."""
    outcomes: dict[int, ReminderOutcome] = {}
    reminded = set(
        ReviewReminder.objects.filter(article__in=articles, sent_on=today).values_list(
            "article", flat=True
        )
    )
    by_editor: dict[int, list[Article]] = defaultdict(list)
    editors = {}
    for article in articles:
        editor = responsible_editor(article)
        if article.pk in reminded:
            outcomes[article.pk] = ReminderOutcome(article.slug, ALREADY_SENT)
        elif editor is None:
            outcomes[article.pk] = ReminderOutcome(
                article.slug,
                NO_RECIPIENT,
                error="neither the owner nor the last editor has an email address",
            )
        else:
            editors[editor.pk] = editor
            by_editor[editor.pk].append(article)
    for editor_pk, due in by_editor.items():
        editor = editors[editor_pk]
        claimed = []
        try:
            with transaction.atomic():
                for article in due:
                    try:
                        with transaction.atomic():
                            ReviewReminder.objects.create(
                                article=article, recipient=editor, email=editor.email, sent_on=today
                            )
                    except IntegrityError:  # another run claimed it a moment ago
                        outcomes[article.pk] = ReminderOutcome(article.slug, ALREADY_SENT)
                    else:
                        claimed.append(article)
                if claimed:
                    reminder_message(editor=editor, articles=claimed, today=today).send(
                        using="default"
                    )
        except (OSError, ValueError) as exc:  # smtplib errors are OSErrors
            for article in claimed:
                outcomes[article.pk] = ReminderOutcome(
                    article.slug, FAILED, to=editor.email, error=str(exc) or type(exc).__name__
                )
            continue
        for article in claimed:
            outcomes[article.pk] = ReminderOutcome(article.slug, SENT, to=editor.email)
    return outcomes


def _link(path: str) -> str:
    return f"{settings.PTSDINFO_SITE_URL}{path}"


def _admin_link(article: Article) -> str:
    try:
        return _link(reverse("admin:articles_article_change", args=[article.pk]))
    except NoReverseMatch:
        return ""


def _when(article: Article, today: date) -> str:
    days = (article.next_review_due - today).days
    due = article.next_review_due.isoformat()
    if days < 0:
        return ngettext(
            "OVERDUE since %(date)s (%(days)d day)", "OVERDUE since %(date)s (%(days)d days)", -days
        ) % {"date": due, "days": -days}
    if days == 0:
        return gettext("due today")
    return ngettext(
        "due on %(date)s (in %(days)d day)", "due on %(date)s (in %(days)d days)", days
    ) % {"date": due, "days": days}


def reminder_message(*, editor, articles: list[Article], today: date) -> EmailMessage:
    """The reminder, in the interface language the editor chose (staff profile)."""
    profile = StaffProfile.objects.filter(user=editor).first()
    language = profile.interface_language if profile else settings.LANGUAGE_CODE
    with translation.override(language):
        return _reminder_message(editor, profile, articles, today)


def _reminder_message(editor, profile, articles: list[Article], today: date) -> EmailMessage:
    name = (profile.display_name if profile else "") or editor.get_full_name() or editor.username
    overdue = any(a.next_review_due < today for a in articles)
    if len(articles) == 1:
        subject = (
            gettext("Clinical review overdue: %(title)s")
            if overdue
            else gettext("Clinical review due: %(title)s")
        ) % {"title": articles[0].title}
    elif overdue:
        subject = gettext("%(count)d clinical reviews overdue or due") % {"count": len(articles)}
    else:
        subject = gettext("%(count)d clinical reviews due") % {"count": len(articles)}
    lines = [
        gettext("Hello %(name)s,") % {"name": name},
        "",
        gettext("These ptsdinfo articles you are responsible for need their clinical review:"),
        "",
    ]
    for article in articles:
        lines.append(f"- {article.title}: {_when(article, today)}")
        lines.extend(
            f"  {link}"
            for link in (_admin_link(article), _link(article.get_absolute_url()))
            if link
        )
    lines += [
        "",
        gettext(
            "To re-review an article, submit it for review in the admin (or run "
            "`manage.py workflow SLUG submit`); a clinical reviewer's approval moves \"last "
            'reviewed" on.'
        ),
        "",
        gettext("You get at most one reminder per article per day."),
    ]
    return EmailMessage(
        subject=f"[ptsdinfo] {subject}",
        body="\n".join(lines) + "\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[editor.email],
    )
