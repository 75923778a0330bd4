"""Translations, claim by claim (issue 18): who may translate, review and publish, and
the rule that a translation carries its source's evidence facts unchanged.

    draft -> in_review -> approved -> published -> withdrawn
    in_review -> draft (changes requested); published/withdrawn -> draft (a new edit)

- A translation starts from the article's live version: its draft is that version's
  Markdown, so claim ids, citations and grades are right from the first keystroke.
- Every save is checked against the source version (`translation_facts_check`): the
  same section anchors, the same claim ids in the same order, and for each claim the
  same grade and the same supporting (with locators) and contradicting citations.
  Only text may change; a difference is refused with a message naming the claim.
- Approval: a Clinical reviewer whose staff profile lists the language, who did not
  edit this draft (four eyes), while the translation's source is the article's live
  version (gate `translation-stale-source`).
- Publication: a Publisher, of the approved version matching the draft, while its
  source is still live.
- A Publisher may withdraw a live translation on its own (`translation_withdraw_alone`,
  a mistranslation found after publication): its readers get the tombstone with the
  reason and a link to the English article, which stays live.
- When the article is withdrawn, its published translations are withdrawn with it
  (`translation_staleness.withdraw_translations_with_article`, a receiver of
  `article_withdrawn`).
- `editorial.services.translation_staleness.stale_claims` lists the claims of a
  published translation whose English text, grade or citations changed since the
  version it translates.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext, pgettext, pgettext_lazy

from articles.articlefile import reordering_control_problem
from articles.models import (
    Article,
    ArticleTranslation,
    StaffProfile,
    TranslationEvent,
    TranslationVersion,
)
from articles.rendering import ArticleFormatError, parse_body
from articles.roles import AUTHORS, CLINICAL_REVIEWERS, PUBLISHERS
from articles.services.translations import (
    source_body_text,
    translation_body_text,
    translation_claim_lock,
    translation_hash,
    translation_snapshot,
    translation_version_create,
    translation_version_publish,
    translation_withdraw,
)
from articles.services.versions import RenderedMismatchError
from editorial.services.gates import ERROR, Problem
from editorial.services.workflow import WorkflowError, user_in_group

T = ArticleTranslation.Status
SUMMARY_MAX = 300
# The gates of a translation's approval and publication (`translation_gates`), as
# gates.GATES lists the article's.
TRANSLATION_GATES = {
    "translation-stale-source": "the translation translates the article's live version",
    "translation-facts": "the translation keeps every evidence fact of its source version",
    "reviewer-credentials": "the approving reviewer has credentials on their staff profile",
}


def _may(user, group: str) -> bool:
    return bool(user and user.is_active and user.is_superuser) or user_in_group(user, group)


def role_check(user, group: str, action: str) -> None:
    if not _may(user, group):
        who = user.get_username() if user else gettext("nobody")
        raise WorkflowError(
            gettext("%(who)s may not %(action)s: only members of %(group)r may.")
            % {"who": who, "action": action, "group": group},
            rule="role",
        )


def state_check(translation: ArticleTranslation, allowed: set[str], action: str) -> None:
    if translation.status not in allowed:
        raise WorkflowError(
            gettext(
                "Cannot %(action)s the %(language)s translation of %(slug)s: it is %(state)r; "
                "this action needs one of: %(states)s."
            )
            % {
                "action": action,
                "language": translation.language,
                "slug": translation.article.slug,
                "state": str(translation.get_status_display()),
                "states": ", ".join(sorted(allowed)),
            },
            rule="transition-table",
        )


def translation_locked(translation: ArticleTranslation) -> ArticleTranslation:
    fresh = ArticleTranslation.objects.select_for_update().get(pk=translation.pk)
    translation.__dict__.update({k: v for k, v in fresh.__dict__.items() if not k.startswith("_")})
    return translation


def translation_event(
    translation: ArticleTranslation,
    user,
    *,
    kind: str = TranslationEvent.Kind.TRANSITION,
    source: str = "",
    version: TranslationVersion | None = None,
    comment: str = "",
) -> TranslationEvent:
    """Append one event to the translation's trail (its state now is the target)."""
    try:
        content_hash = (
            version.content_hash if version else translation_hash(translation_snapshot(translation))
        )
    except ArticleFormatError:
        content_hash = ""
    return TranslationEvent.objects.create(
        translation=translation,
        version=version,
        actor=user,
        kind=kind,
        from_state=source,
        to_state=translation.status,
        source_number=translation.source_version.number,
        content_hash=content_hash,
        comment=comment,
    )


