"""Reading and writing the article file format (spec/article-format.md).

Text in, data out: this module touches no database. It parses the YAML front
matter, reads the bibliography files the article names, splits the body into
sections and claims with the one renderer's parser, and writes the same format
back. Every error names the file, the line and the problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from articles.rendering import ArticleFormatError, SectionSource, parse_body, slugify_heading
from evidence import citations

AUDIENCES = ("public", "clinician")
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
TOPIC_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
SUMMARY_MAX = 300
MAX_FILE_BYTES = 2 * 1024 * 1024
FRONT_MATTER_FIELDS = (
    "title",
    "slug",
    "summary",
    "topics",
    "audience",
    "review_interval_months",
    "bibliography",
    "references",
    "language",
    "translation_of",
)
# A translation names its source as `<slug>@<version number>` (issue 18).
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}$")
TRANSLATION_OF_RE = re.compile(r"^([a-z0-9]+(?:-[a-z0-9]+)*)@([1-9][0-9]{0,8})$")


class ArticleFileError(ValueError):
    """A problem with an article file, located as FILE:LINE."""

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None):
        self.message = message
        self.path = str(path) if path else "<article>"
        self.line = line
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {message}")


TITLE_MAX = 200  # Article.title's column

# Unicode controls that reorder the text around them (embeddings, overrides, isolates:
# "Trojan Source"): "\u202e05 mg" shows readers "gm 50", and the sentences after it
# reversed, while the stored text a reviewer's tools compare says "05 mg". Refused
# wherever text enters an article or the citation library.
REORDERING_CONTROLS_RE = re.compile("[\u202a-\u202e\u2066-\u2069]")


def reordering_control_problem(text: str) -> tuple[str, int] | None:
    """(message, line in `text`) for the first reordering control, or None."""
    match = REORDERING_CONTROLS_RE.search(text)
    if match is None:
        return None
    message = (
        f"invisible Unicode control U+{ord(match.group()):04X} reorders the text around it "
        "for readers; delete it"
    )
    return message, text.count("\n", 0, match.start()) + 1


def refuse_reordering_controls(text: str, *, where: str, what: str, first_line: int | None = 1):
    problem = reordering_control_problem(text)
    if problem is not None:
        message, line = problem
        line = first_line + line - 1 if first_line is not None else None
        raise ArticleFileError(f"{what}: {message}", path=where, line=line)


@dataclass
class ArticleFile:
    """One parsed article: its metadata, sections and the bibliography it can cite."""

    title: str
    slug: str
    summary: str = ""
    topics: list[str] = field(default_factory=list)
    audience: str = "public"
    review_interval_months: int = 12
    sections: list[SectionSource] = field(default_factory=list)
    bibliography: dict[str, dict] = field(default_factory=dict)
    path: str = "<article>"
    body_line: int = 1
    # The Markdown body exactly as `parse_body` read it into `sections` (from `body_line`):
    # a check that re-parses the same text may reuse `sections` (`draft_verify`).
    body: str = ""
    # Set only for a translation: its language, and the source version it translates.
    language: str = ""
    translation_of: tuple[str, int] | None = None

    def cited_keys(self) -> list[tuple[str, int]]:
        """Every citation key the body uses (supporting, contradicting, in-text), in order,
        with the file line of its first use."""
        seen: dict[str, int] = {}
        for section in self.sections:
            for ref in section.citations:
                seen.setdefault(ref.key, self.file_line(ref.line))
            for claim in section.claims:
                for key in claim.contradicts:
                    seen.setdefault(key, self.file_line(claim.line))
        return list(seen.items())

    def file_line(self, body_line: int) -> int:
        return self.body_line + max(body_line, 1) - 1


def read_article_file(path: str | Path) -> ArticleFile:
    path = Path(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ArticleFileError(f"file is larger than {MAX_FILE_BYTES} bytes", path=path)
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ArticleFileError(f"not UTF-8 text ({exc.reason})", path=path) from exc
    except OSError as exc:
        raise ArticleFileError(f"cannot read the file: {exc.strerror}", path=path) from exc
    return parse_article_text(text, path=path, base_dir=path.parent)


def parse_article_text(
    text: str, *, path: str | Path | None = None, base_dir: Path | None = None
) -> ArticleFile:
    """Parse one article file's text; bibliography paths resolve against `base_dir`."""
    where = str(path) if path else "<article>"
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    refuse_reordering_controls(text, where=where, what="the file")
    meta, body, body_line = split_front_matter(text, where)
    # The empty lines after the front matter are not part of the body (`write_article_text`
    # writes one): the body parsed is then the text `write_body_text` gives for it.
    stripped = body.lstrip("\n")
    body, body_line = stripped, body_line + len(body) - len(stripped)
    article = ArticleFile(
        title=_required_string(meta, "title", where),
        slug="",
        path=where,
        body_line=body_line,
        body=body,
    )
    if len(article.title) > TITLE_MAX:
        raise ArticleFileError(
            f"the title is {len(article.title)} characters; at most {TITLE_MAX}",
            path=where,
            line=_meta_line(text, "title"),
        )
    article.slug = _slug(meta, article.title, where)
    article.summary = _optional_string(meta, "summary", where)
    if len(article.summary) > SUMMARY_MAX:
        raise ArticleFileError(
            f"summary is {len(article.summary)} characters; at most {SUMMARY_MAX} are allowed",
            path=where,
            line=_meta_line(text, "summary"),
        )
    article.topics = _topics(meta, where, text)
    article.audience = meta.get("audience") or "public"
    if article.audience not in AUDIENCES:
        raise ArticleFileError(
            f"audience must be one of {', '.join(AUDIENCES)}, not {article.audience!r}",
            path=where,
            line=_meta_line(text, "audience"),
        )
    article.review_interval_months = _interval(meta, where, text)
    article.bibliography = _bibliography(meta, where, base_dir, text)
    article.language, article.translation_of = _translation(meta, article.slug, where, text)
    try:
        article.sections = parse_body(body)
    except ArticleFormatError as exc:
        line = body_line + exc.line - 1 if exc.line else None
        raise ArticleFileError(exc.message, path=where, line=line) from exc
    return article


