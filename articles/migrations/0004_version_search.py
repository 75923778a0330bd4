"""Search text for published versions, and the PostgreSQL full-text index over it.

- `ArticleVersion.search_text`: the version's prose as plain text, filled for the
  versions that exist (new ones get it at creation, in services/versions.py).
- The immutability triggers of migration 0002 are re-created with `search_text` among
  the columns that can never change. (SQLite also loses its triggers whenever a
  migration rebuilds the table, as adding this column does, so they are re-created.)
- PostgreSQL only: a stored, generated `search_vector` tsvector column (title weight
  A, summary B, body text C) and a GIN index on it. It is derived from immutable
  columns, so it is immutable too. Django does not know the column; `articles.search`
  reads it. SQLite has neither and searches with the tested fallback instead.
"""

import importlib
import re
import unicodedata
from html.parser import HTMLParser

from django.db import migrations, models

initial_triggers = importlib.import_module("articles.migrations.0002_immutability_triggers")

COLUMNS = [*initial_triggers.VERSION_CONTENT_COLUMNS, "search_text"]


def changed(op: str) -> str:
    checks = [f"NEW.{c} {op} OLD.{c}" for c in COLUMNS]
    checks.append(f"(OLD.published_at IS NOT NULL AND NEW.published_at {op} OLD.published_at)")
    return " OR ".join(checks)


SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS articles_version_immutable;",
    "DROP TRIGGER IF EXISTS articles_version_never_deleted;",
]
SQLITE_CREATE = [
    f"""CREATE TRIGGER articles_version_immutable BEFORE UPDATE ON articles_articleversion
    WHEN {changed("IS NOT")}
    BEGIN SELECT RAISE(ABORT, 'article versions are immutable'); END;""",
    initial_triggers.SQLITE_FORWARD[1],  # articles_version_never_deleted, unchanged
]

POSTGRES_GUARD = f"""CREATE OR REPLACE FUNCTION articles_version_guard() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            IF OLD.published_at IS NOT NULL THEN
                RAISE EXCEPTION 'published article versions are never deleted';
            END IF;
            RETURN OLD;
        END IF;
        IF {changed("IS DISTINCT FROM")} THEN
            RAISE EXCEPTION 'article versions are immutable';
        END IF;
        RETURN NEW;
    END $$ LANGUAGE plpgsql;"""
POSTGRES_SEARCH = [
    """ALTER TABLE articles_articleversion ADD COLUMN search_vector tsvector
    GENERATED ALWAYS AS (
        setweight(to_tsvector('english'::regconfig, COALESCE(title, '')), 'A')
        || setweight(to_tsvector('english'::regconfig, COALESCE(summary, '')), 'B')
        || setweight(to_tsvector('english'::regconfig, COALESCE(search_text, '')), 'C')
    ) STORED;""",
    # Keep the vector in the row (compressed if need be) rather than in the TOAST table:
    # a search that matches most articles then reads each vector without a TOAST
    # lookup, about 7 times faster at 10,000 articles. Rows that exist before this
    # migration keep their storage until the table is rewritten (VACUUM FULL).
    "ALTER TABLE articles_articleversion ALTER COLUMN search_vector SET STORAGE MAIN;",
    """CREATE INDEX articles_version_search_gin ON articles_articleversion
    USING GIN (search_vector);""",
]
POSTGRES_SEARCH_DROP = [
    "DROP INDEX IF EXISTS articles_version_search_gin;",
    "ALTER TABLE articles_articleversion DROP COLUMN IF EXISTS search_vector;",
]


# A frozen copy of articles.search.document_text as it was when this migration was
# written: migrations must not change meaning when application code does.
_SKIP_CLASSES = {"citations", "certainty-badge", "contradicted-by", "citation-missing"}
_BLOCK_TAGS = {"p", "li", "section", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "tr",
               "td", "th", "div", "dt", "dd", "ul", "ol", "table", "figcaption"}  # fmt: skip
_SPACE_BEFORE_PUNCTUATION = re.compile(r" ([.,;:!?)])")
_VOID_TAGS = {"br", "hr", "img", "wbr", "input", "meta", "link", "col", "area", "source"}


class _Text(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in _VOID_TAGS:
            if tag in ("br", "hr") and not self.skip:
                self.parts.append("\n")
            return
        attributes = dict(attrs)
        classes = set((attributes.get("class") or "").split())
        if self.skip or classes & _SKIP_CLASSES or attributes.get("id") == "references-section":
            self.skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in _VOID_TAGS:
            return
        if self.skip:
            self.skip -= 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def _document_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    parser.close()
    text = "".join(
        ch if ch == "\n" else " " if unicodedata.category(ch)[0] in "CZ" else ch
        for ch in "".join(parser.parts)
    )
    # Removed citation markers and badges leave a space before punctuation: drop it.
    lines = (
        _SPACE_BEFORE_PUNCTUATION.sub(r"\1", " ".join(line.split())) for line in text.splitlines()
    )
    return "\n".join(line for line in lines if line)


def _fill_search_text(apps):
    ArticleVersion = apps.get_model("articles", "ArticleVersion")
    for version in ArticleVersion.objects.only("pk", "html").iterator():
        ArticleVersion.objects.filter(pk=version.pk).update(
            search_text=_document_text(version.html)
        )


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for statement in SQLITE_DROP:
            schema_editor.execute(statement)
        _fill_search_text(apps)
        for statement in SQLITE_CREATE:
            schema_editor.execute(statement)
    elif vendor == "postgresql":
        # The 0002 guard does not know search_text yet, so the fill passes it.
        _fill_search_text(apps)
        schema_editor.execute(POSTGRES_GUARD)
        for statement in POSTGRES_SEARCH:
            schema_editor.execute(statement)
    else:
        _fill_search_text(apps)


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for statement in SQLITE_DROP:
            schema_editor.execute(statement)
    elif vendor == "postgresql":
        for statement in POSTGRES_SEARCH_DROP:
            schema_editor.execute(statement)
        # Restore the 0002 guard (its function text, without search_text).
        schema_editor.execute(initial_triggers.POSTGRES_FORWARD[0])


def restore_initial_sqlite_triggers(apps, schema_editor):
    """Backward only, after the column is gone: removing it rebuilt the table on SQLite,
    which dropped the 0002 triggers."""
    if schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_DROP:
            schema_editor.execute(statement)
        for statement in initial_triggers.SQLITE_FORWARD[:2]:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("articles", "0003_roles")]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, restore_initial_sqlite_triggers),
        migrations.AddField(
            model_name="articleversion",
            name="search_text",
            field=models.TextField(blank=True, editable=False),
        ),
        migrations.RunPython(forward, backward),
    ]
