"""Writing an article's draft back out in the article file format."""

from pathlib import Path

from articles.models import Article
from articles.services.snapshots import (
    draft_snapshot,
    snapshot_files,
)


def article_export(
    *,
    article: Article,
    directory: Path,
    snapshot: dict | None = None,
    files: tuple[str, str] | None = None,
) -> list[Path]:
    """Write `<slug>.md` and, when it cites anything, `<slug>.json` (CSL-JSON) into `directory`.

    Importing the written file gives back the same article (same content hash).
    `snapshot`: the article's draft_snapshot when the caller already built it, and
    `files`: its `snapshot_files` when the caller already wrote them out (to hash them).
    """
    snapshot = snapshot or draft_snapshot(article)
    article_text, bibliography_text = files or snapshot_files(snapshot)
    directory.mkdir(parents=True, exist_ok=True)
    article_path = directory / f"{article.slug}.md"
    article_path.write_text(article_text, encoding="utf-8")
    written = [article_path]
    if snapshot["bibliography"]:
        bib_path = directory / f"{article.slug}.json"
        bib_path.write_text(bibliography_text, encoding="utf-8")
        written.append(bib_path)
    return written
