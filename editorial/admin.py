"""The admin for clinician-editors: configuration and glue around the services.

The article change page is a custom editor view (editorial/admin_editor.py) so every
write goes through `articles.services` and the reviewer sees the whole picture.
"""

from datetime import timedelta
from functools import wraps

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.contrib.contenttypes.views import shortcut as contenttypes_shortcut
from django.core.exceptions import PermissionDenied
from django.db.models import CharField, Count, Exists, F, OuterRef, Value
from django.db.models.functions import Concat
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from articles.models import (
    Article,
    ArticleVersion,
    Citation,
    EvidenceFactChange,
    ReviewEvent,
    SecurityEvent,
    StaffProfile,
    Topic,
    TopicTranslation,
)
from editorial import (  # admin_reports, _translations and _watch register their models' admins
    admin_editor,
    admin_reports,  # noqa: F401
    admin_review,
    admin_translations,  # noqa: F401
    admin_watch,
)
from editorial.services import integrity


def view_on_site(request, content_type_id: int, object_id: str):
    """The admin's "view on site" redirect (`/admin/r/<type>/<id>/`), only for staff
    who may view that model: Django's own sends any staff account to the object's public
    URL, which names a draft's slug (issue 11, item 5). Mounted before the admin in
    ptsdinfo/urls.py, wrapped in the admin's sign-in check."""
    try:
        content_type = ContentType.objects.get_for_id(content_type_id)
    except ContentType.DoesNotExist:
        raise Http404 from None
    label, name = content_type.app_label, content_type.model
    user = request.user
    if not (user.has_perm(f"{label}.view_{name}") or user.has_perm(f"{label}.change_{name}")):
        raise Http404
    return contenttypes_shortcut(request, content_type_id, object_id)


class EvidenceForm(forms.Form):
    retraction_status = forms.ChoiceField(
        label=_("Retraction status"), choices=Citation.Retraction.choices
    )
    retraction_note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=2000,
        label=_("Retraction note"),
        help_text=_("Where the status comes from: source, record, date."),
    )
    study_design = forms.ChoiceField(label=_("Study design"), choices=Citation.StudyDesign.choices)
    reason = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text=_("Required. Goes into the audit log and onto every article citing this source."),
    )


