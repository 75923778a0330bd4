"""Database triggers that make versions immutable and the review trail append-only.

They back the rules at the lowest level, so no admin action, shell session or bug in
a service can rewrite what a clinician approved or what the audit trail recorded.
Only the publication timestamps of a version may move (scheduled -> published ->
withdrawn), and a published timestamp, once set, never changes.
"""

from django.db import migrations

VERSION_CONTENT_COLUMNS = [
    "article_id",
    "number",
    "title",
    "summary",
    "snapshot",
    "html",
    "content_hash",
    "change_summary",
    "author_id",
    "reviewer_id",
    "reviewer_name",
    "reviewer_credentials",
    "reviewer_coi",
    "created_at",
    "approved_at",
    "last_reviewed",
    "next_review_due",
]


def changed(op: str) -> str:
    checks = [f"NEW.{c} {op} OLD.{c}" for c in VERSION_CONTENT_COLUMNS]
    checks.append(f"(OLD.published_at IS NOT NULL AND NEW.published_at {op} OLD.published_at)")
    return " OR ".join(checks)


SQLITE_FORWARD = [
    f"""CREATE TRIGGER articles_version_immutable BEFORE UPDATE ON articles_articleversion
    WHEN {changed("IS NOT")}
    BEGIN SELECT RAISE(ABORT, 'article versions are immutable'); END;""",
    """CREATE TRIGGER articles_version_never_deleted BEFORE DELETE ON articles_articleversion
    WHEN OLD.published_at IS NOT NULL
    BEGIN SELECT RAISE(ABORT, 'published article versions are never deleted'); END;""",
    """CREATE TRIGGER articles_reviewevent_no_update BEFORE UPDATE ON articles_reviewevent
    BEGIN SELECT RAISE(ABORT, 'review events are append-only'); END;""",
    """CREATE TRIGGER articles_reviewevent_no_delete BEFORE DELETE ON articles_reviewevent
    BEGIN SELECT RAISE(ABORT, 'review events are append-only'); END;""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS articles_version_immutable;",
    "DROP TRIGGER IF EXISTS articles_version_never_deleted;",
    "DROP TRIGGER IF EXISTS articles_reviewevent_no_update;",
    "DROP TRIGGER IF EXISTS articles_reviewevent_no_delete;",
]

POSTGRES_FORWARD = [
    f"""CREATE OR REPLACE FUNCTION articles_version_guard() RETURNS trigger AS $$
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
    END $$ LANGUAGE plpgsql;""",
    """CREATE TRIGGER articles_version_guard BEFORE UPDATE OR DELETE ON articles_articleversion
    FOR EACH ROW EXECUTE FUNCTION articles_version_guard();""",
    """CREATE OR REPLACE FUNCTION articles_reviewevent_guard() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'review events are append-only';
    END $$ LANGUAGE plpgsql;""",
    """CREATE TRIGGER articles_reviewevent_guard BEFORE UPDATE OR DELETE ON articles_reviewevent
    FOR EACH ROW EXECUTE FUNCTION articles_reviewevent_guard();""",
]
POSTGRES_BACKWARD = [
    "DROP TRIGGER IF EXISTS articles_version_guard ON articles_articleversion;",
    "DROP FUNCTION IF EXISTS articles_version_guard();",
    "DROP TRIGGER IF EXISTS articles_reviewevent_guard ON articles_reviewevent;",
    "DROP FUNCTION IF EXISTS articles_reviewevent_guard();",
]


def run(statements_by_vendor):
    def apply(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return apply


class Migration(migrations.Migration):
    dependencies = [("articles", "0001_initial")]

    operations = [
        migrations.RunPython(
            run({"sqlite": SQLITE_FORWARD, "postgresql": POSTGRES_FORWARD}),
            run({"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRES_BACKWARD}),
        ),
    ]
