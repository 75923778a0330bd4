"""The import direction between apps and layers, read from the source (no imports run).

`evidence` sits below `articles`: articles cite evidence, evidence knows nothing of
articles. Inside `articles`, the renderer and the models call nothing above them.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (late imports inside functions count)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def python_files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


# (files, module prefixes they must never import)
RULES = [
    # The apps, bottom to top: evidence <- articles <- editorial <- ops; publicsite and
    # accounts beside editorial. Each names everything it must never reach.
    ("evidence", ("articles", "editorial", "ops", "publicsite", "accounts", "ptsdinfo")),
    ("articles", ("editorial", "ops", "publicsite", "accounts")),
    ("editorial", ("ops", "publicsite", "accounts")),
    ("ops", ("publicsite", "accounts")),
    ("publicsite", ("ops", "accounts", "editorial")),
    ("accounts", ("editorial", "ops", "publicsite")),
    # Inside articles: models call nothing above them; the renderer is pure.
    ("articles/models", ("articles.services", "articles.rendering", "publicsite")),
    *(
        (f"articles/{name}.py", ("articles.models", "articles.services", "django.db"))
        for name in ("rendering", "markup", "markdown_rules", "mdit_compat", "sanitize")
    ),
    ("articles/plaintext.py", ("articles.models", "django.db")),
    ("articles/signals.py", ("articles.services",)),
    # Selectors read; public views never write (they call no service).
    ("publicsite", ("articles.services", "articles.management")),
    # Rules know no HTTP: services never build responses or read requests.
    ("articles/services", ("django.http", "django.shortcuts", "django.urls")),
    ("editorial/services", ("django.http", "django.shortcuts")),
]
ALLOWED = {
    # The reader-report form submits through its one service (issue 17).
    "publicsite/reports.py": ("editorial.services.reports",),
    # The staff draft preview renders the public page through publicsite.article_page,
    # the same fragments readers get, so a preview cannot drift from the page.
    "editorial/admin_views.py": ("publicsite.article_page",),
    # Generated versions get, in the rendering processes, the stored page the publishing
    # receiver would store (the bulk rows never publish through the services).
    "ops/management/synthetic_articles.py": ("publicsite.article_page",),
}


@pytest.mark.parametrize(("where", "forbidden"), RULES, ids=[rule[0] for rule in RULES])
def test_imports_point_one_way(where, forbidden):
    target = ROOT / where
    files = [target] if target.is_file() else python_files(where)
    assert files, f"nothing to check at {where}"
    wrong = {
        f"{path.relative_to(ROOT)} imports {module}"
        for path in files
        for module in imported_modules(path)
        if module.startswith(forbidden)
        and not module.startswith(ALLOWED.get(str(path.relative_to(ROOT)), ("\0",)))
    }
    assert not wrong, sorted(wrong)


def test_the_checker_sees_late_imports(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from articles import models\n")
    assert "articles.models" in imported_modules(sample)
