"""The reader-report queue in the admin (issue 17): filters, one-step decisions on a
report's own page, and the optional reply to the reader. Decisions go through
`editorial.services.reports`."""

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from articles.models import ReaderReport
from editorial.services import reports
from editorial.services.workflow import WorkflowError


class ReportAgeFilter(admin.SimpleListFilter):
    title = _("age")
    parameter_name = "age"

    def lookups(self, request, model_admin):
        return [
            ("7", _("Last 7 days")),
            ("30", _("Last 30 days")),
            ("older", _("Older than 30 days")),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() in ("7", "30"):
            return queryset.filter(created_at__gte=now - timedelta(days=int(self.value())))
        if self.value() == "older":
            return queryset.filter(created_at__lt=now - timedelta(days=30))
        return queryset


class ReaderReportForm(forms.ModelForm):
    reply = forms.CharField(
        label=_("Reply"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "Optional. Sent to the reader's email when you decline the report or mark it "
            "fixed; the address is then deleted. Never quote other readers or staff. "
            "The greeting and closing are written in the language of the page the reader "
            "reported from."
        ),
    )

    class Meta:
        model = ReaderReport
        fields = ["decision_reason"]


@admin.register(ReaderReport)
class ReaderReportAdmin(admin.ModelAdmin):
    """The reader-report queue (issue 17). Every reader-written field is shown as plain
    text (Django escapes it; nothing here is marked safe); decisions go through
    editorial.services.reports."""

    list_display = [
        "created_at",
        "article",
        "claim_link",
        "kind",
        "language",
        "state",
        "short_text",
    ]
    list_filter = ["state", "kind", "language", ReportAgeFilter, "article", "claim_key"]
    search_fields = ["claim_key", "article__slug"]
    readonly_fields = [
        "article", "claim_key", "kind", "description", "email", "language", "state",
        "created_at", "closed_at",
    ]  # fmt: skip
    fields = [*readonly_fields[:7], "decision_reason", "reply", *readonly_fields[7:]]
    list_select_related = ["article"]
    actions = ["accept", "accept_and_review", "decline", "mark_fixed"]
    form = ReaderReportForm
    change_form_template = "admin/articles/readerreport/change_form.html"
    # The decision buttons on a report's own page, each one step (issue 17): the reason
    # and the optional reply are written on the same page.
    DECISIONS = {
        "_accept": (
            _("Accepted"),
            lambda r, user, reply: reports.report_accept(report=r, user=user),
        ),
        "_accept_review": (
            _("Accepted and sent to clinical review"),
            lambda r, user, reply: reports.report_accept(report=r, user=user, send_to_review=True),
        ),
        "_decline": (
            _("Declined"),
            lambda r, user, reply: reports.report_decline(
                report=r, user=user, reason=r.decision_reason, reply=reply
            ),
        ),
        "_fixed": (
            _("Marked fixed"),
            lambda r, user, reply: reports.report_fixed(
                report=r, user=user, note=r.decision_reason, reply=reply
            ),
        ),
    }

    def response_change(self, request, obj):
        decision = next((name for name in self.DECISIONS if name in request.POST), None)
        if decision is None:
            return super().response_change(request, obj)
        done, decide = self.DECISIONS[decision]
        try:
            decide(obj, request.user, request.POST.get("reply", "")[: reports.REPLY_MAX + 1])
        except WorkflowError as error:
            self.message_user(
                request,
                gettext("Report %(number)s: %(error)s") % {"number": obj.pk, "error": error},
                messages.ERROR,
            )
            return HttpResponseRedirect(request.path)
        sent = " " + gettext("The reply was sent.") if request.POST.get("reply", "").strip() else ""
        self.message_user(
            request,
            gettext("%(done)s: report %(number)s.") % {"done": done, "number": obj.pk} + sent,
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:articles_readerreport_changelist"))

    def _decide(self, request, queryset, decide, done):
        count = 0
        for report in queryset.select_related("article"):
            try:
                decide(report)
                count += 1
            except WorkflowError as error:
                self.message_user(
                    request,
                    gettext("Report %(number)s: %(error)s") % {"number": report.pk, "error": error},
                    messages.ERROR,
                )
        if count:
            self.message_user(
                request,
                ngettext("%(done)s: %(count)d report.", "%(done)s: %(count)d reports.", count)
                % {"done": done, "count": count},
                messages.SUCCESS,
            )

    @admin.action(description=_("Accept"))
    def accept(self, request, queryset):
        self._decide(
            request, queryset, lambda r: reports.report_accept(report=r, user=request.user),
            gettext("Accepted"),
        )  # fmt: skip

    @admin.action(description=_("Accept and send the live article back to clinical review"))
    def accept_and_review(self, request, queryset):
        self._decide(
            request, queryset,
            lambda r: reports.report_accept(report=r, user=request.user, send_to_review=True),
            gettext("Accepted and sent to review"),
        )  # fmt: skip

    @admin.action(description=_("Decline (write the reason on the report first)"))
    def decline(self, request, queryset):
        self._decide(
            request, queryset,
            lambda r: reports.report_decline(report=r, user=request.user, reason=r.decision_reason),
            gettext("Declined"),
        )  # fmt: skip

    @admin.action(description=_("Mark fixed"))
    def mark_fixed(self, request, queryset):
        self._decide(
            request, queryset,
            lambda r: reports.report_fixed(report=r, user=request.user, note=r.decision_reason),
            gettext("Marked fixed"),
        )  # fmt: skip

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("Claim"))
    def claim_link(self, report):
        url = reverse("admin:articles_article_change", args=[report.article_id])
        anchor = f"#claim-row-{report.claim_key}" if report.claim_key else ""
        return format_html(
            '<a href="{}{}">{}</a>', url, anchor, report.claim_key or gettext("whole page")
        )

    @admin.display(description=_("Report"))
    def short_text(self, report):
        text = report.description
        return text if len(text) <= 80 else text[:77] + "..."
