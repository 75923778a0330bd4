"""The evidence watch (issue 17, part 2): saved PubMed searches find new research
since an article's last review, and an editor decides about each work found.

Rules enforced here:
- only a Clinical reviewer writes a literature search (its query, name and claims);
  the default search, built from the title and topics, is created without one;
- a work is stored once per article (by PMID): rerunning a search adds nothing, and
  a decision already taken is never undone by a later run;
- a search's window starts at the article's last review (or a given date) and uses
  PubMed's Entrez date (see `evidence.fetching.eutils`); at most
  PTSDINFO_WATCH_MAX_RESULTS results per search and run;
- network work happens before any transaction; what one search found is written in
  one transaction, so a failure loses nothing already found and writes nothing half;
- each found work gets one decision, by someone allowed to change found evidence:
  added to the library (the PMID intake of `services.library`), dismissed (a reason
  is required) or a re-review started (the workflow's `submit` transition).

The publication-gate warning for an undecided systematic review, meta-analysis or
guideline newer than the last review is in `services.gates`.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext

from articles.models import Article, FoundEvidence, LiteratureSearch, ReviewEvent, SearchClaim
from articles.roles import CLINICAL_REVIEWERS
from articles.services import library
from editorial.services.workflow import WorkflowError, article_submit, user_in_group
from evidence.fetching import LiteratureClient
from evidence.fetching.eutils import MAX_QUERY_CHARS, FoundWork, default_query

DECIDE_PERMISSION = "articles.change_foundevidence"
# The public "What changed" line of a re-review started by new evidence.
REREVIEW_NOTE = "Re-reviewed after new research was published."


# --- saved searches ------------------------------------------------------------------------


def search_default_query(*, article: Article) -> str:
    return default_query(article.title, article.topics.values_list("name", flat=True))


@transaction.atomic
def search_ensure_default(*, article: Article) -> LiteratureSearch | None:
    """The article's default search, created from its title and topics when it has no
    search at all; None when its title gives no query."""
    if article.literature_searches.exists():
        return None
    query = search_default_query(article=article)
    if not query:
        return None
    return LiteratureSearch.objects.create(article=article, query=query)


@transaction.atomic
def search_save(
    *,
    article: Article,
    user,
    query: str,
    name: str = "Main search",
    claim_keys: list[str] | tuple[str, ...] = (),
    is_active: bool = True,
    search: LiteratureSearch | None = None,
) -> LiteratureSearch:
    """Create or change a literature search and the claims it bears on (Clinical
    reviewers only), with a review comment in the article's audit trail."""
    if not user_in_group(user, CLINICAL_REVIEWERS):
        raise WorkflowError(
            gettext("Only a Clinical reviewer edits literature searches."), rule="role"
        )
    query, name = query.strip(), name.strip() or "Main search"
    if not query or len(query) > MAX_QUERY_CHARS:
        raise WorkflowError(
            gettext("A search query needs 1 to %(max)s characters.") % {"max": MAX_QUERY_CHARS},
            rule="search-query",
        )
    if search is not None and search.article_id != article.pk:
        raise WorkflowError(gettext("That search belongs to another article."), rule="search-query")
    known = set(article.claims.values_list("key", flat=True))
    unknown = sorted(set(claim_keys) - known)
    if unknown:
        raise WorkflowError(
            gettext("No such claim: %(keys)s.") % {"keys": ", ".join(unknown)},
            rule="claim-comment",
        )
    if article.literature_searches.filter(name=name).exclude(pk=getattr(search, "pk", None)):
        raise WorkflowError(
            gettext("The article already has a search named %(name)r.") % {"name": name},
            rule="search",
        )
    search = search or LiteratureSearch(article=article)
    search.name, search.query, search.is_active, search.updated_by = name, query, is_active, user
    search.save()
    search.claims.exclude(claim_key__in=claim_keys).delete()
    for key in sorted(set(claim_keys) - set(search.claims.values_list("claim_key", flat=True))):
        SearchClaim.objects.create(search=search, claim_key=key)
    ReviewEvent.objects.create(
        article=article,
        actor=user,
        kind=ReviewEvent.Kind.COMMENT,
        comment=f"Literature search {name!r} set to: {query}"
        + (f" (claims: {', '.join(sorted(claim_keys))})" if claim_keys else ""),
    )
    return search


