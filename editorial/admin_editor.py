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
from django.views.decorators.http import require_POST
from markdownx.widgets import MarkdownxWidget

from articles.articlefile import AUDIENCES, SLUG_RE, TOPIC_RE, ArticleFileError
from articles.models import (
    Article,
    Certainty,
    ClaimCitation,
    EvidenceFactChange,
    ReaderReport,
    ReviewEvent,
)
from articles.rendering import slugify_heading
from articles.services import library
from articles.services.drafts import (
    DraftConflictError,
    UnknownTopicError,
    article_save_text,
    draft_body_text,
)
from articles.services.snapshots import article_content_hash, draft_snapshot
from editorial.diffing import diff_snapshots, inline_html
from editorial.services import workflow
from editorial.services.gates import article_gates

HOLDER = {
    Article.Status.DRAFT: "With the author",
    Article.Status.IN_REVIEW: "Waiting for a Clinical reviewer",
    Article.Status.CHANGES_REQUESTED: "Back with the author: changes requested",
    Article.Status.APPROVED: "Approved: waiting for a Publisher",
    Article.Status.PUBLISHED: "Published",
    Article.Status.WITHDRAWN: "Withdrawn",
}


def _person(user) -> str:
    if user is None:
        return "the author"
    profile = getattr(user, "profile", None)
    return getattr(profile, "display_name", "") or user.get_username()


def next_step(article: Article, actor) -> str:
    """After an action: who holds the article now and what happens next, in plain words."""
    author = article.last_edited_by
    if article.status == Article.Status.IN_REVIEW:
        return "It is now with the Clinical reviewers. You will hear back when one has reviewed it."
    if article.status == Article.Status.CHANGES_REQUESTED:
        return (
            f"Sent back to {_person(author)}. You will see it again when they resubmit."
            if author != actor
            else "It is back with you: make the changes and submit it again."
        )
    if article.status == Article.Status.APPROVED:
        return "Approved. It now waits for a Publisher to publish or schedule it."
    if article.status == Article.Status.PUBLISHED:
        return "Published: readers see this version now."
    if article.status == Article.Status.DRAFT:
        return f"It is a draft with {_person(author)}."
    return HOLDER.get(article.status, "")


class ArticleBodyWidget(MarkdownxWidget):
    """markdownx's editor, previewing through the article-aware staff endpoint."""

    preview_url = ""

    def get_context(self, name, value, attrs=None):
        context = super().get_context(name, value, attrs)
        if self.preview_url:
            context["widget"]["attrs"]["data-markdownx-urls-path"] = self.preview_url
        return context


class ArticleEditorForm(forms.Form):
    title = forms.CharField(max_length=200)
    slug = forms.CharField(
        max_length=120,
        required=False,
        help_text="Lowercase words joined by hyphens; made from the title when empty.",
    )
    summary = forms.CharField(
        max_length=300,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required before approval; at most 300 characters.",
    )
    topics = forms.CharField(
        required=False, help_text="Topic slugs separated by commas, e.g. ptsd, treatments."
    )
    audience = forms.ChoiceField(choices=[(a, a.title()) for a in AUDIENCES])
    review_interval_months = forms.IntegerField(min_value=1, max_value=60, initial=12)
    body = forms.CharField(
        required=False,
        widget=ArticleBodyWidget(attrs={"rows": 30, "class": "article-body-editor"}),
        help_text=(
            "Use the buttons above the text: Section heading, Cite, Mark as claim. "
            "Without them the text is Markdown: '## Heading' starts a section; cite with "
            "[@key]; a claim is [statement [@key]]{.claim #claim-id}."
        ),
    )
    lock_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, article: Article | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if article is not None:
            self.fields["slug"].disabled = True
            path = reverse("editor:markdownify")
            self.fields["body"].widget.preview_url = f"{path}?article={article.pk}"

    def clean_slug(self):
        slug = self.cleaned_data["slug"].strip() or slugify_heading(
            self.cleaned_data.get("title", "")
        )
        if not SLUG_RE.match(slug):
            raise forms.ValidationError("Use lowercase letters, digits and single hyphens.")
        return slug

    def clean_topics(self):
        topics = [t.strip() for t in self.cleaned_data["topics"].split(",") if t.strip()]
        bad = [t for t in topics if not TOPIC_RE.match(t)]
        if bad:
            raise forms.ValidationError(f"Not a topic slug: {', '.join(bad)}")
        return topics


