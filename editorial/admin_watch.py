"""The evidence watch in the admin (issue 17, part 2): saved literature searches
(Clinical reviewers edit them), the list of found works, and the one decision an
editor takes about each work on the article's review page.

Glue only: every write is a call into `editorial.services.watch`.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from articles.models import Article, FoundEvidence, LiteratureSearch
from articles.services import library
from editorial.services import watch
from editorial.services.workflow import WorkflowError

# Most open items the review page lists (the count above them is exact).
REVIEW_PAGE_ITEMS = 200


def _claim_keys(text: str) -> list[str]:
    return sorted({key.strip() for key in text.replace("\n", ",").split(",") if key.strip()})


class LiteratureSearchForm(forms.ModelForm):
    claim_keys = forms.CharField(
        required=False,
        label=_("Claims it bears on"),
        help_text=_("Claim ids separated by commas, e.g. rapid-onset, veterans."),
    )

    class Meta:
        model = LiteratureSearch
        fields = ["article", "name", "query", "is_active"]
        widgets = {"query": forms.Textarea(attrs={"rows": 3, "cols": 80})}

    def clean(self):
        data = super().clean()
        article = data.get("article") or getattr(self.instance, "article", None)
        keys = _claim_keys(data.get("claim_keys", ""))
        if article is not None and keys:
            unknown = sorted(set(keys) - set(article.claims.values_list("key", flat=True)))
            if unknown:
                self.add_error(
                    "claim_keys",
                    gettext("No such claim in the article: %(keys)s")
                    % {"keys": ", ".join(unknown)},
                )
        data["claim_keys"] = keys
        name = (data.get("name") or "").strip()
        if article is not None and name:
            taken = article.literature_searches.filter(name=name).exclude(pk=self.instance.pk)
            if taken.exists():
                self.add_error("name", gettext("The article already has a search with this name."))
        return data


@admin.register(LiteratureSearch)
class LiteratureSearchAdmin(admin.ModelAdmin):
    """Saved PubMed searches. The role permissions let only Clinical reviewers add or
    change one (`articles.roles`); `services.watch.search_save` checks the role too."""

    form = LiteratureSearchForm
    list_display = ["article", "name", "query", "is_active", "last_run_at", "last_found_count"]
    list_filter = ["is_active", "article"]
    list_select_related = ["article"]
    search_fields = ["name", "query", "article__slug"]
    readonly_fields = ["last_run_at", "last_found_count"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "article"] if obj else self.readonly_fields

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        value = str(initial.get("article", ""))
        article = None
        if value.isascii() and value.isdigit() and len(value) <= 18:
            article = Article.objects.filter(pk=int(value)).first()
        if article is not None and "query" not in initial:
            initial["query"] = watch.search_default_query(article=article)
        return initial

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None:
            form.base_fields["claim_keys"].initial = ", ".join(
                obj.claims.values_list("claim_key", flat=True)
            )
        return form

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        saved = watch.search_save(
            article=obj.article,
            user=request.user,
            query=data["query"],
            name=data["name"],
            claim_keys=data["claim_keys"],
            is_active=data["is_active"],
            search=obj if change else None,
        )
        obj.pk, obj._state.adding = saved.pk, False

    def save_related(self, request, form, formsets, change):
        pass  # the claims were saved by search_save


@admin.register(FoundEvidence)
class FoundEvidenceAdmin(admin.ModelAdmin):
    """Works the evidence watch found. Read-only here: each is decided on its
    article's review page (add to the library, dismiss with a reason, re-review)."""

    list_display = ["first_seen_at", "article_link", "pubmed_link", "kind", "state", "title"]
    list_filter = ["state", "kind", "article"]
    list_select_related = ["article"]
    search_fields = ["pmid", "title", "article__slug"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("Article"), ordering="article__title")
    def article_link(self, item):
        url = reverse("admin:articles_article_change", args=[item.article_id])
        return format_html('<a href="{}#new-evidence">{}</a>', url, item.article.title)

    @admin.display(description=_("PMID"), ordering="pmid")
    def pubmed_link(self, item):
        return format_html(
            '<a href="{}" rel="noopener noreferrer">{}</a>', item.pubmed_url, item.pmid
        )


# --- the review page -----------------------------------------------------------------------


def review_context(article: Article) -> dict:
    """The review page's "New evidence since last review" panel: undecided works and
    those a re-review is weighing (two queries whatever their number)."""
    items = list(
        article.found_evidence.filter(state__in=FoundEvidence.OPEN_STATES)
        .select_related("decided_by", "search")
        .order_by("-entered_on", "-pk")[:REVIEW_PAGE_ITEMS]
    )
    items.sort(key=lambda item: item.kind not in FoundEvidence.NOTABLE_KINDS)  # stable
    searches = list(article.literature_searches.order_by("pk").prefetch_related("claims"))
    claims_of = {search.pk: [c.claim_key for c in search.claims.all()] for search in searches}
    for item in items:  # the claims the work may bear on: those its search watches
        item.claim_keys = claims_of.get(item.search_id, [])
    return {
        "found_new": [item for item in items if item.state == FoundEvidence.State.NEW],
        "found_rereview": [item for item in items if item.state == FoundEvidence.State.REREVIEW],
        "found_new_count": article.found_evidence.filter(state=FoundEvidence.State.NEW).count(),
        "literature_searches": searches,
    }


ACTIONS = ("add", "dismiss", "rereview")


def found_action_view(model_admin):
    """POST only: one decision about one found work, then back to the review page."""

    @require_POST
    def view(request, pk: int, item_pk: int, action: str):
        if action not in ACTIONS:
            raise Http404
        article = get_object_or_404(Article, pk=pk)
        item = get_object_or_404(FoundEvidence, pk=item_pk, article=article)
        back = HttpResponseRedirect(
            reverse("admin:articles_article_change", args=[article.pk]) + "#new-evidence"
        )
        if any("\x00" in value for value in request.POST.values()):
            messages.error(
                request, gettext("The form contained a NUL character; nothing was recorded.")
            )
            return back
        try:
            if action == "add":
                item, created = watch.found_add_to_library(item=item, user=request.user)
                done = (
                    gettext("added to the library as [@%(key)s]")
                    if created
                    else gettext("already in the library as [@%(key)s]; linked")
                ) % {"key": item.citation.key}
            elif action == "dismiss":
                watch.found_dismiss(
                    item=item, user=request.user, reason=request.POST.get("reason", "")
                )
                done = gettext("dismissed")
            else:
                watch.found_start_rereview(item=item, user=request.user)
                done = gettext("the article is back in clinical review with this work noted")
        except (WorkflowError, *library.EXPECTED_ERRORS) as exc:
            messages.error(request, f"PMID {item.pmid}: {exc}")
        else:
            messages.success(
                request, gettext("PMID %(pmid)s: %(done)s.") % {"pmid": item.pmid, "done": done}
            )
        return back

    return view