# --- running the searches ----------------------------------------------------------------


@dataclass
class SearchRun:
    """What one run of one saved search found."""

    search: LiteratureSearch
    mindate: datetime.date
    maxdate: datetime.date
    count: int = 0  # PubMed's total for the window
    returned: int = 0  # PMIDs received (at most the bound)
    new: list[FoundEvidence] = field(default_factory=list)

    @property
    def truncated(self) -> bool:
        return self.count > self.returned

    @property
    def notable(self) -> list[FoundEvidence]:
        return [item for item in self.new if item.kind in FoundEvidence.NOTABLE_KINDS]

    def as_dict(self) -> dict:
        return {
            "article": self.search.article.slug,
            "search": self.search.name,
            "query": self.search.query,
            "mindate": self.mindate.isoformat(),
            "maxdate": self.maxdate.isoformat(),
            "count": self.count,
            "returned": self.returned,
            "truncated": self.truncated,
            "new": [
                {
                    "pmid": item.pmid,
                    "kind": item.kind,
                    "title": item.title,
                    "journal": item.journal,
                    "published": item.published_text,
                    "entered_pubmed": item.entered_on.isoformat() if item.entered_on else None,
                    "publication_types": item.publication_types,
                }
                for item in self.new
            ],
        }


def watch_window_start(*, article: Article, since: datetime.date | None = None) -> datetime.date:
    """Where a search's window starts: `since`, else the last review, else creation."""
    return since or article.last_reviewed or timezone.localdate(article.created_at)


def search_run(
    *,
    search: LiteratureSearch,
    client: LiteratureClient,
    since: datetime.date | None = None,
    today: datetime.date | None = None,
    max_results: int | None = None,
) -> SearchRun:
    """Run one saved search and store each work not yet known for its article.

    Raises FetchError (nothing of this search is written) on any network problem.
    """
    article = search.article
    run = SearchRun(
        search=search,
        mindate=watch_window_start(article=article, since=since),
        maxdate=today or timezone.localdate(),
    )
    bound = max_results or settings.PTSDINFO_WATCH_MAX_RESULTS
    found = client.search(search.query, mindate=run.mindate, maxdate=run.maxdate, retmax=bound)
    run.count, run.returned = found.count, len(found.pmids)
    known = set(article.found_evidence.filter(pmid__in=found.pmids).values_list("pmid", flat=True))
    fresh = [pmid for pmid in found.pmids if pmid not in known]
    works = client.summaries(fresh) if fresh else []
    run.new = _store(search=search, works=works)
    return run


@transaction.atomic
def _store(*, search: LiteratureSearch, works: list[FoundWork]) -> list[FoundEvidence]:
    stored = []
    for work in works:
        item, created = FoundEvidence.objects.get_or_create(
            article=search.article,
            pmid=work.pmid,
            defaults={
                "search": search,
                "title": work.title or f"PMID {work.pmid}",
                "journal": work.journal,
                "published_text": work.published_text,
                "published_on": work.published_on,
                "entered_on": work.entered_on,
                "publication_types": list(work.publication_types),
                "doi": work.doi,
                "kind": work.kind,
            },
        )
        if created:
            stored.append(item)
    search.last_run_at = timezone.now()
    search.last_found_count = len(stored)
    search.save(update_fields=["last_run_at", "last_found_count"])
    return stored


