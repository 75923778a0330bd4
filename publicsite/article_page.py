"""The article page's version-only parts, rendered once per published version.

An approved version never changes, so everything on its page that depends only on it
(the review box, crisis help, table of contents, body and reference list, report links,
"What changed", the JSON-LD without its addresses) is rendered from the templates
`articles/_article_meta.html` and `articles/_article_static.html` when the version goes
live, and stored on it (`ArticleVersion.page_meta`, `page_body`, `page_ld`). A request
then costs one indexed read and the thin per-request template
`articles/article_detail.html` (canonical URL, retraction notice, addresses in the
JSON-LD).

Staleness: each stored page carries `page_key`, "<digest>:<slug>", the digest covering
the fragment templates' sources (with everything they include), the publisher's name,
the URLs they link to and `RENDER_VERSION` (bump it when the context built here
changes). When it does not match (templates changed, or the article's slug), the page
is rendered for that request from the version (the old cost, correct output) and not
stored: public views never write.
After every `manage.py migrate` (each release runs it) the stale pages of live versions
are rendered and stored (`pages_after_migrate`); `manage.py render_article_pages` does
the same on demand. See docs/performance.md.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from types import SimpleNamespace

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db.models import CharField, F, Q, Value
from django.db.models.functions import Cast, Concat
from django.db.models.signals import post_migrate
from django.dispatch import receiver
from django.template.loader import get_template, render_to_string
from django.template.loader_tags import ExtendsNode, IncludeNode
from django.urls import reverse
from django.utils.html import escape
from django.utils.translation import gettext, gettext_noop, override

from articles.markup import CERTAINTY_LABELS
from articles.models import Article, ArticleTranslation, ArticleVersion, Topic, TranslationVersion
from articles.signals import article_published, translation_published
from articles.translation_changes import claims_changed_between
from publicsite import selectors
from publicsite.structured_data import medical_web_page_static, medical_web_page_urls
from publicsite.templatetags.articles_tags import ld_json_script, ld_json_text

logger = logging.getLogger(__name__)

# Bump when the context `page_render` builds changes meaning (the templates are
# digested on their own).
RENDER_VERSION = 1
FRAGMENTS = {"meta": "articles/_article_meta.html", "body": "articles/_article_static.html"}
# The stored parts and their columns on ArticleVersion.
COLUMNS = {"meta": "page_meta", "body": "page_body", "ld": "page_ld"}
# Pages that mention suicide get the help first (safe-messaging practice).
_SUICIDE_RE = re.compile(r"suicid", re.IGNORECASE)
_INLINE_MARKUP_RE = re.compile(r"\[([^\]]*)\]\([^)]*\)|[*_`]")
_key_cache: list[str] = []


def page_key() -> str:
    """The digest a stored page must carry to be used (computed once per process; on
    every call when DEBUG is on, so edited templates show at once)."""
    if _key_cache and not settings.DEBUG:
        return _key_cache[0]
    digest = hashlib.sha256(f"v{RENDER_VERSION}\0{settings.PTSDINFO_PUBLISHER}".encode())
    with override(settings.LANGUAGE_CODE):
        for name in ("home", "articles:editorial_policy", "articles:topics"):
            digest.update(reverse(name).encode())
        digest.update(reverse("articles:report", kwargs={"slug": "x"}).encode())
    for source in _template_sources(FRAGMENTS.values()):
        digest.update(b"\0" + source.encode())
    _key_cache[:] = [digest.hexdigest()]
    return _key_cache[0]


def _template_sources(names) -> list[str]:
    """The sources of the named templates and of every template they include or extend
    by a constant name, each once."""
    sources, seen, todo = [], set(), list(names)
    while todo:
        name = todo.pop(0)
        if name in seen:
            continue
        seen.add(name)
        template = get_template(name).template
        sources.append(f"{name}\0{template.source}")
        for node in template.nodelist.get_nodes_by_type((IncludeNode, ExtendsNode)):
            target = node.template if isinstance(node, IncludeNode) else node.parent_name
            if isinstance(getattr(target, "var", None), str):
                todo.append(target.var)
    return sources


def stored_key(slug: str) -> str:
    """The `page_key` a version of the article at `slug` must carry to be served."""
    return f"{page_key()}:{slug}"


def page_for(*, article: Article, version: ArticleVersion) -> dict:
    """The stored page of the live version ({"meta", "body", "ld"}), or one rendered now
    when it is stale."""
    if version.page_key == stored_key(article.slug):
        return {part: getattr(version, column) for part, column in COLUMNS.items()}
    logger.debug("article page of %s rendered per request (stale)", article.slug)
    return page_render(article=article, version=ArticleVersion.objects.get(pk=version.pk))


HISTORY_SHOWN = 10  # the "What changed" list's versions, newest first


def page_render(*, article: Article, version: ArticleVersion) -> dict:
    """Render the version-only parts of `article`'s page for `version` (which needs its
    snapshot and html). Two queries: the published history, and topic names only for
    versions approved before the snapshot carried them."""
    history = list(selectors.published_history(article=article)[:HISTORY_SHOWN])
    # The stored page is the English one, whatever language the request that published
    # it was in (the admin follows the browser's language).
    with override(settings.LANGUAGE_CODE):
        return page_parts(slug=article.slug, version=version, history=history)


def page_parts(*, slug: str, version, history: list) -> dict:
    """The stored page's parts, from a version (or the editor's preview of a draft) and
    its published history, newest first."""
    topics = version_topics(version)
    # The first version readers saw, when the list reaches back to it.
    first = (
        history[-1]
        if history and (history[-1].number == 1 or len(history) < HISTORY_SHOWN)
        else None
    )
    context = {
        "article": SimpleNamespace(slug=slug),
        "version": version,
        "topics": topics,
        "history": history,
        # An empty change summary on the first version means "first published", not
        # "no change to the content".
        "first_number": first.number if first else None,
        "contents": _contents(version, has_history=bool(history)),
        "report_claims": version_claims(version),
        "mentions_suicide": bool(
            _SUICIDE_RE.search(version.html) or _SUICIDE_RE.search(version.summary)
        ),
    }
    static = medical_web_page_static(
        version=version, topics=topics, first_published=first.published_at if first else None
    )
    return {
        **{part: render_to_string(name, context) for part, name in FRAGMENTS.items()},
        "ld": ld_json_text(static),
    }


def page_structured_data(request, *, article, page: dict) -> str:
    """The page's JSON-LD script: the stored object with this site's addresses (from
    the request) added in front."""
    urls = ld_json_text(medical_web_page_urls(request, article=article))
    return ld_json_script(f"{urls[:-1]},{page['ld'][1:]}")


def page_store(*, article: Article) -> bool:
    """Render and store the page of `article`'s live version. False when it has none."""
    if article.live_version_id is None:
        return False
    version = ArticleVersion.objects.get(pk=article.live_version_id)
    page = page_render(article=article, version=version)
    ArticleVersion.objects.filter(pk=version.pk).update(
        page_key=stored_key(article.slug),
        **{column: page[part] for part, column in COLUMNS.items()},
    )
    return True


