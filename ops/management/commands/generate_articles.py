"""`manage.py generate_articles --count N`: synthetic published articles, in bulk.

For load and growth measurements (docs/performance.md), never for real content: it
writes rows with bulk_create instead of going through the editorial services (which
take one article at a time through review and approval), so the articles it makes
carry no review trail beyond three summary events. Everything readers and exports use
is genuine, though: each body is real article-format Markdown (spec/article-format.md)
with `##` sections, claim spans and Pandoc citations, parsed and rendered by the
project's own parser and renderer; the draft rows (sections, claims, citation links)
match the published version; the version's snapshot, content hash, stored HTML and
search text are computed exactly as an approval computes them.

Citations come from a shared pool (`--citations`, identified by DOIs under the
10.5555 test prefix), so articles share references the way real ones do.

Re-running with the same `--prefix` only adds the slugs that are missing
(`<prefix>-00001` ...), so `--count 10000` after `--count 1000` adds 9,000.
"""

from __future__ import annotations

import os
import random
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from functools import partial
from multiprocessing import get_context

import django
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections, transaction
from django.utils import timezone
from django.utils.translation import override

from articles.management.progress import Progress
from articles.models import (
    Article,
    ArticleCitation,
    ArticleVersion,
    Citation,
    Claim,
    ClaimCitation,
    ReviewEvent,
    Section,
    StaffProfile,
    Topic,
)
from articles.plaintext import document_text
from articles.rendering import parse_body
from articles.services.snapshots import snapshot_hash
from articles.services.versions import add_months, snapshot_render
from ops.management.synthetic_words import (
    ASPECTS,
    CERTAINTIES,
    DESIGNS,
    ENDINGS,
    FAMILIES,
    FILLER,
    HEADINGS,
    JOURNALS,
    PHRASES,
    SUBJECTS,
    TOPICS,
)
from publicsite.article_page import COLUMNS, page_parts, stored_key

S = Article.Status


def pool_item(prefix: str, index: int) -> dict:
    """CSL-JSON for citation `index` of the shared pool: a pure function, so worker
    processes build bibliographies without the database."""
    rng = random.Random(f"{prefix}:citation:{index}")
    family = rng.choice(FAMILIES)
    year = rng.randint(2003, 2025)
    design = DESIGNS[index % len(DESIGNS)]
    title = (
        f"{rng.choice(SUBJECTS).capitalize()} for post-traumatic stress disorder: "
        + {
            "rct": "a randomised controlled trial",
            "systematic-review": "a systematic review and meta-analysis",
            "observational": "a cohort study",
            "guideline": "clinical practice guideline",
            "case-series": "an open-label case series",
        }[design]
    )
    return {
        "id": f"{family.lower()}{year}-{index}",
        "type": "article-journal",
        "title": title,
        "author": [
            {"family": family, "given": rng.choice("ABCDEFGHJKLMNPRST") + "."},
            {"family": rng.choice(FAMILIES), "given": rng.choice("ABCDEFGHJKLMNPRST") + "."},
        ],
        "container-title": rng.choice(JOURNALS),
        "volume": str(rng.randint(1, 80)),
        "page": f"{(first := rng.randint(1, 900))}-{first + rng.randint(5, 15)}",
        "issued": {"date-parts": [[year]]},
        "DOI": f"10.5555/{prefix}.{index}",
        "_design": design,
    }