# --- the evidence facts ----------------------------------------------------------------


def reordering_control_message(field: str, text: str) -> str | None:
    """What to tell the translator when `text` holds a control that reorders it."""
    problem = reordering_control_problem(text)
    if problem is None:
        return None
    return gettext(
        "The %(field)s, line %(line)s, has an invisible Unicode control that reorders the "
        "text around it for readers; delete it."
    ) % {"field": field, "line": problem[1]}


def _cites(refs) -> list[tuple[str, str]]:
    return [(ref.key, ref.locator) for ref in refs]


def translation_facts_check(source_snapshot: dict, body: str) -> list[str]:
    """What the translated `body` changes of the source's evidence facts, in plain words
    ([] when only text differs): sections (by anchor), claim ids in order, and each
    claim's grade, supporting citations with locators and contradicting citations,
    then any other citation in a section."""
    if message := reordering_control_message(pgettext("translation field", "text"), body):
        return [message]
    try:
        parsed = parse_body(body)
    except ArticleFormatError as exc:
        return [gettext("The translation does not parse: %(problem)s") % {"problem": exc}]
    source = parse_body(
        translation_body_text(
            (s["heading"], s["anchor"], s["body"]) for s in source_snapshot["sections"]
        )
    )
    want = [s.anchor for s in source]
    got = [s.anchor for s in parsed]
    if want != got:
        return [
            gettext(
                "The sections must be the source's, in order: %(want)s; the translation has "
                "%(got)s. Keep each heading's {#anchor} as it is."
            )
            % {"want": ", ".join(want), "got": ", ".join(got) or gettext("none")}
        ]
    problems = []
    source_claims = [(s.anchor, c) for s in source for c in s.claims]
    claims = [(s.anchor, c) for s in parsed for c in s.claims]
    by_id = {c.id: (anchor, c) for anchor, c in claims}
    source_ids = [c.id for _, c in source_claims]
    for anchor, claim in source_claims:
        if claim.id not in by_id:
            problems.append(
                gettext("Claim %(id)r is missing: translate it, keeping its id.") % {"id": claim.id}
            )
            continue
        its_anchor, mine = by_id[claim.id]
        if its_anchor != anchor:
            problems.append(
                gettext("Claim %(id)r must stay in section %(anchor)r.")
                % {"id": claim.id, "anchor": anchor}
            )
        if mine.certainty != claim.certainty:
            problems.append(
                gettext("Claim %(id)r: its certainty grade must stay %(want)r, not %(got)r.")
                % {
                    "id": claim.id,
                    "want": claim.certainty or "unrated",
                    "got": mine.certainty or "unrated",
                }
            )
        if _cites(mine.supports) != _cites(claim.supports):
            problems.append(
                gettext("Claim %(id)r: its supporting citations must stay %(want)s, not %(got)s.")
                % {
                    "id": claim.id,
                    "want": _cite_list(claim.supports),
                    "got": _cite_list(mine.supports),
                }
            )
        if list(mine.contradicts) != list(claim.contradicts):
            problems.append(
                gettext(
                    "Claim %(id)r: its contradicting citations must stay %(want)s, not %(got)s."
                )
                % {
                    "id": claim.id,
                    "want": ", ".join(claim.contradicts) or gettext("none"),
                    "got": ", ".join(mine.contradicts) or gettext("none"),
                }
            )
    problems += [
        gettext("Claim %(id)r is not in the source version: a translation adds no claims.")
        % {"id": c.id}
        for _, c in claims
        if c.id not in source_ids
    ]
    present = [c.id for _, c in claims if c.id in source_ids]
    if not problems and present != source_ids:
        problems.append(
            gettext("The claims must keep the source's order: %(ids)s.")
            % {"ids": ", ".join(source_ids)}
        )
    if not problems:
        for mine, theirs in zip(parsed, source, strict=True):
            if _cites(mine.citations) != _cites(theirs.citations):
                problems.append(
                    gettext("Section %(anchor)r: its citations must stay %(want)s, not %(got)s.")
                    % {
                        "anchor": theirs.anchor,
                        "want": _cite_list(theirs.citations),
                        "got": _cite_list(mine.citations),
                    }
                )
    return problems


