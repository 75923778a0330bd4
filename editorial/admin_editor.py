"""The article editor and review page in the admin, and the citation intake page.

Views only: every write is a call into `articles.services`; every rule lives there.
"""

from __future__ import annotations

from datetime import datetime

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST
from markdownx.widgets import MarkdownxWidget

from articles.articlefile import AUDIENCES, SLUG_RE, TITLE_MAX, ArticleFileError
from articles.models import Article, Topic
from articles.rendering import slugify_heading
from articles.services import library
from articles.services.drafts import (
    DraftConflictError,
    SlugTakenError,
    UnknownTopicError,
    article_save_text,
    draft_body_text,
)
from editorial import admin_watch
from editorial.admin_review import HOLDER, review_context
from editorial.services import grading, workflow


def _person(user) -> str:
    if user is None:
        return gettext("the author")
    profile = getattr(user, "profile", None)
    return getattr(profile, "display_name", "") or user.get_username()


def next_step(article: Article, actor) -> str:
    """After an action: who holds the article now and what happens next, in plain words."""
    author = article.last_edited_by
    if article.status == Article.Status.IN_REVIEW:
        return gettext(
            "It is now with the Clinical reviewers. You will hear back when one has reviewed it."
        )
    if article.status == Article.Status.CHANGES_REQUESTED:
        return (
            gettext("Sent back to %(person)s. You will see it again when they resubmit.")
            % {"person": _person(author)}
            if author != actor
            else gettext("It is back with you: make the changes and submit it again.")
        )
    if article.status == Article.Status.APPROVED:
        return gettext("Approved. It now waits for a Publisher to publish or schedule it.")
    if article.status == Article.Status.PUBLISHED:
        return gettext("Published: readers see this version now.")
    if article.status == Article.Status.DRAFT:
        return gettext("It is a draft with %(person)s.") % {"person": _person(author)}
    return HOLDER.get(article.status, "")


class ArticleBodyWidget(MarkdownxWidget):
    """markdownx's editor, previewing through the article-aware staff endpoint."""

    preview_url = ""

    def get_context(self, name, value, attrs=None):
        context = super().get_context(name, value, attrs)
        if self.preview_url:
            context["widget"]["attrs"]["data-markdownx-urls-path"] = self.preview_url
        return context


# The sections the editorial policy expects of a new article (DESIGN.md); the author
# deletes what does not fit. The same text without JavaScript as with it.
STARTER_OUTLINE = "\n".join(
    [
        "## What it is {#what-it-is}",
        "",
        "",
        "## What the research shows {#what-the-research-shows}",
        "",
        "",
        "## Safety {#safety}",
        "",
        "",
        "## Talking to your doctor {#talking-to-your-doctor}",
        "",
    ]
)


AUDIENCE_LABELS = {"public": _("Public"), "clinician": _("Clinician")}


class ArticleEditorForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=TITLE_MAX)
    slug = forms.CharField(
        label=_("Slug"),
        max_length=120,
        required=False,
        help_text=_("Lowercase words joined by hyphens; made from the title when empty."),
    )
    summary = forms.CharField(
        label=_("Summary"),
        max_length=300,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required before approval; at most 300 characters."),
    )
    topics = forms.MultipleChoiceField(
        label=_("Topics"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "Tick every topic that fits. A Publisher adds new topics (Topics, in the admin)."
        ),
    )
    audience = forms.ChoiceField(
        label=_("Audience"),
        choices=[(a, AUDIENCE_LABELS.get(a, a.title())) for a in AUDIENCES],
        help_text=_("Public: written for anyone. Clinician: written for health professionals."),
    )
    review_interval_months = forms.IntegerField(
        label=_("Review interval months"), min_value=1, max_value=60, initial=12
    )
    body = forms.CharField(
        label=_("Body"),
        required=False,
        widget=ArticleBodyWidget(attrs={"rows": 30, "class": "article-body-editor"}),
        help_text=_(
            "Use the buttons above the text: Section heading, Cite, Mark as claim. "
            "Without them the text is Markdown: '## Heading' starts a section; cite with "
            "[@key]; a claim is [statement [@key]]{.claim #claim-id}."
        ),
    )
    lock_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, article: Article | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["topics"].choices = list(
            Topic.objects.order_by("name").values_list("slug", "name")
        )
        if article is None:
            self.fields["body"].initial = STARTER_OUTLINE
        else:
            self.fields["slug"].disabled = True
            path = reverse("editor:markdownify")
            self.fields["body"].widget.preview_url = f"{path}?article={article.pk}"
        self.editing = article is not None

    def clean(self):
        cleaned = super().clean()
        # The version the editor opened: a save without it would skip the check that
        # keeps two editors from overwriting each other.
        if self.editing and cleaned.get("lock_version") is None:
            raise forms.ValidationError(
                gettext(
                    "This page did not say which version of the article you opened, so "
                    "your changes were not saved. Your text is still below: copy it, "
                    "reload the article and make your change again."
                )
            )
        return cleaned

    def clean_slug(self):
        slug = self.cleaned_data["slug"].strip() or slugify_heading(
            self.cleaned_data.get("title", ""), fallback=""
        )
        if not slug:
            raise forms.ValidationError(
                gettext("The title has no Latin letters or digits to make a slug from: type one.")
            )
        if not SLUG_RE.match(slug):
            raise forms.ValidationError(
                gettext("Use lowercase letters, digits and single hyphens.")
            )
        return slug