class ReadOnlyAdmin(admin.ModelAdmin):
    """Immutable records (versions, audit logs): listed and shown, never added,
    changed or deleted from the admin. The database refuses it too (triggers)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class TopicTranslationInline(admin.TabularInline):
    """The topic's name (and description) on the public site in each translation
    language; without one, readers there see the English name."""

    model = TopicTranslation
    extra = 1
    fields = ["language", "name", "description"]


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name", "translations__name"]
    inlines = [TopicTranslationInline]

    # A topic's slug is fixed once it is made: it is in the content hash of every
    # article that uses it (a new slug would void their approvals) and in the address
    # of its page, which live articles link to. A rename changes the name only.
    def get_readonly_fields(self, request, obj=None):
        return ["slug"] if obj else []

    def get_prepopulated_fields(self, request, obj=None):
        return {} if obj else self.prepopulated_fields


class ReviewDueFilter(admin.SimpleListFilter):
    title = _("review")
    parameter_name = "review"

    def lookups(self, request, model_admin):
        return [("overdue", _("Review overdue")), ("soon", _("Due within 30 days"))]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        if self.value() == "overdue":
            return queryset.live().filter(next_review_due__lt=today)
        if self.value() == "soon":
            return queryset.live().filter(
                next_review_due__gte=today, next_review_due__lte=today + timedelta(days=30)
            )
        return queryset


class ReviewerFilter(admin.SimpleListFilter):
    title = _("reviewer")
    parameter_name = "reviewer"

    def lookups(self, request, model_admin):
        """Everyone who has reviewed a version, by their display name: one probe of the
        versions' reviewer index per user. (A DISTINCT over the versions' stored reviewer
        names read every version on each list page: 100,000 rows at 100,000 articles.)"""
        reviewers = (
            get_user_model()
            .objects.filter(Exists(ArticleVersion.objects.filter(reviewer=OuterRef("pk"))))
            .values_list("pk", "profile__display_name", "username")
        )
        return sorted(
            ((str(pk), name or username) for pk, name, username in reviewers),
            key=lambda choice: (choice[1].casefold(), choice[0]),
        )

    def queryset(self, request, queryset):
        value = self.value() or ""
        # Values outside the lookups never get here (admin_lookups.BoundedLookupsMixin
        # refuses them with a message); the checks keep this filter safe on its own.
        if value.isascii() and value.isdigit() and len(value) <= 18:
            # EXISTS, not a join and DISTINCT over every article's versions.
            reviewed = ArticleVersion.objects.filter(article=OuterRef("pk"), reviewer_id=int(value))
            return queryset.filter(Exists(reviewed))
        return queryset


def _title_unindexed(field):
    if field not in ("title", "-title"):
        return field
    title = Concat(F("title"), Value(""), output_field=CharField())
    return title.desc() if field.startswith("-") else title.asc()


class ArticleChangeList(ChangeList):
    """The article list, with each row's live version number read for the page's rows
    in one query: a join (or `select_related`) on every list query made the count join
    every version whenever a filter also touched the live version."""

    def get_ordering(self, request, queryset):
        """While searching, the title order as an expression no index provides: the same
        order, but PostgreSQL then finds the matches through the trigram indexes and
        sorts them (30 ms for "sleep" at 100,000 articles, a full scan at worst), instead
        of walking `article_title_idx` in title order until a page of matches turns up,
        which takes 200 ms when the matches sit late in the alphabet (docs/performance.md,
        "100,000 articles")."""
        ordering = super().get_ordering(request, queryset)
        if not self.query:
            return ordering
        return [_title_unindexed(field) for field in ordering]

    def get_results(self, request):
        super().get_results(request)
        self.result_list = list(self.result_list)
        ids = {article.live_version_id for article in self.result_list} - {None}
        numbers = dict(
            ArticleVersion.objects.filter(pk__in=ids).order_by().values_list("pk", "number")
        )
        for article in self.result_list:
            article.live_number_value = numbers.get(article.live_version_id)


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ["title", "status", "live_number", "last_reviewed", "next_review_due"]
    list_filter = ["status", "topics", ReviewerFilter, ReviewDueFilter, "audience"]
    search_fields = ["title", "slug", "summary"]
    # The list's cost must not grow with the library (docs/performance.md, "100,000
    # articles"): no second count of every article when a filter is on, and only the
    # live version's number from its row (selecting the related version read each
    # row's stored HTML, snapshot and page: megabytes a page).
    show_full_result_count = False

    def get_changelist(self, request, **kwargs):
        return ArticleChangeList

    @admin.display(description=_("live version"), ordering="live_version__number")
    def live_number(self, article):
        number = getattr(article, "live_number_value", None)
        return "—" if number is None else f"v{number}"

    def role_or_404(self, view):
        """Every URL that takes an article id answers staff without an editorial role with
        the same 404 before looking the id up, so neither the article's existence nor its
        slug or state leaks through an error message (issue 11, item 5). Anyone not signed
        in as active staff passes through, to the admin's sign-in redirect."""

        @wraps(view)
        def guarded(request, *args, **kwargs):
            user = request.user
            if user.is_active and user.is_staff and not self.has_view_or_change_permission(request):
                raise Http404
            return view(request, *args, **kwargs)

        return guarded

    def get_urls(self):
        view = self.admin_site.admin_view
        guard = self.role_or_404
        stock = [
            URLPattern(p.pattern, guard(p.callback), p.default_args, p.name)
            if "object_id" in str(p.pattern)
            else p
            for p in super().get_urls()
        ]
        return [
            path("add/", view(admin_editor.editor_view(self)), name="articles_article_add"),
            path(
                "<int:pk>/change/",
                view(guard(admin_editor.editor_view(self))),
                name="articles_article_change",
            ),
            path(
                "<int:pk>/transition/<str:action>/",
                view(guard(admin_editor.transition_view(self))),
                name="articles_article_transition",
            ),
            path(
                "<int:pk>/claims/",
                view(guard(admin_editor.claim_review_view(self))),
                name="articles_article_claims",
            ),
            path(
                "<int:pk>/evidence/<int:item_pk>/<str:action>/",
                view(guard(admin_watch.found_action_view(self))),
                name="articles_article_found",
            ),
            path(
                "<int:pk>/diff/",
                view(guard(admin_review.diff_view(self))),
                name="articles_article_diff",
            ),
            *stock,
        ]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Citation)