def _cite_list(refs) -> str:
    return ", ".join(f"@{r.key}" + (f" ({r.locator})" if r.locator else "") for r in refs) or (
        gettext("none")
    )


# --- drafting --------------------------------------------------------------------------


def language_check(language: str) -> None:
    allowed = getattr(settings, "PTSDINFO_TRANSLATION_LANGUAGES", {})
    if language not in allowed:
        raise WorkflowError(
            gettext("Articles cannot be translated into %(language)r; the languages are: %(all)s.")
            % {"language": language, "all": ", ".join(sorted(allowed)) or gettext("none")},
            rule="translation-language",
        )


@transaction.atomic
def translation_start(*, article: Article, language: str, user) -> ArticleTranslation:
    """Begin (or bring up to date) the `language` translation of the live version.

    A new translation's draft is the live version's title, summary and Markdown. An
    existing translation keeps its text and now translates the live version: its saves
    are checked against it, and `stale_claims` says what to re-translate."""
    role_check(user, AUTHORS, pgettext_lazy("action", "translate"))
    language_check(language)
    article = Article.objects.select_for_update().get(pk=article.pk)
    live = article.live_version
    if live is None:
        raise WorkflowError(
            gettext("%(slug)s has no published version to translate.") % {"slug": article.slug},
            rule="translation-source",
        )
    translation = ArticleTranslation.objects.filter(article=article, language=language).first()
    if translation is None:
        translation = ArticleTranslation.objects.create(
            article=article,
            language=language,
            source_version=live,
            title=live.title,
            summary=live.summary,
            body=source_body_text(live),
            last_edited_by=user,
        )
        source = ""
    else:
        translation_locked(translation)
        state_check(
            translation, {T.DRAFT, T.PUBLISHED, T.WITHDRAWN}, pgettext_lazy("action", "update")
        )
        source = translation.status
        translation.source_version = live
        translation.status = T.DRAFT
        translation.last_edited_by = user
        translation.save(update_fields=["source_version", "status", "last_edited_by", "updated_at"])
        translation_claim_lock(translation=translation, expected=None)
    translation.contributors.add(user)
    translation_event(
        translation,
        user,
        kind=TranslationEvent.Kind.START,
        source=source,
        comment=f"Translating version {live.number}",
    )
    return translation


