"""Translations in the admin (issue 18): the translation's page shows the source and
the translation side by side, claim by claim, and takes the workflow actions. Every
write goes through `editorial.services.translations`; a plain "Save" of an unchanged
form writes nothing (so a reviewer who opens the page does not become an editor)."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from articles.models import Article, ArticleTranslation, TranslationEvent, TranslationVersion
from articles.rendering import ArticleFormatError, parse_body
from articles.services.translations import TranslationConflictError
from editorial.services import translations as rules
from editorial.services.translation_staleness import claims_changed_between
from editorial.services.workflow import WorkflowError

REASON_LABELS = {
    "text": _("text changed"),
    "grade": _("grade changed"),
    "citations": _("citations changed"),
    "added": _("new claim"),
    "removed": _("removed"),
}


def english_changes(translation: ArticleTranslation) -> dict[str, tuple[str, ...]]:
    """Claim id -> what changed in English between the version this draft translates
    and the live version ({} when the draft translates the live version)."""
    live = translation.article.live_version
    if live is None or live.pk == translation.source_version_id:
        return {}
    changed = claims_changed_between(translation.source_version.snapshot, live.snapshot)
    return {claim.id: claim.reasons for claim in changed}


def side_by_side_rows(translation: ArticleTranslation) -> list[dict]:
    """One row per claim of the source version: its facts, the English and the draft's
    translation ("" when the draft lacks it or does not parse), and what changed in
    English since."""
    try:
        translated = {
            claim.id: claim.statement for s in parse_body(translation.body) for claim in s.claims
        }
    except ArticleFormatError:
        translated = {}
    changes = english_changes(translation)
    return [
        {
            "id": claim["id"],
            "certainty": claim["certainty"] or gettext("unrated"),
            "citations": ", ".join(
                f"@{ref['key']}" + (f" ({ref['locator']})" if ref.get("locator") else "")
                for ref in claim["supports"]
            ),
            "english": claim["statement"],
            "translated": translated.get(claim["id"], ""),
            "changed": ", ".join(str(REASON_LABELS[r]) for r in changes.get(claim["id"], ())),
        }
        for claim in translation.source_version.snapshot["claims"]
    ]


class TranslationForm(forms.ModelForm):
    lock_version = forms.IntegerField(widget=forms.HiddenInput)

    class Meta:
        model = ArticleTranslation
        fields = ["title", "summary", "body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 30, "cols": 100})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["lock_version"] = self.instance.lock_version

    def clean(self):
        data = super().clean()
        if self.instance.pk and "body" in data:
            problems = rules.translation_facts_check(
                self.instance.source_version.snapshot, data["body"]
            )
            if problems:
                self.add_error("body", problems)
        return data


class StartTranslationForm(forms.ModelForm):
    article = forms.ModelChoiceField(label=_("Article"), queryset=Article.objects.live())
    language = forms.ChoiceField(label=_("Language"), choices=())

    class Meta:
        model = ArticleTranslation
        fields = ["article", "language"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = list(settings.PTSDINFO_TRANSLATION_LANGUAGES.items())

    def validate_unique(self):
        pass  # starting an existing translation brings it up to date


# What was done, said of a translation (feminine in Spanish: "aprobada").
DONE = {
    "_submit": pgettext_lazy("translation", "Submitted for review"),
    "_request_changes": pgettext_lazy("translation", "Sent back to the translator"),
    "_approve": pgettext_lazy("translation", "Approved"),
    "_publish": pgettext_lazy("translation", "Published"),
    "_update_source": pgettext_lazy("translation", "Now translating the live version"),
    "_withdraw": pgettext_lazy("translation", "Withdrawn from the site"),
}


@admin.register(ArticleTranslation)
class ArticleTranslationAdmin(admin.ModelAdmin):
    list_display = ["article", "language", "status", "source_number", "live_number"]
    list_filter = ["language", "status"]
    list_select_related = ["article", "source_version", "live_version"]
    search_fields = ["article__slug", "title"]
    readonly_fields = ["article", "language", "status", "source_number", "side_by_side"]
    change_form_template = "admin/articles/articletranslation/change_form.html"

    ACTIONS = {
        "_submit": (DONE["_submit"], lambda t, u, c: rules.translation_submit(
            translation=t, user=u)),
        "_request_changes": (DONE["_request_changes"], lambda t, u, c: (
            rules.translation_request_changes(translation=t, user=u, comment=c))),
        "_approve": (DONE["_approve"], lambda t, u, c: rules.translation_approve(
            translation=t, user=u)),
        "_publish": (DONE["_publish"], lambda t, u, c: rules.translation_publish(
            translation=t, user=u)),
        "_update_source": (DONE["_update_source"], lambda t, u, c: (
            rules.translation_start(article=t.article, language=t.language, user=u))),
        "_withdraw": (DONE["_withdraw"], lambda t, u, c: rules.translation_withdraw_alone(
            translation=t, user=u, reason=c)),
    }  # fmt: skip

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = TranslationForm if obj else StartTranslationForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["article", "language"]
        return ["article", "language", "status", "source_number", "title", "summary", "body",
                "lock_version", "side_by_side"]  # fmt: skip

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else []

    def has_delete_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        action = next((name for name in self.ACTIONS if name in request.POST), None)
        if request.method == "POST" and action:
            translation = get_object_or_404(ArticleTranslation, pk=object_id)
            if not self.has_change_permission(request, translation):
                return self.changeform_view(request, object_id, form_url, extra_context)
            done, take = self.ACTIONS[action]
            try:
                field = "withdraw_reason" if action == "_withdraw" else "comment"
                take(translation, request.user, request.POST.get(field, ""))
            except WorkflowError as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                self.message_user(
                    request,
                    gettext("%(done)s: %(translation)s.")
                    % {"done": done, "translation": translation},
                    messages.SUCCESS,
                )
            return HttpResponseRedirect(request.path)
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        if not change:
            started = rules.translation_start(
                article=form.cleaned_data["article"],
                language=form.cleaned_data["language"],
                user=request.user,
            )
            obj.pk = started.pk
            obj.__dict__.update(
                {k: v for k, v in started.__dict__.items() if not k.startswith("_")}
            )
            return
        if not form.has_changed():
            return
        rules.translation_save(
            translation=obj,
            user=request.user,
            title=form.cleaned_data["title"],
            summary=form.cleaned_data["summary"],
            body=form.cleaned_data["body"],
            expected_lock_version=form.cleaned_data["lock_version"],
        )

    def save_related(self, request, form, formsets, change):
        pass  # contributors are the service's

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except (WorkflowError, TranslationConflictError) as error:
            self.message_user(
                request, gettext("Not saved: %(error)s") % {"error": error}, messages.ERROR
            )
            return HttpResponseRedirect(request.path)

    @admin.display(description=_("Translates"))
    def source_number(self, translation):
        return gettext("version %(number)s") % {"number": translation.source_version.number}

    @admin.display(description=_("Live"))
    def live_number(self, translation):
        if translation.live_version is None:
            return "-"
        return gettext("version %(number)s") % {"number": translation.live_version.number}

    @admin.display(description=_("Source and translation, claim by claim"))
    def side_by_side(self, translation):
        rows = side_by_side_rows(translation)
        body = format_html_join(
            "",
            '<tr id="translation-claim-{}"><th scope="row"><code>{}</code><br>{}<br>{}</th>'
            "<td lang=\"en\">{}</td><td lang=\"{}\">{}</td><td>{}</td></tr>",
            (
                (
                    row["id"], row["id"], row["certainty"], row["citations"], row["english"],
                    translation.language, row["translated"] or gettext("(missing)"),
                    row["changed"],
                )
                for row in rows
            ),
        )  # fmt: skip
        return format_html(
            '<table class="translation-side-by-side"><thead><tr><th scope="col">{}</th>'
            '<th scope="col">{}</th><th scope="col">{}</th>'
            '<th scope="col">{}</th></tr></thead><tbody>{}</tbody>'
            "</table>",
            gettext("Claim"),
            gettext("English (version %(number)s)") % {"number": translation.source_version.number},
            gettext("Translation"),
            gettext("Changed in English since"),
            body,
        )


class ReadOnlyAdmin(admin.ModelAdmin):
    """Immutable (database triggers): listed and shown, never added, changed or deleted."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(TranslationVersion)
class TranslationVersionAdmin(ReadOnlyAdmin):
    list_display = ["translation", "number", "source_version", "reviewer_name", "published_at"]
    list_select_related = ["translation__article", "source_version__article"]


@admin.register(TranslationEvent)
class TranslationEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "translation", "kind", "from_state", "to_state", "actor"]
    list_filter = ["kind", "to_state"]
    list_select_related = ["translation__article", "actor"]
    search_fields = ["translation__article__slug", "comment"]


def translation_url(translation: ArticleTranslation) -> str:
    return reverse("admin:articles_articletranslation_change", args=[translation.pk])