def pages_refresh(*, batch: int = 500, progress=None, translations: bool = True) -> int:
    """Store a fresh page for every live version whose stored one is stale (templates
    changed since it was rendered), and then (`translations`) of every live translation.
    `progress(label, done, total)` is called as it goes. Returns how many were rendered."""
    stale = (
        Article.objects.filter(live_version__isnull=False)
        .annotate(expected=Concat(Value(f"{page_key()}:"), F("slug"), output_field=CharField()))
        .filter(Q(live_version__page_key__isnull=True) | ~Q(live_version__page_key=F("expected")))
        .order_by("pk")
    )
    total = stale.count() if progress else None
    done = 0
    for article in stale.iterator(chunk_size=batch):
        done += page_store(article=article)
        if progress:
            progress("Rendering article pages", done, total)
    if translations:
        done += translation_pages_refresh(batch=batch, progress=progress)
    return done


def translation_pages_refresh(*, batch: int = 500, progress=None) -> int:
    """As `pages_refresh`, for the live translations of live articles."""
    done = 0
    for language in selectors.translation_languages():
        expected = Concat(
            Value(f"{translation_page_key(language)}:"),
            F("article__slug"),
            Value(":"),
            Cast("article__live_version_id", CharField()),
            output_field=CharField(),
        )
        stale = (
            ArticleTranslation.objects.filter(
                language=language,
                live_version__isnull=False,
                article__live_version__isnull=False,
            )
            .annotate(expected=expected)
            .filter(
                Q(live_version__page_key__isnull=True) | ~Q(live_version__page_key=F("expected"))
            )
            .order_by("pk")
        )
        total = stale.count() if progress else None
        for translation in stale.iterator(chunk_size=batch):
            done += translation_page_store(translation=translation)
            if progress:
                progress(f"Rendering translated pages ({language})", done, total)
    return done


