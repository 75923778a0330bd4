"""Keeping PostgreSQL's planner statistics current during a bulk load.

Until the tables are analysed, PostgreSQL plans with the row counts it last saw: after
a few thousand imported articles it still believes the draft tables are nearly empty
and reads every claim citation to find one article's (16 ms a query at 5,000 articles,
growing with each one), so an import slows down as it goes. Autovacuum analyses in the
end, but on its own schedule (or never, where it is turned off).
"""

from __future__ import annotations

from django.db import connection

from articles.models import (
    Article,
    ArticleCitation,
    Citation,
    Claim,
    ClaimCitation,
    ReviewEvent,
    Section,
    Topic,
)

DRAFT_MODELS = (
    Article,
    ArticleCitation,
    Citation,
    Claim,
    ClaimCitation,
    ReviewEvent,
    Section,
    Topic,
)


def analyze_draft_tables() -> None:
    """ANALYZE the tables an import writes (PostgreSQL only; a few hundred ms)."""
    if connection.vendor != "postgresql":
        return
    tables = [model._meta.db_table for model in DRAFT_MODELS]
    tables.append(Article.topics.through._meta.db_table)
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")


def analyze_points(total: int, first: int = 100) -> set[int]:
    """After how many imported files to analyse: 100, 200, 400, ... (each time the
    tables may have doubled), so ANALYZE runs about log2(total / 100) times."""
    points, at = set(), first
    while at < total:
        points.add(at)
        at *= 2
    return points