class CitationAdmin(admin.ModelAdmin):
    list_display = ["title", "year", "doi", "pmid", "study_design", "retraction_status", "uses"]
    list_filter = ["study_design", "retraction_status"]
    search_fields = ["title", "doi", "pmid", "pmcid", "key"]
    fields = [
        "title",
        "year",
        "url",
        "study_design",
        "retraction_status",
        "retraction_note",
        "retraction_checked_at",
        "evidence_history",
        "key",
        "doi",
        "pmid",
        "pmcid",
        "csl",
        "used_in",
    ]

    # Every field is read-only. Title, year and URL are read from the CSL item readers
    # get (citation_apply_csl): the checks and the reviewer's claim table read them, so
    # an edit here would make them say something about a reference readers do not
    # see. Evidence facts change only through integrity.citation_evidence_set
    # (check_citations, or a Clinical reviewer with a reason). A citation is added from
    # its source (DOI, PMID, CSL-JSON, BibTeX, RIS), never typed in.
    readonly_fields = fields

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        return redirect("admin:articles_citation_add_from_source")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(claim_count=Count("claim_links"))

    @admin.display(description=_("Evidence facts"))
    def evidence_history(self, citation):
        rows = [
            (
                timezone.localtime(row.created_at).strftime("%Y-%m-%d %H:%M"),
                row.field,
                row.from_value or "—",
                row.to_value or "—",
                row.actor.get_username() if row.actor else row.source,
                row.reason,
            )
            for row in citation.evidence_changes.select_related("actor").order_by("-created_at")
        ]
        link = format_html(
            '<p><a href="{}">{}</a></p>',
            reverse("admin:articles_citation_evidence", args=[citation.pk]),
            gettext("Change retraction status or study design (Clinical reviewers)"),
        )
        if not rows:
            return format_html("{}<p>{}</p>", link, gettext("No changes recorded."))
        # Translators: date: field old value → new value by person. reason
        row_format = gettext("{}: {} {} → {} by {}. {}")
        return format_html(
            "{}<ul>{}</ul>",
            link,
            format_html_join("", "<li>" + row_format + "</li>", rows),
        )

    def evidence_view(self, request, pk: int):
        citation = get_object_or_404(Citation, pk=pk)
        if not integrity.evidence_editor(request.user):
            raise PermissionDenied
        form = EvidenceForm(
            request.POST or None,
            initial={
                "retraction_status": citation.retraction_status,
                "retraction_note": citation.retraction_note,
                "study_design": citation.study_design,
            },
        )
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                finding = integrity.citation_evidence_set(
                    citation=citation,
                    status=data["retraction_status"],
                    note=data["retraction_note"],
                    study_design=data["study_design"],
                    source="reviewer",
                    actor=request.user,
                    reason=data["reason"],
                )
            except integrity.EvidenceChangeRefused as exc:
                form.add_error(None, str(exc))
            else:
                flagged = (
                    " "
                    + ngettext(
                        "%(count)d article sent back to review.",
                        "%(count)d articles sent back to review.",
                        len(finding.flagged),
                    )
                    % {"count": len(finding.flagged)}
                    if finding.flagged
                    else ""
                )
                messages.success(request, gettext("Evidence facts saved and audited.") + flagged)
                return redirect("admin:articles_citation_change", citation.pk)
        return TemplateResponse(
            request,
            "admin/articles/citation_evidence.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": gettext("Evidence facts: %(citation)s") % {"citation": citation},
                "citation": citation,
                "form": form,
            },
        )

    @admin.display(description=_("claims"), ordering="claim_count")
    def uses(self, citation):
        return citation.claim_count

    @admin.display(description=_("Where it is used"))
    def used_in(self, citation):
        links = citation.claim_links.select_related("claim__article").order_by(
            "claim__article__title", "claim__position"
        )
        rows = [
            (
                reverse("admin:articles_article_change", args=[link.claim.article_id]),
                link.claim.key,
                link.claim.article.title,
                link.claim.key,
                link.get_relation_display().lower(),
            )
            for link in links
        ]
        if not rows:
            return gettext("Not cited by any claim.")
        # Translators: "claim <claim id> (supports / contradicts)"
        row_format = '<li><a href="{}#claim-row-{}">{}</a>: ' + gettext("claim {} ({})") + "</li>"
        return format_html("<ul>{}</ul>", format_html_join("", row_format, rows))

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "add-from-source/",
                view(admin_editor.citation_add_view(self)),
                name="articles_citation_add_from_source",
            ),
            path(
                "<int:pk>/evidence/",
                view(self.evidence_view),
                name="articles_citation_evidence",
            ),
            *super().get_urls(),
        ]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ArticleVersion)
class ArticleVersionAdmin(ReadOnlyAdmin):
    list_display = ["article", "number", "approved_at", "published_at", "reviewer_name"]
    list_select_related = ["article"]
    list_filter = ["published_at"]
    exclude = ["snapshot", "html"]


@admin.register(ReviewEvent)
class ReviewEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "article", "kind", "from_state", "to_state", "claim_key", "actor"]
    list_filter = ["kind", "to_state"]
    list_select_related = ["article", "actor"]
    search_fields = ["article__title", "comment", "claim_key"]


@admin.register(StaffProfile)
class StaffProfileAdmin(admin.ModelAdmin):
    # The interface language is each person's own choice (/admin/language/), shown here.
    list_display = ["display_name", "user", "credentials", "languages", "interface_language"]
    search_fields = ["display_name", "user__username"]
    fields = [
        "user",
        "display_name",
        "credentials",
        "conflict_of_interest",
        "languages",
    ]


@admin.register(SecurityEvent)
class SecurityEventAdmin(ReadOnlyAdmin):
    """The sign-in audit log (accounts/security.py writes it): read-only."""

    list_display = ["created_at", "kind", "username", "ip_address", "path", "detail"]
    list_filter = ["kind"]
    search_fields = ["username", "ip_address", "detail"]


@admin.register(EvidenceFactChange)
class EvidenceFactChangeAdmin(ReadOnlyAdmin):
    """The evidence-facts audit log (integrity.citation_evidence_set writes it): read-only."""

    list_display = ["created_at", "citation_key", "field", "from_value", "to_value", "actor"]
    list_filter = ["field", "source"]
    search_fields = ["citation_key", "reason"]