@receiver(post_migrate, dispatch_uid="ptsdinfo-article-pages-after-migrate")
def pages_after_migrate(sender, *, app_config, apps=None, using="default", verbosity=1, **kwargs):
    """A release runs `migrate`: store fresh pages for live versions whose templates
    changed, so readers do not pay for rendering them per request. Once per migrate
    (sent for the articles app), and only when the migrated schema has the page columns."""
    if app_config.label != "articles" or using != "default":
        return
    if apps is None:  # `flush` (and TransactionTestCase) send post_migrate without a state
        from django.apps import apps
    try:
        apps.get_model("articles", "ArticleVersion")._meta.get_field("page_key")
    except (LookupError, FieldDoesNotExist):  # migrated back before the page columns
        return
    try:
        apps.get_model("articles", "TranslationVersion")._meta.get_field("page_key")
        translations = True
    except (LookupError, FieldDoesNotExist):  # migrated back before 0014
        translations = False
    done = pages_refresh(translations=translations)
    if done and verbosity:
        logger.info("%s stale article pages rendered after migrate", done)


@receiver(article_published, dispatch_uid="ptsdinfo-article-page")
def article_page_on_publish(sender, *, article, **kwargs) -> None:
    """Sent after the publication committed: render the new live version's page, and
    the pages of its live translations (which of their claims are stale depends on the
    live English version). A failure here only costs speed (the page renders per
    request until the next `render_article_pages`), so it is logged, not raised."""
    try:
        article_pages_store(article=article)
    except Exception:  # the publication has committed; readers still get the page
        logger.exception("article page of %s not stored", article.slug)


@receiver(translation_published, dispatch_uid="ptsdinfo-translation-page")
def translation_page_on_publish(sender, *, article, translation, **kwargs) -> None:
    """Sent after a translation version went live: store its page (as above)."""
    try:
        translation_page_store(translation=translation)
    except Exception:  # the publication has committed; readers still get the page
        logger.exception("translation page of %s not stored", translation)


def article_pages_store(*, article: Article) -> None:
    """Store the page of `article`'s live version and of each of its live translations:
    what publishing it does once it commits (tests call this directly)."""
    page_store(article=article)
    for translation in ArticleTranslation.objects.filter(
        article_id=article.pk, live_version__isnull=False
    ):
        translation_page_store(translation=translation)


def version_topics(version) -> list[SimpleNamespace]:
    """The topics of a version as its reviewer approved them (slug and name from the
    snapshot), not the draft's or the topic's current name. Versions approved before the
    snapshot carried names fall back to the current names (one query)."""
    slugs = version.snapshot.get("topics") or []
    names = dict(version.snapshot.get("topic_names") or {})
    if missing := [slug for slug in slugs if slug not in names]:
        names.update(Topic.objects.filter(slug__in=missing).values_list("slug", "name"))
    return [SimpleNamespace(slug=slug, name=names[slug]) for slug in slugs if slug in names]


def version_claims(version) -> list[dict]:
    """The claims of a published version, in order, from its snapshot."""
    return list(version.snapshot.get("claims", []))


def _contents(version, *, has_history: bool) -> list[tuple[str, str]]:
    """The table of contents, from the version's own sections: (anchor, heading)."""
    entries = [
        (section["anchor"], _INLINE_MARKUP_RE.sub(r"\1", section["heading"]).strip())
        for section in version.snapshot.get("sections", [])
        if section.get("heading")
    ]
    if 'id="references"' in version.html:
        entries.append(("references-section", gettext("References")))
    if has_history:
        entries.append(("what-changed", gettext("What changed")))
    return entries


# --- the page of a published translation (issue 18) ---------------------------------

# Fixed English text the article renderer writes into a version's HTML; a translation's
# page shows it in the page's language (the catalogue carries these msgids).
_RENDERED_TEXT = {
    "<h2>References</h2>": ("<h2>{}</h2>", gettext_noop("References")),
    '<span class="contradicted-by">Contradicting evidence: ': (
        '<span class="contradicted-by">{} ',
        gettext_noop("Contradicting evidence:"),
    ),
}
_BADGE_RE = re.compile(r'<span class="certainty-badge certainty-([a-z-]+)">[^<]*</span>')
_CLAIM_OPEN_RE = re.compile(r'<span id="claim-([A-Za-z0-9_-]+)" class="claim"')
# The certainty labels, marked for the catalogue (articles/markup.py writes them).
_CERTAINTY_MSGIDS = [gettext_noop(label) for label in CERTAINTY_LABELS.values()]


