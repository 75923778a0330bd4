"""`manage.py generate_articles --count N`: synthetic published articles, in bulk.

For load and growth measurements (docs/performance.md), never for real content: it
writes rows with bulk_create instead of going through the editorial services (which
take one article at a time through review and approval), so the articles it makes
carry no review trail beyond three summary events. Everything readers and exports use
is genuine, though: each body is real article-format Markdown (spec/article-format.md)
with `##` sections, claim spans and Pandoc citations, parsed and rendered by the
project's own parser and renderer; the draft rows (sections, claims, citation links)
match the published version; the version's snapshot, content hash, stored HTML and
search text are computed exactly as an approval computes them, and its stored page as
publishing stores it. The articles are built, rendered and their pages stored in
`--workers` spawned processes (ops/management/synthetic_articles.py, no database),
while this process inserts them in bulk, `--batch` articles per transaction, with a
progress bar on a terminal.

Citations come from a shared pool (`--citations`, identified by DOIs under the
10.5555 test prefix), so articles share references the way real ones do.

Re-running with the same `--prefix` only adds the slugs that are missing
(`<prefix>-00001` ...), so `--count 10000` after `--count 1000` adds 9,000.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from multiprocessing import get_context

import django
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

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
from ops.management.synthetic_articles import bounded_map, csl_fields, pool_item, synthetic_article
from ops.management.synthetic_words import HEADINGS, TOPICS

S = Article.Status


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
        # Outside a transaction (VACUUM cannot run in one) also vacuum, as autovacuum
        # would later: each new article row was updated once (its live version), and
        # vacuum leaves no dead copy behind and marks the pages all-visible, so counts
        # in the admin list read an index, not the table (docs/performance.md).
        command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
        with connection.cursor() as cursor:
            for table in tables:
                cursor.execute(f"{command} {connection.ops.quote_name(table)}")

    def _generate(self, tasks, workers, batch, total, rows, publication) -> int:
        build = partial(synthetic_article, publication=publication)
        if workers == 1:
            return self._store(map(build, tasks), batch, total, **rows)
        # Spawned (not forked) workers start a fresh interpreter: they never inherit this
        # process's database connection (so it stays open, and a caller's transaction
        # with it), and they never open one.
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=get_context("spawn"), initializer=django.setup
        ) as executor:
            results = bounded_map(executor, build, tasks, chunk=25, window=4 * workers)
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
                    csl={k: v for k, v in csl_fields(item).items() if k != "id"},
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