@transaction.atomic
def translation_save(
    *,
    translation: ArticleTranslation,
    user,
    title: str,
    summary: str,
    body: str,
    expected_lock_version: int | None = None,
    kind: str = TranslationEvent.Kind.EDIT,
    comment: str = "",
) -> ArticleTranslation:
    """Save the translated text, refused (rule "translation-facts", nothing written)
    unless it keeps every evidence fact of the source version. A saved published or
    withdrawn translation becomes a new draft; the live version stays live."""
    role_check(user, AUTHORS, pgettext_lazy("action", "translate"))
    translation_locked(translation)
    state_check(translation, {T.DRAFT, T.PUBLISHED, T.WITHDRAWN}, pgettext_lazy("action", "edit"))
    title, summary = " ".join(title.split()), " ".join(summary.split())
    problems = translation_facts_check(translation.source_version.snapshot, body)
    for field, text in (
        (pgettext("translation field", "title"), title),
        (pgettext("translation field", "summary"), summary),
    ):
        if message := reordering_control_message(field, text):
            problems.insert(0, message)
    if not title:
        problems.insert(0, "The translation needs a title.")
    if len(summary) > SUMMARY_MAX:
        problems.insert(0, f"The summary is {len(summary)} characters; at most {SUMMARY_MAX}.")
    if problems:
        raise WorkflowError(
            gettext("Not saved: a translation changes only text.")
            + "\n"
            + "\n".join(f"- {p}" for p in problems),
            rule="translation-facts",
            problems=problems,
        )
    translation_claim_lock(translation=translation, expected=expected_lock_version)
    source = translation.status
    translation.title, translation.summary, translation.body = title, summary, body
    translation.status = T.DRAFT
    translation.last_edited_by = user
    translation.save(
        update_fields=["title", "summary", "body", "status", "last_edited_by", "updated_at"]
    )
    translation.contributors.add(user)
    translation_event(translation, user, kind=kind, source=source, comment=comment)
    return translation


# --- review and publication ------------------------------------------------------------


@transaction.atomic
def translation_submit(*, translation: ArticleTranslation, user) -> ArticleTranslation:
    role_check(user, AUTHORS, pgettext_lazy("action", "submit a translation"))
    translation_locked(translation)
    state_check(translation, {T.DRAFT}, pgettext_lazy("action", "submit"))
    translation.status = T.IN_REVIEW
    translation.save(update_fields=["status", "updated_at"])
    translation_event(translation, user, source=T.DRAFT)
    return translation


@transaction.atomic
def translation_request_changes(
    *, translation: ArticleTranslation, user, comment: str
) -> ArticleTranslation:
    role_check(user, CLINICAL_REVIEWERS, pgettext_lazy("action", "review a translation"))
    translation_locked(translation)
    state_check(translation, {T.IN_REVIEW}, pgettext_lazy("action", "send back"))
    if not comment.strip():
        raise WorkflowError(
            gettext("Sending back needs a comment saying why."), rule="comment-required"
        )
    translation.status = T.DRAFT
    translation.save(update_fields=["status", "updated_at"])
    translation_event(translation, user, source=T.IN_REVIEW, comment=comment)
    return translation


def translation_gates(*, translation: ArticleTranslation, reviewer=None) -> list[Problem]:
    """The errors that block approving or publishing this translation."""
    problems = []
    live_id = translation.article.live_version_id
    if translation.source_version_id != live_id:
        source = translation.source_version
        problems.append(
            Problem(
                ERROR,
                "translation-stale-source",
                (
                    gettext(
                        "The translation is of version %(number)s of %(slug)s, but version "
                        "%(live)s is live: bring the translation up to date first."
                    )
                    if live_id
                    else gettext(
                        "The translation is of version %(number)s of %(slug)s, and the article "
                        "is not published."
                    )
                )
                % {
                    "number": source.number,
                    "slug": translation.article.slug,
                    "live": translation.article.live_version.number if live_id else "",
                },
            )
        )
    problems += [
        Problem(ERROR, "translation-facts", text)
        for text in translation_facts_check(translation.source_version.snapshot, translation.body)
    ]
    if reviewer is not None:
        profile = getattr(reviewer, "profile", None)
        if profile is None or not profile.credentials.strip():
            problems.append(
                Problem(
                    ERROR,
                    "reviewer-credentials",
                    gettext(
                        "Reviewer %(who)s has no credentials on their staff profile; readers "
                        "must see who checked the translation."
                    )
                    % {"who": reviewer.get_username()},
                    field="reviewer",
                )
            )
    return problems


def _refuse_on_gates(translation: ArticleTranslation, reviewer, action: str) -> None:
    errors = translation_gates(translation=translation, reviewer=reviewer)
    if errors:
        raise WorkflowError(
            gettext("%(action)s refused while these problems stand:") % {"action": action}
            + "\n"
            + "\n".join(f"- {p.message}" for p in errors),
            rule=errors[0].code,
            problems=errors,
        )