def _initial(article: Article) -> dict:
    return {
        "title": article.title,
        "slug": article.slug,
        "summary": article.summary,
        "topics": list(article.topics.values_list("slug", flat=True)),
        "audience": article.audience,
        "review_interval_months": article.review_interval_months,
        "body": draft_body_text(article),
        "lock_version": article.lock_version,
    }


def editor_view(model_admin):
    def view(request, pk: int | None = None):
        if pk and not model_admin.has_view_or_change_permission(request):
            raise PermissionDenied  # before the lookup: the same answer for any pk
        article = get_object_or_404(Article, pk=pk) if pk else None
        if article is None and not model_admin.has_add_permission(request):
            raise PermissionDenied
        if article is not None and not model_admin.has_view_or_change_permission(request, article):
            raise PermissionDenied
        can_edit = model_admin.has_change_permission(request, article) and (
            article is None or article.status != Article.Status.WITHDRAWN
        )
        if request.method == "POST":
            if not can_edit:
                raise PermissionDenied
            form = ArticleEditorForm(request.POST, article=article)
            if form.is_valid():
                saved = _save(request, form, article)
                if saved is not None:
                    return HttpResponseRedirect(
                        reverse("admin:articles_article_change", args=[saved.pk])
                    )
        else:
            form = ArticleEditorForm(initial=_initial(article) if article else {}, article=article)
        if not can_edit:
            for field in form.fields.values():
                field.disabled = True
        return TemplateResponse(
            request,
            "admin/articles/article_editor.html",
            {
                **model_admin.admin_site.each_context(request),
                **(review_context(request, article) if article else {}),
                **(admin_watch.review_context(article) if article else {}),
                "opts": Article._meta,
                "title": gettext("Edit “%(title)s”") % {"title": article.title}
                if article
                else gettext("New article"),
                "article": article,
                "form": form,
                "media": model_admin.media + form.media,
                "can_edit": can_edit,
                "is_reviewer": workflow.user_in_group(request.user, workflow.CLINICAL_REVIEWERS),
            },
        )

    return view


def _save(request, form: ArticleEditorForm, article: Article | None) -> Article | None:
    """Save through the service; on a problem, put it on the form and keep the text."""
    data = form.cleaned_data
    try:
        result = article_save_text(
            slug=article.slug if article else data["slug"],
            title=data["title"],
            summary=data["summary"],
            topics=data["topics"],
            audience=data["audience"],
            review_interval_months=data["review_interval_months"],
            body=data["body"],
            user=request.user,
            expected_lock_version=data["lock_version"] if article else None,
            create_only=article is None,
        )
    except SlugTakenError:
        form.add_error("slug", gettext("An article with this slug already exists."))
        return None
    except UnknownTopicError as exc:
        form.add_error("topics", exc.message)
        return None
    except ArticleFileError as exc:
        where = gettext("Line %(line)s: ") % {"line": exc.line} if exc.line else ""
        form.add_error("body", f"{where}{exc.message}")
        return None
    except DraftConflictError as exc:
        form.conflict = exc
        form.conflict_body = draft_body_text(exc.article)
        form.add_error(
            None,
            gettext(
                "Someone else saved this article after you opened it, so your changes were not "
                "saved. Your text is still below. Compare it with their changes (listed here), "
                "merge what you need and save again."
            ),
        )
        # They have now seen the other edit: the next save is checked against it.
        form.data = form.data.copy()
        form.data["lock_version"] = str(exc.current)
        return None
    messages.success(
        request,
        gettext("Saved.") if result.changed or result.created else gettext("No changes to save."),
    )
    if result.changed and article and article.status != result.article.status:
        messages.warning(request, gettext("The content changed, so the article is back in draft."))
    return result.article


def transition_view(model_admin):
    @require_POST
    def view(request, pk: int, action: str):
        article = get_object_or_404(Article, pk=pk)
        if action not in workflow.ACTIONS:
            raise Http404
        if _has_nul(request):
            return _back(article)
        comment = request.POST.get("comment", "")
        kwargs = {"article": article, "user": request.user}
        if action == "withdraw":
            kwargs["reason"] = comment
        else:
            kwargs["comment"] = comment
        if action == "approve":
            kwargs["expected_hash"] = request.POST.get("content_hash") or None
            if request.POST.get("change_summary", "").strip():
                kwargs["change_summary"] = request.POST["change_summary"].strip()
        if action == "schedule":
            try:
                at = datetime.fromisoformat(request.POST.get("at", ""))
            except ValueError:
                messages.error(request, gettext("Give the go-live time as a date and time."))
                return _back(article)
            kwargs["at"] = timezone.make_aware(at) if timezone.is_naive(at) else at
        try:
            workflow.ACTIONS[action](**kwargs)
        except workflow.WorkflowError as exc:
            messages.error(request, str(exc))
        else:
            label = workflow.TRANSITIONS[action].label or action
            article.refresh_from_db()
            messages.success(
                request,
                gettext("%(action)s: done. %(next)s")
                % {"action": label, "next": next_step(article, request.user)},
            )
        return _back(article)

    return view