def synthetic_article(task: tuple, *, publication: dict) -> dict:
    """Build, parse and render one article and its published version's stored page;
    runs in a worker process (no database). `publication` holds what the version takes
    from the database: the reviewer's display fields, the topics' names and the time
    the run started (publication dates count back from it)."""
    prefix, number, pool_size, n_sections, n_claims = task
    rng = random.Random(f"{prefix}:article:{number}")
    slug = f"{prefix}-{number:05d}"
    subject = rng.choice(SUBJECTS)
    aspect = rng.choice(ASPECTS)
    title = f"{subject[0].upper()}{subject[1:]} and PTSD: {aspect} ({number})"
    summary = (
        f"What the research says about {subject} for people with post-traumatic stress "
        f"disorder: {aspect}, checked by a clinician."
    )
    cited = rng.sample(range(pool_size), k=min(pool_size, max(4, n_claims)))
    items = [pool_item(prefix, index) for index in cited]
    headings = rng.sample(HEADINGS, k=min(len(HEADINGS), n_sections - 1))
    claims_in = [n_claims // n_sections + (i < n_claims % n_sections) for i in range(n_sections)]
    claim_number = 0
    parts = []
    for section_index in range(n_sections):
        if section_index:
            parts.append(f"## {headings[section_index - 1]}\n")
        for _ in range(claims_in[section_index]):
            claim_number += 1
            refs = rng.sample(items, k=rng.choice((1, 1, 2)))
            cites = "; ".join(
                f"@{item['id']}" + (f", p. {rng.randint(1, 20)}" if rng.random() < 0.3 else "")
                for item in refs
            )
            statement = f"{rng.choice(PHRASES)} {subject} {rng.choice(ENDINGS)}"
            certainty = rng.choice(CERTAINTIES)
            parts.append(
                f"{rng.choice(FILLER)} [{statement} [{cites}]]"
                f"{{.claim #claim-{claim_number} certainty={certainty}}}. "
                f"{' '.join(rng.sample(FILLER, 2))}\n"
            )
        parts.append(" ".join(rng.choice(FILLER) for _ in range(4)) + "\n")
    body = "\n".join(parts)
    sections = parse_body(body)
    by_key = {item["id"]: item for item in items}
    used = sorted(
        {ref.key for s in sections for c in s.claims for ref in c.supports}
        | {key for s in sections for c in s.claims for key in c.contradicts}
    )
    bibliography = {key: _csl(by_key[key]) for key in used}
    topics = sorted(rng.sample(sorted(TOPICS), k=2))
    snapshot = {
        "slug": slug,
        "title": title,
        "summary": summary,
        "topics": topics,
        # As an approval's snapshot carries them (not in the content hash).
        "topic_names": {slug: publication["topic_names"][slug] for slug in topics},
        "audience": "public",
        "review_interval_months": 12,
        "sections": [{"heading": s.heading, "anchor": s.anchor, "body": s.body} for s in sections],
        "claims": [
            {
                "id": claim.id,
                "section": section.anchor,
                "statement": claim.statement,
                "certainty": claim.certainty,
                "supports": [{"key": ref.key, "locator": ref.locator} for ref in claim.supports],
                "contradicts": list(claim.contradicts),
            }
            for section in sections
            for claim in section.claims
        ],
        "bibliography": bibliography,
        "citation_meta": {
            key: {"study_design": by_key[key]["_design"], "retraction_status": "none"}
            for key in used
        },
    }
    html = snapshot_render(snapshot)
    published = publication["now"] - timedelta(days=rng.randint(1, 3 * 365))
    reviewed = timezone.localdate(published)
    version = ArticleVersion(
        number=1,
        title=title,
        summary=summary,
        snapshot=snapshot,
        html=html,
        search_text=document_text(html),
        content_hash=snapshot_hash(snapshot),
        change_summary="First published version.",
        reviewer_name=publication["reviewer_name"],
        reviewer_credentials=publication["reviewer_credentials"],
        approved_at=published - timedelta(hours=2),
        last_reviewed=reviewed,
        next_review_due=add_months(reviewed, 12),
        published_at=published,
    )
    # The page the publishing receiver would store (publicsite.article_page.page_store):
    # the version is its article's only published one, so it is its own history.
    with override(settings.LANGUAGE_CODE):
        page = page_parts(slug=slug, version=version, history=[version])
    version.page_key = stored_key(slug)
    for part, column in COLUMNS.items():
        setattr(version, column, page[part])
    return {
        "number": number,
        "snapshot": snapshot,
        "version": version,
        "pool_index": {item["id"]: index for item, index in zip(items, cited, strict=True)},
    }


def _csl(item: dict) -> dict:
    return {k: v for k, v in item.items() if not k.startswith("_")}


class Command(BaseCommand):
    help = (
        "Create N synthetic published articles in bulk (sections, claims, shared citations, "
        "rendered versions) for load and growth tests. Skips slugs that already exist."
    )

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, required=True, help="articles wanted in total")
        parser.add_argument(
            "--prefix", default="synthetic", help="slug prefix (default %(default)s)"
        )
        parser.add_argument("--sections", type=int, default=6, help="sections per article")
        parser.add_argument("--claims", type=int, default=10, help="claims per article")
        parser.add_argument(
            "--citations", type=int, default=2000, help="size of the shared citation pool"
        )
        parser.add_argument("--batch", type=int, default=250, help="articles per transaction")
        parser.add_argument(
            "--workers", type=int, default=0, help="rendering processes (default: one per CPU)"
        )

    def handle(self, *args, count, prefix, sections, claims, citations, batch, workers, **opts):
        if count < 0 or sections < 1 or claims < 1 or citations < 4 or batch < 1:
            raise CommandError(
                "--count must be >= 0, --sections and --claims >= 1, --citations >= 4."
            )
        if sections > len(HEADINGS) + 1:
            raise CommandError(f"--sections can be at most {len(HEADINGS) + 1}.")
        existing = set(
            Article.objects.filter(slug__startswith=f"{prefix}-").values_list("slug", flat=True)
        )
        missing = [n for n in range(1, count + 1) if f"{prefix}-{n:05d}" not in existing]
        if not missing:
            self.stdout.write(f"All {count} {prefix}-* articles exist; nothing to do.")
            return
        author, reviewer = self._users()
        topics = self._topics()
        pool = self._citation_pool(prefix, citations)
        tasks = [(prefix, n, citations, sections, claims) for n in missing]
        workers = workers or min(8, _cpus())
        self.stdout.write(
            f"Generating {len(missing)} articles ({len(existing)} exist) with {workers} "
            f"rendering process(es)..."
        )
        started = timezone.now()
        rows = {
            "prefix": prefix,
            "author": author,
            "reviewer": reviewer,
            "topics": topics,
            "pool": pool,
        }
        publication = {
            "now": started,
            "reviewer_name": reviewer.profile.display_name,
            "reviewer_credentials": reviewer.profile.credentials,
            "topic_names": {slug: topic.name for slug, topic in topics.items()},
        }
        self.progress = Progress(self.stderr)
        try:
            made = self._generate(tasks, workers, batch, len(missing), rows, publication)
        finally:
            self.progress.close()
        self._analyze()
        seconds = (timezone.now() - started).total_seconds()
        self.stdout.write(
            self.style.SUCCESS(f"Created {made} published articles in {seconds:.1f} s.")
        )
        # The rows skip publishing, whose receiver stores each live version's page: the
        # workers rendered and stored it with the version. This renders only what is
        # still stale (e.g. versions an older run of this command left without a page).
        call_command("render_article_pages", stdout=self.stdout)

    def _analyze(self) -> None:
        """Refresh the planner's statistics: after a bulk load PostgreSQL otherwise plans
        with the old row counts (e.g. a sequential scan of every claim citation for one
        article's) until autovacuum gets round to it."""
        if connection.vendor != "postgresql":
            return
        models = (Article, ArticleVersion, ArticleCitation, Citation, Claim, ClaimCitation)
        tables = [m._meta.db_table for m in (*models, Section, ReviewEvent)]
        tables.append(Article.topics.through._meta.db_table)
        with connection.cursor() as cursor:
            for table in tables:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")

    def _generate(self, tasks, workers, batch, total, rows, publication) -> int:
        build = partial(synthetic_article, publication=publication)
        if workers == 1:
            return self._store(map(build, tasks), batch, total, **rows)
        # Spawned (not forked) workers never share this process's database socket.
        connections.close_all()
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=get_context("spawn"), initializer=django.setup
        ) as executor:
            results = executor.map(build, tasks, chunksize=25)
            return self._store(results, batch, total, **rows)

    def _store(self, results, batch, total, **rows) -> int:
        made, chunk = 0, []
        for result in results:
            chunk.append(result)
            if len(chunk) == batch:
                self._insert(chunk, **rows)
                made += len(chunk)
                chunk = []
                self.progress("Generating articles", made, total)
        if chunk:
            self._insert(chunk, **rows)
            made += len(chunk)
            self.progress("Generating articles", made, total)
        return made

    def _users(self):
        User = get_user_model()
        people = {}
        for username, name, credentials in (
            ("synthetic-author", "Synthetic Author", "PhD (generated data)"),
            ("synthetic-reviewer", "Dr Synthetic Reviewer", "MD, psychiatrist (generated data)"),
        ):
            user, _ = User.objects.get_or_create(username=username, defaults={"is_staff": False})
            StaffProfile.objects.get_or_create(
                user=user, defaults={"display_name": name, "credentials": credentials}
            )
            people[username] = user
        return people["synthetic-author"], people["synthetic-reviewer"]

    def _topics(self) -> dict[str, Topic]:
        for slug, name in TOPICS.items():
            Topic.objects.get_or_create(slug=slug, defaults={"name": name})
        return {t.slug: t for t in Topic.objects.filter(slug__in=TOPICS)}

    def _citation_pool(self, prefix: str, size: int) -> dict[int, int]:
        """Citation primary keys by pool index, creating the missing ones in bulk."""
        dois = {f"10.5555/{prefix}.{i}": i for i in range(size)}
        found = dict(Citation.objects.filter(doi__in=dois).values_list("doi", "pk"))
        new = []
        for doi, index in dois.items():
            if doi in found:
                continue
            item = pool_item(prefix, index)
            new.append(
                Citation(
                    key=item["id"],
                    csl={k: v for k, v in _csl(item).items() if k != "id"},
                    title=item["title"],
                    year=item["issued"]["date-parts"][0][0],
                    doi=doi,
                    study_design=item["_design"],
                )
            )
        Citation.objects.bulk_create(new, batch_size=1000)
        found = dict(Citation.objects.filter(doi__in=dois).values_list("doi", "pk"))
        return {dois[doi]: pk for doi, pk in found.items()}

    @transaction.atomic
    def _insert(self, chunk, *, prefix, author, reviewer, topics, pool) -> None:
        """One chunk of generated articles, in bulk: the articles with their topics and
        bibliography keys, their drafts (sections, claims, claim citations), then the
        published version 1 and its review trail."""
        articles = self._insert_articles(chunk, author=author, topics=topics, pool=pool)
        self._insert_drafts(articles, chunk, pool=pool)
        self._insert_versions(articles, chunk, prefix=prefix, author=author, reviewer=reviewer)

    def _insert_articles(self, chunk, *, author, topics, pool) -> list[Article]:
        articles = Article.objects.bulk_create(
            [
                Article(
                    slug=r["snapshot"]["slug"],
                    title=r["snapshot"]["title"],
                    summary=r["snapshot"]["summary"],
                    audience=r["snapshot"]["audience"],
                    review_interval_months=r["snapshot"]["review_interval_months"],
                    owner=author,
                    last_edited_by=author,
                    status=S.DRAFT,
                )
                for r in chunk
            ]
        )
        Article.topics.through.objects.bulk_create(
            [
                Article.topics.through(article_id=a.pk, topic_id=topics[slug].pk)
                for a, r in zip(articles, chunk, strict=True)
                for slug in r["snapshot"]["topics"]
            ]
        )
        ArticleCitation.objects.bulk_create(
            [
                ArticleCitation(article=a, key=key, citation_id=pool[r["pool_index"][key]])
                for a, r in zip(articles, chunk, strict=True)
                for key in r["snapshot"]["bibliography"]
            ]
        )
        return articles

    def _insert_drafts(self, articles, chunk, *, pool) -> None:
        section_rows = [
            Section(article=a, position=i, heading=s["heading"], anchor=s["anchor"], body=s["body"])
            for a, r in zip(articles, chunk, strict=True)
            for i, s in enumerate(r["snapshot"]["sections"])
        ]
        Section.objects.bulk_create(section_rows, batch_size=2000)
        section_pk = {(s.article_id, s.anchor): s.pk for s in section_rows}
        claim_rows, claim_refs = [], []
        for a, r in zip(articles, chunk, strict=True):
            for position, c in enumerate(r["snapshot"]["claims"]):
                claim_rows.append(
                    Claim(
                        article=a,
                        section_id=section_pk[(a.pk, c["section"])],
                        key=c["id"],
                        statement=c["statement"],
                        certainty=c["certainty"],
                        position=position,
                    )
                )
                claim_refs.append((r, c))
        Claim.objects.bulk_create(claim_rows, batch_size=2000)
        links = []
        for claim, (r, c) in zip(claim_rows, claim_refs, strict=True):
            seen = set()
            for position, ref in enumerate(c["supports"]):
                citation_id = pool[r["pool_index"][ref["key"]]]
                if citation_id not in seen:
                    seen.add(citation_id)
                    links.append(
                        ClaimCitation(
                            claim=claim,
                            citation_id=citation_id,
                            relation=ClaimCitation.Relation.SUPPORTS,
                            locator=ref["locator"][:100],
                            position=position,
                        )
                    )
        ClaimCitation.objects.bulk_create(links, batch_size=2000)

    def _insert_versions(self, articles, chunk, *, prefix, author, reviewer) -> None:
        versions = []
        for a, r in zip(articles, chunk, strict=True):
            version = r["version"]
            version.article, version.author, version.reviewer = a, author, reviewer
            versions.append(version)
        ArticleVersion.objects.bulk_create(versions, batch_size=500)
        for a, v in zip(articles, versions, strict=True):
            a.live_version = v
            a.status = S.PUBLISHED
            a.last_reviewed = v.last_reviewed
            a.next_review_due = v.next_review_due
        Article.objects.bulk_update(
            articles,
            ["live_version", "status", "last_reviewed", "next_review_due"],
            batch_size=500,
        )
        ReviewEvent.objects.bulk_create(
            [
                ReviewEvent(
                    article=a,
                    actor=actor,
                    version=v if to_state != S.DRAFT else None,
                    kind=kind,
                    from_state=from_state,
                    to_state=to_state,
                    content_hash=v.content_hash,
                    comment=comment,
                )
                for a, v in zip(articles, versions, strict=True)
                for actor, kind, from_state, to_state, comment in (
                    (author, ReviewEvent.Kind.IMPORT, "", S.DRAFT, f"Generated ({prefix})"),
                    (reviewer, ReviewEvent.Kind.TRANSITION, S.IN_REVIEW, S.APPROVED, ""),
                    (reviewer, ReviewEvent.Kind.TRANSITION, S.APPROVED, S.PUBLISHED, ""),
                )
            ],
            batch_size=2000,
        )


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