@transaction.atomic
def translation_approve(*, translation: ArticleTranslation, user) -> TranslationVersion:
    """A Clinical reviewer fluent in the language, who did not edit this draft, approves
    it: the draft is frozen as the next translation version."""
    if not user_in_group(user, CLINICAL_REVIEWERS):
        raise WorkflowError(
            gettext("%(who)s may not approve a translation: only members of %(group)r may.")
            % {
                "who": user.get_username() if user else gettext("nobody"),
                "group": CLINICAL_REVIEWERS,
            },
            rule="role",
        )
    translation_locked(translation)
    state_check(translation, {T.IN_REVIEW}, pgettext_lazy("action", "approve"))
    profile = StaffProfile.objects.filter(user=user).first()  # as stored now, not cached
    if profile is None or not profile.reads(translation.language):
        raise WorkflowError(
            gettext(
                "%(who)s is not marked as fluent in %(language)r (staff profile, languages), "
                "so cannot approve this translation."
            )
            % {"who": user.get_username(), "language": translation.language},
            rule="translation-fluency",
        )
    if translation.contributors.filter(pk=user.pk).exists():
        raise WorkflowError(
            gettext(
                "%(who)s translated or edited this draft and so cannot approve it: a second "
                "person fluent in the language must (four eyes)."
            )
            % {"who": user.get_username()},
            rule="four-eyes",
        )
    _refuse_on_gates(translation, user, gettext("Approval"))
    try:
        version = translation_version_create(
            translation=translation, translator=translation.last_edited_by, reviewer=user
        )
    except RenderedMismatchError as exc:
        raise WorkflowError(
            gettext("Approval refused: the page would not say what was approved: %(problem)s.")
            % {"problem": exc},
            rule=exc.rule,
        ) from exc
    translation.status = T.APPROVED
    translation.save(update_fields=["status", "updated_at"])
    translation.contributors.clear()
    translation_event(translation, user, source=T.IN_REVIEW, version=version)
    return version


@transaction.atomic
def translation_publish(*, translation: ArticleTranslation, user) -> TranslationVersion:
    """A Publisher makes the approved version live, while its source is still live."""
    role_check(user, PUBLISHERS, pgettext_lazy("action", "publish a translation"))
    translation_locked(translation)
    state_check(translation, {T.APPROVED}, pgettext_lazy("action", "publish"))
    version = translation.versions.filter(published_at__isnull=True).order_by("-number").first()
    if version is None or version.content_hash != translation_hash(
        translation_snapshot(translation)
    ):
        raise WorkflowError(
            gettext("There is no approval for the current translation; it must be approved again."),
            rule="content-hash",
        )
    _refuse_on_gates(translation, None, gettext("Publication"))
    try:
        translation_version_publish(version=version)
    except RenderedMismatchError as exc:
        raise WorkflowError(
            gettext("Publication refused: %(problem)s.") % {"problem": exc}, rule=exc.rule
        ) from exc
    translation.refresh_from_db()
    translation_event(translation, user, source=T.APPROVED, version=version)
    return version


@transaction.atomic
def translation_withdraw_alone(
    *, translation: ArticleTranslation, user, reason: str
) -> ArticleTranslation:
    """A Publisher takes a live translation off the site while the English article stays
    live. `reason` is shown to the translation's readers, so it is written in their
    language. Every version is kept; a new edit starts a draft from the live source."""
    role_check(user, PUBLISHERS, pgettext_lazy("action", "withdraw a translation"))
    translation_locked(translation)
    if translation.live_version_id is None:
        raise WorkflowError(
            gettext("Only a published translation can be withdrawn."), rule="transition-table"
        )
    if not reason.strip():
        raise WorkflowError(
            gettext("Withdrawing needs a reason; the translation's readers see it."),
            rule="comment-required",
        )
    source = translation.status
    translation_withdraw(translation=translation, reason=reason.strip())
    translation.refresh_from_db()
    translation_event(translation, user, source=source, comment=reason.strip())
    return translation
