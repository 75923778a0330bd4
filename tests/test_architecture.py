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
    ("evidence", ("articles", "publicsite", "accounts", "ptsdinfo")),
    ("articles", ("accounts",)),
    ("publicsite", ("accounts",)),
    # articles never reaches up into the public site: publications reach the page
    # cache through articles.signals. (The admin modules still live in articles and
    # may show public-site parts such as the structured data preview.)
    ("articles/services", ("publicsite",)),
    ("articles/models.py", ("articles.services", "editorial.admin", "publicsite")),
    *(
        (f"articles/{name}.py", ("articles.models", "articles.services", "django.db"))
        for name in ("rendering", "markup", "markdown_rules", "mdit_compat", "sanitize")
    ),
    ("articles/plaintext.py", ("articles.models", "django.db")),
    ("articles/signals.py", ("articles.services", "publicsite")),
    # Selectors read; public views never write (they call no service).
    ("publicsite", ("articles.services", "editorial.admin", "articles.management")),
]
# The one exception: the reader-report form submits through its one service (issue 17).
ALLOWED = {"publicsite/reports.py": ("editorial.services.reports",)}


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
