"""The admin's article list at 100,000 articles (issue 16; docs/performance.md).

- `article_title_idx`: the list orders by title, then -pk; read in index order, its
  first page stops after 100 rows instead of sorting every article.
- `article_version_reviewer_idx`: the reviewer filter's count reads this index, not
  every version row.
- On PostgreSQL, trigram indexes for the list's search (`icontains` on title, slug
  and summary is `UPPER(col::text) LIKE UPPER('%term%')`, which no b-tree can serve):
  a search reads the matching rows instead of every article. They need the `pg_trgm`
  extension (shipped with PostgreSQL, "trusted" since 13: a database owner may create
  it). Where it cannot be created the search keeps working, only slower, and the
  migration says so.
"""

import logging

from django.db import DatabaseError, migrations, models, transaction

logger = logging.getLogger(__name__)
SEARCHED = ("title", "slug", "summary")  # ArticleAdmin.search_fields


def trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DatabaseError as exc:
        logger.warning(
            "pg_trgm not available (%s): the admin's article search stays unindexed", exc
        )
        return
    for column in SEARCHED:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS article_{column}_trgm ON articles_article "
            f"USING gin ((UPPER({column}::text)) gin_trgm_ops)"
        )


def drop_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in SEARCHED:
        schema_editor.execute(f"DROP INDEX IF EXISTS article_{column}_trgm")


class Migration(migrations.Migration):
    dependencies = [
        ("articles", "0016_model_names_translated"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="article",
            index=models.Index(fields=["title", "-id"], name="article_title_idx"),
        ),
        migrations.AddIndex(
            model_name="articleversion",
            index=models.Index(fields=["reviewer", "article"], name="article_version_reviewer_idx"),
        ),
        migrations.RunPython(trigram_indexes, drop_trigram_indexes),
    ]