def _initial(article: Article) -> dict:
    return {
        "title": article.title,
        "slug": article.slug,
        "summary": article.summary,
        "topics": ", ".join(article.topics.values_list("slug", flat=True)),
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
                **(_review_context(request, article) if article else {}),
                "opts": Article._meta,
                "title": f"Edit “{article.title}”" if article else "New article",
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
        )
    except UnknownTopicError as exc:
        form.add_error("topics", exc.message)
        return None
    except ArticleFileError as exc:
        where = f"Line {exc.line}: " if exc.line else ""
        form.add_error("body", f"{where}{exc.message}")
        return None
    except DraftConflictError as exc:
        form.conflict = exc
        form.conflict_body = draft_body_text(exc.article)
        form.add_error(
            None,
            "Someone else saved this article after you opened it, so your changes were not "
            "saved. Your text is still below. Compare it with their changes (listed here), "
            "merge what you need and save again.",
        )
        # They have now seen the other edit: the next save is checked against it.
        form.data = form.data.copy()
        form.data["lock_version"] = str(exc.current)
        return None
    if article is None and not result.created:
        form.add_error("slug", "An article with this slug already exists.")
        return None
    messages.success(
        request,
        "Saved." if result.changed or result.created else "No changes to save.",
    )
    if result.changed and article and article.status != result.article.status:
        messages.warning(request, "The content changed, so the article is back in draft.")
    return result.article


def _review_context(request, article: Article) -> dict:
    is_reviewer = workflow.user_in_group(request.user, workflow.CLINICAL_REVIEWERS)
    problems = article_gates(article=article, reviewer=request.user if is_reviewer else None)
    claims = list(
        article.claims.order_by("position")
        .select_related("section")
        .prefetch_related("claim_citations__citation")
    )
    comments: dict[str, list[ReviewEvent]] = {}
    events = list(
        article.events.select_related("actor", "version").order_by("-created_at", "-id")[:100]
    )
    for event in events:
        if event.claim_key:
            comments.setdefault(event.claim_key, []).append(event)
    open_reports: dict[str, list[ReaderReport]] = {}
    for report in article.reader_reports.filter(state__in=ReaderReport.OPEN_STATES):
        open_reports.setdefault(report.claim_key, []).append(report)
    rows = []
    for claim in claims:
        links = list(claim.claim_citations.all())
        rows.append(
            {
                "claim": claim,
                "supports": [
                    link for link in links if link.relation == ClaimCitation.Relation.SUPPORTS
                ],
                "contradicts": [
                    link for link in links if link.relation == ClaimCitation.Relation.CONTRADICTS
                ],
                "comments": comments.get(claim.key, [])[:3],
                "reports": open_reports.get(claim.key, []),
            }
        )
    versions = list(article.versions.order_by("-number").only("number", "published_at"))
    last_approved_at = (
        article.versions.exclude(approved_at=None)
        .order_by("-approved_at")
        .values_list("approved_at", flat=True)
        .first()
    )
    evidence_changes = EvidenceFactChange.objects.filter(
        citation_id__in=article.bibliography.values("citation_id")
    ).select_related("actor")
    if last_approved_at:
        evidence_changes = evidence_changes.filter(created_at__gt=last_approved_at)
    return {
        "last_approved_at": last_approved_at,
        "evidence_changes": list(evidence_changes.order_by("-created_at", "-id")[:200]),
        "topic_list": list(article.topics.order_by("name")),
        "holder": HOLDER[article.status],
        "problems": problems,
        "errors": [p for p in problems if p.is_error],
        "claim_rows": rows,
        "page_reports": open_reports.get("", []),
        "events": events,
        "transitions": workflow.available_transitions(article=article, user=request.user),
        "content_hash": article_content_hash(article),
        "versions": versions,
        "certainties": Certainty.choices,
        "can_grade": is_reviewer and article.status == Article.Status.IN_REVIEW,
        "scheduled": article.versions.filter(
            published_at__isnull=True, scheduled_for__isnull=False
        ).first(),
    }


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
                messages.error(request, "Give the go-live time as a date and time.")
                return _back(article)
            kwargs["at"] = timezone.make_aware(at) if timezone.is_naive(at) else at
        try:
            workflow.ACTIONS[action](**kwargs)
        except workflow.WorkflowError as exc:
            messages.error(request, str(exc))
        else:
            label = workflow.TRANSITIONS[action].label or action
            article.refresh_from_db()
            messages.success(request, f"{label}: done. {next_step(article, request.user)}")
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
                workflow.claim_grade(
                    article=article, user=request.user, key=key, certainty=certainty,
                    comment=comment,
                )  # fmt: skip
            elif comment:
                workflow.claim_comment(article=article, user=request.user, key=key, comment=comment)
            else:
                messages.info(request, "Nothing to record.")
                return _back(article, f"#claim-row-{key}")
        except workflow.WorkflowError as exc:
            messages.error(request, str(exc))
        else:
            left = article.claims.filter(certainty="").count()
            messages.success(
                request,
                f"Claim {key}: recorded. "
                + (
                    f"{left} claim(s) still to grade, then approve or request changes."
                    if left
                    else "Every claim is graded: approve the article or request changes."
                ),
            )
        return _back(article, f"#claim-row-{key}")

    return view


