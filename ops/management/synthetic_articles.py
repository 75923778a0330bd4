"""The worker side of `manage.py generate_articles`: one synthetic article, built,
parsed and rendered without the database (so spawned processes can build them in
parallel), with the stored page its published version gets.

Everything is derived from (prefix, number) by seeded random choices, so the same
arguments give the same article in any process.
"""

from __future__ import annotations

import random
from collections import deque
from datetime import timedelta
from itertools import batched, islice

from django.conf import settings
from django.utils import timezone
from django.utils.translation import override

from articles.models import ArticleVersion
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
    bibliography = {key: csl_fields(by_key[key]) for key in used}
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


def csl_fields(item: dict) -> dict:
    return {k: v for k, v in item.items() if not k.startswith("_")}


def _render_chunk(build, tasks) -> list[dict]:
    return [build(task) for task in tasks]


def bounded_map(executor, build, tasks, *, chunk: int, window: int):
    """`build(task)` for each task in the worker processes, results in order, with at
    most `window` chunks submitted ahead of the one being stored: `executor.map`
    submits every task at once, so when inserting is slower than rendering the
    finished articles (about 100 KB each) pile up in this process's memory."""
    chunks = batched(tasks, chunk)
    pending = deque(executor.submit(_render_chunk, build, part) for part in islice(chunks, window))
    while pending:
        done = pending.popleft().result()
        for part in islice(chunks, 1):
            pending.append(executor.submit(_render_chunk, build, part))
        yield from done