def split_front_matter(text: str, where: str) -> tuple[dict, str, int]:
    """Return (metadata, body, line number of the body's first line)."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        raise ArticleFileError(
            "missing YAML front matter: the file must start with ---", path=where, line=1
        )
    for index in range(1, len(lines)):
        # As Pandoc: only an unindented --- or ... ends it; an indented one is text
        # inside a YAML block scalar.
        if lines[index].rstrip() in ("---", "..."):
            break
    else:
        raise ArticleFileError("front matter is not closed with ---", path=where, line=1)
    try:
        meta = yaml.safe_load("\n".join(lines[1:index])) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise ArticleFileError(
            f"front matter is not valid YAML: {problem}", path=where, line=line
        ) from exc
    if not isinstance(meta, dict):
        raise ArticleFileError("front matter must be a YAML mapping", path=where, line=2)
    return meta, "\n".join(lines[index + 1 :]), index + 2


def _meta_line(text: str, key: str) -> int | None:
    match = re.search(rf"^{re.escape(key)}\s*:", text, flags=re.MULTILINE)
    return text.count("\n", 0, match.start()) + 1 if match else None


def _required_string(meta: dict, key: str, where: str) -> str:
    value = meta.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ArticleFileError(f"front matter needs a non-empty {key!r}", path=where, line=2)
    return " ".join(value.split())


def _optional_string(meta: dict, key: str, where: str) -> str:
    value = meta.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ArticleFileError(f"{key!r} must be text", path=where)
    return " ".join(value.split())


def _slug(meta: dict, title: str, where: str) -> str:
    slug = meta.get("slug")
    if slug is None:
        derived = slugify_heading(title, fallback="")[:120].rstrip("-")
        if not derived:
            # Every such title would get one fallback slug, and each import would
            # replace the last article that had it.
            raise ArticleFileError(
                f"cannot make a slug from the title {title!r} (it has no Latin letters or "
                "digits): add a `slug:` line to the front matter",
                path=where,
            )
        return derived
    if not isinstance(slug, str) or not SLUG_RE.match(slug) or len(slug) > 120:
        raise ArticleFileError(
            f"slug {slug!r} must be lowercase letters, digits and single hyphens",
            path=where,
        )
    return slug


def _topics(meta: dict, where: str, text: str) -> list[str]:
    topics = meta.get("topics") or []
    if isinstance(topics, str):
        topics = [topics]
    if not isinstance(topics, list):
        raise ArticleFileError("topics must be a list of topic slugs", path=where)
    for topic in topics:
        if not isinstance(topic, str) or not TOPIC_RE.match(topic):
            raise ArticleFileError(
                f"topic {topic!r} is not a slug (lowercase letters, digits, hyphens)",
                path=where,
                line=_meta_line(text, "topics"),
            )
    return list(dict.fromkeys(topics))


def _interval(meta: dict, where: str, text: str) -> int:
    value = meta.get("review_interval_months", 12)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 60:
        raise ArticleFileError(
            f"review_interval_months must be a whole number from 1 to 60, not {value!r}",
            path=where,
            line=_meta_line(text, "review_interval_months"),
        )
    return value


def _translation(meta: dict, slug: str, where: str, text: str) -> tuple[str, tuple | None]:
    """`language` and `translation_of` come together, or not at all."""
    language, of = meta.get("language"), meta.get("translation_of")
    if language is None and of is None:
        return "", None
    if language is None or of is None:
        missing = "language" if language is None else "translation_of"
        raise ArticleFileError(
            f"a translation needs both language and translation_of; {missing!r} is missing",
            path=where,
            line=_meta_line(text, "language") or _meta_line(text, "translation_of"),
        )
    if not isinstance(language, str) or not LANGUAGE_RE.match(language):
        raise ArticleFileError(
            f"language must be a lowercase language code such as es, not {language!r}",
            path=where,
            line=_meta_line(text, "language"),
        )
    match = TRANSLATION_OF_RE.match(of) if isinstance(of, str) else None
    if not match:
        raise ArticleFileError(
            f"translation_of must be <slug>@<version number>, e.g. ketamine@3, not {of!r}",
            path=where,
            line=_meta_line(text, "translation_of"),
        )
    if match[1] != slug:
        raise ArticleFileError(
            f"translation_of names {match[1]!r} but the slug is {slug!r}; a translation "
            "keeps its source's slug",
            path=where,
            line=_meta_line(text, "translation_of"),
        )
    return language, (match[1], int(match[2]))


def _bibliography(meta: dict, where: str, base_dir: Path | None, text: str) -> dict[str, dict]:
    items: dict[str, dict] = {}
    paths = meta.get("bibliography") or []
    if isinstance(paths, str):
        paths = [paths]
    if not isinstance(paths, list):
        raise ArticleFileError("bibliography must be a path or a list of paths", path=where)
    for name in paths:
        if not isinstance(name, str) or not name:
            raise ArticleFileError(f"bibliography entry {name!r} is not a path", path=where)
        if base_dir is None:
            raise ArticleFileError(
                f"bibliography {name!r} cannot be read: the article has no directory", path=where
            )
        bib_path = (base_dir / name).resolve()
        try:
            fmt = citations.format_for_path(bib_path)
            bib_text = bib_path.read_text(encoding="utf-8")
            parsed = citations.read_bibliography(bib_text, fmt)
        except citations.BibliographyError as exc:
            raise ArticleFileError(
                f"bibliography {name}: {exc.message}", path=bib_path, line=exc.line
            ) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise ArticleFileError(
                f"cannot read bibliography {name!r}: {getattr(exc, 'strerror', None) or exc}",
                path=where,
                line=_meta_line(text, "bibliography"),
            ) from exc
        for item in parsed:
            items[item["id"]] = item
    inline = meta.get("references") or []
    if inline:
        try:
            parsed = citations.read_bibliography(
                yaml.safe_dump(inline, allow_unicode=True), "csl-yaml"
            )
        except citations.BibliographyError as exc:
            raise ArticleFileError(
                f"inline references: {exc.message}", path=where, line=_meta_line(text, "references")
            ) from exc
        for item in parsed:
            items[item["id"]] = item
    return items


def write_article_text(
    *,
    title: str,
    slug: str,
    summary: str,
    topics: list[str],
    audience: str,
    review_interval_months: int,
    sections: list[tuple[str, str, str]],
    bibliography_name: str | None,
    language: str = "",
    translation_of: str = "",
) -> str:
    """The canonical text of an article file; `parse_article_text` reads it back unchanged."""
    meta: dict = {"title": title, "slug": slug}
    if summary:
        meta["summary"] = summary
    meta["topics"] = list(topics)
    meta["audience"] = audience
    meta["review_interval_months"] = review_interval_months
    if bibliography_name:
        meta["bibliography"] = bibliography_name
    if language:
        meta["language"] = language
        meta["translation_of"] = translation_of
    front = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=1_000_000)
    return f"---\n{front}---\n\n" + write_body_text(sections)


def write_body_text(sections: list[tuple[str, str, str]]) -> str:
    """The Markdown body of an article: `parse_body` reads it back into the same sections."""
    parts = []
    for heading, anchor, body in sections:
        if heading:
            explicit = "" if anchor == slugify_heading(heading) else f" {{#{anchor}}}"
            parts.append(f"## {heading}{explicit}\n")
        if body.strip():
            parts.append(body.strip("\n") + "\n")
    return "\n".join(parts)
