"""Writing an article's draft back out in the article file format."""

from pathlib import Path

from articles.models import Article
from articles.services.snapshots import (
    draft_snapshot,
    snapshot_article_text,
    snapshot_bibliography_text,
)


def article_export(
    *, article: Article, directory: Path, snapshot: dict | None = None
) -> list[Path]:
    """Write `<slug>.md` and, when it cites anything, `<slug>.json` (CSL-JSON) into `directory`.

    Importing the written file gives back the same article (same content hash).
    `snapshot`: the article's draft_snapshot when the caller already built it.
    """
    snapshot = snapshot or draft_snapshot(article)
    directory.mkdir(parents=True, exist_ok=True)
    article_path = directory / f"{article.slug}.md"
    article_path.write_text(snapshot_article_text(snapshot), encoding="utf-8")
    written = [article_path]
    if snapshot["bibliography"]:
        bib_path = directory / f"{article.slug}.json"
        bib_path.write_text(snapshot_bibliography_text(snapshot), encoding="utf-8")
        written.append(bib_path)
    return written