def claim_review_view(model_admin):
    @require_POST
    def view(request, pk: int):
        article = get_object_or_404(Article, pk=pk)
        if _has_nul(request):
            return _back(article)
        key = request.POST.get("claim", "")
        certainty = request.POST.get("certainty", "")
        comment = request.POST.get("comment", "").strip()
        try:
            current = article.claims.filter(key=key).values_list("certainty", flat=True).first()
            if certainty and certainty != current:
                grading.claim_grade(
                    article=article, user=request.user, key=key, certainty=certainty,
                    comment=comment,
                )  # fmt: skip
            elif comment:
                grading.claim_comment(article=article, user=request.user, key=key, comment=comment)
            else:
                messages.info(request, gettext("Nothing to record."))
                return _back(article, f"#claim-row-{key}")
        except workflow.WorkflowError as exc:
            messages.error(request, str(exc))
        else:
            left = article.claims.filter(certainty="").count()
            messages.success(
                request,
                gettext("Claim %(key)s: recorded.") % {"key": key}
                + " "
                + (
                    ngettext(
                        "%(count)d claim still to grade, then approve or request changes.",
                        "%(count)d claims still to grade, then approve or request changes.",
                        left,
                    )
                    % {"count": left}
                    if left
                    else gettext("Every claim is graded: approve the article or request changes.")
                ),
            )
        return _back(article, f"#claim-row-{key}")

    return view


def _has_nul(request) -> bool:
    """A NUL character in any posted value is refused with a message: PostgreSQL cannot
    store one, so it would otherwise end in a 500 (issue 11, item 7)."""
    if any("\x00" in key or "\x00" in value for key, value in request.POST.items()):
        messages.error(
            request, gettext("The form contained a NUL character; nothing was recorded.")
        )
        return True
    return False


def _back(article: Article, fragment: str = ""):
    return HttpResponseRedirect(
        reverse("admin:articles_article_change", args=[article.pk]) + fragment
    )


class CitationSourceForm(forms.Form):
    identifier = forms.CharField(
        required=False,
        label=_("DOI or PMID"),
        help_text=_("e.g. 10.1001/jamapsychiatry.2014.62, https://doi.org/..., or 24740528"),
    )
    text = forms.CharField(
        required=False,
        label=_("Or paste references"),
        widget=forms.Textarea(attrs={"rows": 12}),
        help_text=_("BibTeX, RIS, CSL-JSON, CSL-YAML or PubMed (.nbib) text."),
    )
    fmt = forms.ChoiceField(
        label=_("Format"),
        choices=[
            ("auto", _("Detect")),
            ("bibtex", "BibTeX"),
            ("ris", "RIS"),
            ("csl-json", "CSL-JSON"),
            ("csl-yaml", "CSL-YAML"),
            ("nbib", "PubMed (.nbib)"),
        ],
        initial="auto",
    )

    def clean(self):
        data = super().clean()
        if not data.get("identifier", "").strip() and not data.get("text", "").strip():
            raise forms.ValidationError(gettext("Enter a DOI or PMID, or paste references."))
        return data


def citation_add_view(model_admin):
    def view(request):

        if not model_admin.has_add_permission(request):
            raise PermissionDenied
        form = CitationSourceForm(request.POST or None)
        report = None
        if request.method == "POST" and form.is_valid():
            report = _add_citations(request, form, library)
        return TemplateResponse(
            request,
            "admin/articles/citation_add.html",
            {
                **model_admin.admin_site.each_context(request),
                "opts": model_admin.model._meta,
                "title": gettext("Add citations"),
                "form": form,
                "report": report,
            },
        )

    return view


def _add_citations(request, form, library) -> list[dict]:
    identifier = form.cleaned_data["identifier"].strip()
    try:
        if identifier:
            citation = library.citation_add_by_identifier(identifier=identifier, user=request.user)
            return [{"status": "created", "citation": citation}]
        result = library.citations_add_from_text(
            text=form.cleaned_data["text"], fmt=form.cleaned_data["fmt"], user=request.user
        )
        return library.report_rows(result)
    except library.DuplicateCitationError as exc:
        return [{"status": "duplicate", "citation": exc.existing, "message": str(exc)}]
    except Exception as exc:
        if not isinstance(exc, library.EXPECTED_ERRORS):
            raise
        return [{"status": "error", "message": str(exc)}]