def _has_nul(request) -> bool:
    """A NUL character in any posted value is refused with a message: PostgreSQL cannot
    store one, so it would otherwise end in a 500 (issue 11, item 7)."""
    if any("\x00" in key or "\x00" in value for key, value in request.POST.items()):
        messages.error(request, "The form contained a NUL character; nothing was recorded.")
        return True
    return False


def _back(article: Article, fragment: str = ""):
    return HttpResponseRedirect(
        reverse("admin:articles_article_change", args=[article.pk]) + fragment
    )


def diff_view(model_admin):
    def view(request, pk: int):
        if not model_admin.has_view_or_change_permission(request):
            raise PermissionDenied  # before the lookup: the same answer for any pk
        article = get_object_or_404(Article, pk=pk)
        if not model_admin.has_view_or_change_permission(request, article):
            raise PermissionDenied
        old_ref = request.GET.get("old") or ("live" if article.live_version_id else "none")
        new_ref = request.GET.get("new") or "draft"
        old, new = _snapshot(article, old_ref), _snapshot(article, new_ref)
        if new is None:
            raise Http404("No such version.")
        diff = diff_snapshots(old, new)
        sections = [
            {
                "section": section,
                "changes": [
                    {"change": change, "html": inline_html(change)}
                    for change in section.sentences
                    if change.kind != "equal"
                ],
            }
            for section in diff.sections
            if section.status != "unchanged"
        ]
        return TemplateResponse(
            request,
            "admin/articles/article_diff.html",
            {
                **model_admin.admin_site.each_context(request),
                "opts": Article._meta,
                "title": f"Changes in “{article.title}”",
                "article": article,
                "diff": diff,
                "sections": sections,
                "old_ref": old_ref,
                "new_ref": new_ref,
                "versions": article.versions.order_by("-number").only("number"),
            },
        )

    return view


def _snapshot(article: Article, ref: str) -> dict | None:
    if ref == "draft":
        return draft_snapshot(article)
    if ref == "live":
        return article.live_version.snapshot if article.live_version_id else None
    if ref.isascii() and ref.isdigit():  # "²" is a digit to str.isdigit, not to int()
        version = article.versions.filter(number=int(ref)).only("snapshot").first()
        return version.snapshot if version else None
    return None


class CitationSourceForm(forms.Form):
    identifier = forms.CharField(
        required=False,
        label="DOI or PMID",
        help_text="e.g. 10.1001/jamapsychiatry.2014.62, https://doi.org/..., or 24740528",
    )
    text = forms.CharField(
        required=False,
        label="Or paste references",
        widget=forms.Textarea(attrs={"rows": 12}),
        help_text="BibTeX, RIS, CSL-JSON, CSL-YAML or PubMed (.nbib) text.",
    )
    fmt = forms.ChoiceField(
        label="Format",
        choices=[
            ("auto", "Detect"),
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
            raise forms.ValidationError("Enter a DOI or PMID, or paste references.")
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
                "title": "Add citations",
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