def translation_page_parts(*, translation, stale: list, updated_at) -> dict:
    """The page of `translation`'s live version, rendered for this request in the active
    language: the same fragments and public hooks as the English page (sections, claim
    ids, certainty, references), with the review box of the English version it
    translates (the clinician approved the evidence; a fluent reviewer the Spanish), the
    certainty labels and fixed text localised, and a notice on each claim whose English
    changed since (`stale`, from articles.translation_changes, dated `updated_at`)."""
    version, source = translation.live_version, translation.live_version.source_version
    page_version = SimpleNamespace(
        title=version.title,
        summary=version.summary,
        number=version.number,
        snapshot=version.snapshot,
        html=_localised_html(version.html, stale=stale, updated_at=updated_at),
        published_at=version.published_at,
        reviewer_name=source.reviewer_name,
        reviewer_credentials=source.reviewer_credentials,
        reviewer_coi=source.reviewer_coi,
        last_reviewed=source.last_reviewed,
        next_review_due=source.next_review_due,
        translation_reviewer=version.reviewer_name,
    )
    topics = version_topics(version)  # named in its language when it was approved
    context = {
        "article": SimpleNamespace(slug=translation.article.slug),
        "version": page_version,
        "topics": topics,
        "history": [],
        "contents": _contents(page_version, has_history=False),
        "report_claims": version_claims(version),
        # "suicid" matches the Spanish "suicidio" too.
        "mentions_suicide": bool(
            _SUICIDE_RE.search(version.html) or _SUICIDE_RE.search(version.summary)
        ),
    }
    static = medical_web_page_static(version=page_version, topics=topics)
    static["inLanguage"] = translation.language
    return {
        **{part: render_to_string(name, context) for part, name in FRAGMENTS.items()},
        "ld": ld_json_text(static),
    }


_translation_key_cache: dict[str, str] = {}


def translation_page_key(language: str) -> str:
    """The digest a stored translation page in `language` must carry: the English
    page's (templates, publisher, URLs), the notice template, the addresses in that
    language and the project's compiled catalogue for it (the page's fixed text is
    translated at rendering: `make compilemessages` then `render_article_pages`).
    Once per process, as `page_key`."""
    if language in _translation_key_cache and not settings.DEBUG:
        return _translation_key_cache[language]
    digest = hashlib.sha256(f"{page_key()}\0{language}".encode())
    with override(language):
        for name in ("home", "articles:editorial_policy", "articles:topics"):
            digest.update(reverse(name).encode())
        digest.update(reverse("articles:report", kwargs={"slug": "x"}).encode())
    for directory in settings.LOCALE_PATHS:
        catalogue = Path(directory) / language / "LC_MESSAGES" / "django.mo"
        digest.update(catalogue.read_bytes() if catalogue.exists() else b"-")
    for source in _template_sources(["articles/_stale_claim.html"]):
        digest.update(b"\0" + source.encode())
    _translation_key_cache[language] = digest.hexdigest()
    return _translation_key_cache[language]


def translation_stored_key(*, slug: str, language: str, english_version_id: int) -> str:
    """The `page_key` a translation version must carry to be served while the English
    version `english_version_id` is live."""
    return f"{translation_page_key(language)}:{slug}:{english_version_id}"


def translation_page_render(*, translation) -> tuple[dict, list]:
    """The page of `translation`'s live version as readers see it while its article's
    current version is live: (parts, stale claims). Needs both versions' snapshots."""
    version, current = translation.live_version, translation.article.live_version
    stale = (
        []
        if version.source_version_id == current.pk
        else claims_changed_between(version.source_version.snapshot, current.snapshot)
    )
    with override(translation.language):
        page = translation_page_parts(
            translation=translation, stale=stale, updated_at=current.published_at
        )
    return page, stale


def translation_page_store(*, translation) -> bool:
    """Render and store the page of `translation`'s live version. False when it or its
    article has no live version."""
    translation = (
        ArticleTranslation.objects.select_related(
            "article__live_version", "live_version__source_version"
        )
        .filter(pk=translation.pk, live_version__isnull=False, article__live_version__isnull=False)
        .first()
    )
    if translation is None:
        return False
    page, stale = translation_page_render(translation=translation)
    TranslationVersion.objects.filter(pk=translation.live_version_id).update(
        page_key=translation_stored_key(
            slug=translation.article.slug,
            language=translation.language,
            english_version_id=translation.article.live_version_id,
        ),
        page_stale=len(stale),
        **{column: page[part] for part, column in COLUMNS.items()},
    )
    return True


def _localised_html(html: str, *, stale: list, updated_at) -> str:
    for english, (template, msgid) in _RENDERED_TEXT.items():
        html = html.replace(english, template.format(escape(gettext(msgid))))
    html = _BADGE_RE.sub(
        lambda m: (
            f'<span class="certainty-badge certainty-{m[1]}">'
            f"{escape(gettext(CERTAINTY_LABELS.get(m[1], CERTAINTY_LABELS[''])))}</span>"
        ),
        html,
    )
    stale_ids = {claim.id for claim in stale}
    if not stale_ids:
        return html
    notice = render_to_string("articles/_stale_claim.html", {"updated_at": updated_at})
    return _CLAIM_OPEN_RE.sub(
        lambda m: (notice.strip() + " " + m[0]) if m[1] in stale_ids else m[0], html
    )