def new_evidence_by_article() -> list[dict]:
    """For the dashboard: each article with undecided found works, and how many."""
    return list(
        Article.objects.annotate(
            new=Count("found_evidence", filter=Q(found_evidence__state=FoundEvidence.State.NEW))
        )
        .filter(new__gt=0)
        .order_by("-new", "title")
        .values("pk", "title", "new")[:50]
    )


def watched_articles(slug: str | None = None):
    """The articles a run covers: one by slug, else every live article."""
    if slug:
        return Article.objects.filter(slug=slug)
    return Article.objects.live().order_by("slug")


# --- an editor's decision about one work ----------------------------------------------------


def _decision_check(item: FoundEvidence, user) -> None:
    if user is None or not user.has_perm(DECIDE_PERMISSION):
        raise WorkflowError(gettext("You may not decide about found evidence."), rule="role")
    if item.state != FoundEvidence.State.NEW:
        raise WorkflowError(
            gettext("PMID %(pmid)s was already decided: %(state)s.")
            % {"pmid": item.pmid, "state": item.get_state_display().lower()},
            rule="found-state",
        )


def _decide(item: FoundEvidence, user, state: str, reason: str = "", citation=None):
    item.state, item.decided_by, item.decided_at = state, user, timezone.now()
    item.decision_reason, item.citation = reason, citation
    item.save(update_fields=["state", "decided_by", "decided_at", "decision_reason", "citation"])
    return item


def found_add_to_library(*, item: FoundEvidence, user, client=None) -> tuple[FoundEvidence, bool]:
    """Add the work to the citation library by its PMID (the library's intake: fetched
    from PubMed, deduplicated). A work already in the library is linked, not added
    twice. Returns (item, whether a citation was created). Not one transaction: the
    fetch must not hold a write lock (see `library.citation_add_by_identifier`)."""
    _decision_check(item, user)
    created = True
    try:
        citation = library.citation_add_by_identifier(
            identifier=item.pmid, client=client, user=user
        )
    except library.DuplicateCitationError as duplicate:
        citation, created = duplicate.existing, False
    with transaction.atomic():
        item = FoundEvidence.objects.select_for_update().get(pk=item.pk)
        _decision_check(item, user)
        return _decide(item, user, FoundEvidence.State.ADDED, citation=citation), created


@transaction.atomic
def found_dismiss(*, item: FoundEvidence, user, reason: str) -> FoundEvidence:
    """Dismiss a work as not bearing on the article; the reason is required."""
    item = FoundEvidence.objects.select_for_update().get(pk=item.pk)
    _decision_check(item, user)
    if not reason.strip():
        raise WorkflowError(gettext("Dismissing needs a reason."), rule="comment-required")
    return _decide(item, user, FoundEvidence.State.DISMISSED, reason=reason.strip())


@transaction.atomic
def found_start_rereview(*, item: FoundEvidence, user) -> FoundEvidence:
    """Send the live article back to clinical review because of this work (the
    workflow's `submit`, so its role rule holds), with the work as a review comment.
    An article already in review only gets the comment."""
    item = FoundEvidence.objects.select_for_update().get(pk=item.pk)
    _decision_check(item, user)
    article = Article.objects.get(pk=item.article_id)
    if article.status == Article.Status.PUBLISHED:
        article_submit(article=article, user=user, comment=REREVIEW_NOTE)
    elif article.status != Article.Status.IN_REVIEW:
        raise WorkflowError(
            gettext(
                "Only a live article (or one in review) is re-reviewed; cite the work in the "
                "draft, or dismiss it."
            ),
            rule="found-review",
        )
    ReviewEvent.objects.create(
        article=article,
        actor=user,
        kind=ReviewEvent.Kind.COMMENT,
        comment=(
            f"New evidence to weigh: PMID {item.pmid} ({item.get_kind_display()}, "
            f"{item.published_text or 'undated'}): {item.title}"
        ),
    )
    return _decide(item, user, FoundEvidence.State.REREVIEW)
