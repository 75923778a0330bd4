"""The reader's "Report a problem" form (issue 17).

The one public view that writes, and only through
`editorial.services.reports.report_submit` (tests/test_architecture.py allows this
module, and no other public module, to import that one service). Never cached: the
page carries the reader's CSRF token.
"""

from django import forms
from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.utils.text import format_lazy
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from articles.models import ReaderReport
from editorial.services.reports import DESCRIPTION_MAX, ReportRejected, report_submit
from ptsdinfo.proxies import client_ip
from publicsite import selectors
from publicsite.article_page import version_claims


class ReportForm(forms.Form):
    """The reader's report form: every field rendered by Django, so escaped."""

    claim = forms.ChoiceField(label=_("Which part of the page"), required=False)
    kind = forms.ChoiceField(
        label=_("What is wrong"), choices=ReaderReport.Kind.choices, widget=forms.RadioSelect
    )
    description = forms.CharField(
        label=_("Tell us more"),
        max_length=DESCRIPTION_MAX,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=format_lazy(
            _("Up to {} characters. Please do not include personal details."), DESCRIPTION_MAX
        ),
    )
    email = forms.EmailField(
        label=_("Your email (optional)"),
        required=False,
        help_text=_(
            "Only if you would like a reply. We use it only to reply about this "
            "report and delete it when the report is closed, or after 90 days at the latest."
        ),
    )
    # Honeypot: hidden from people (and from assistive technology); bots fill it in.
    website = forms.CharField(required=False, label=_("Leave this empty"))

    def __init__(self, *args, claims=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["claim"].choices = [("", _("The whole page"))] + [
            (claim["id"], _claim_label(claim)) for claim in claims
        ]


def _claim_label(claim) -> str:
    text = " ".join(str(claim.get("statement") or claim["id"]).split())
    return text if len(text) <= 90 else text[:87] + "..."


def _page(slug: str):
    """(article, the version the reader read, its claims) for the active language, or
    None. In a translation language (/es/), the live translation: its title and its
    claims' translated text, limited to the claims the live English version still has
    (claim ids are the same in every language; a report is about one of those)."""
    language = get_language()
    if language == settings.LANGUAGE_CODE:
        article = selectors.published_article(slug=slug)
        if article is None or article.live_version is None:
            return None
        return article, article.live_version, version_claims(article.live_version)
    translation = selectors.translation_page(slug=slug, language=language)
    if translation is None or not translation.is_live:
        return None
    article, version = translation.article, translation.live_version
    live_ids = {claim["id"] for claim in version_claims(article.live_version)}
    claims = [claim for claim in version_claims(version) if claim["id"] in live_ids]
    return article, version, claims


@never_cache
@require_http_methods(["GET", "POST"])
def report_problem(request, slug):
    """The "Report a problem" form, in the language of the page it was opened from.
    Never cached: it carries the reader's CSRF token. It writes only through
    `editorial.services.reports.report_submit`."""
    page = _page(slug)
    if page is None:
        raise Http404("No published article here.")
    article, version, claims = page
    if request.method == "POST":
        form = ReportForm(request.POST, claims=claims)
        if form.is_valid():
            if form.cleaned_data["website"]:
                # A bot: answer as if it worked, store nothing.
                return render(request, "articles/report_thanks.html", {"article": article})
            try:
                report_submit(
                    article=article,
                    claim_key=form.cleaned_data["claim"],
                    kind=form.cleaned_data["kind"],
                    description=form.cleaned_data["description"],
                    email=form.cleaned_data["email"],
                    address=client_ip(request) or "",
                    language=get_language(),
                )
            except ReportRejected as error:
                form.add_error(None, str(error))
                status = 429 if error.too_many else 400
                return render(
                    request,
                    "articles/report_form.html",
                    {"article": article, "version": version, "form": form},
                    status=status,
                )
            return render(request, "articles/report_thanks.html", {"article": article})
    else:
        form = ReportForm(initial={"claim": request.GET.get("claim", "")}, claims=claims)
    return render(
        request,
        "articles/report_form.html",
        {"article": article, "version": version, "form": form},
    )
