"""Every environment variable the code reads is listed in .env.example."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ["ptsdinfo", "articles", "evidence", "deploy", "scripts", "Dockerfile"]
# os.environ.get("X"), os.environ["X"], os.getenv("X"), and the settings' and gunicorn
# config's helpers env_bool("X"), env_list("X"), _int("X"); in shell scripts $X / ${X}.
PYTHON_READS = re.compile(
    r"""(?:environ\.get\(|environ\[|getenv\(|env_bool\(|env_list\(|\b_int\()\s*["']([A-Z][A-Z0-9_]+)["']"""
)
SHELL_READS = re.compile(r"\$\{?([A-Z][A-Z0-9_]+)")
SHELL_SET_BY_SYSTEM = {"PATH", "HOME", "PWD"}
# Set by the official postgres image for the scripts compose.yaml mounts into it.
SET_BY_THE_POSTGRES_IMAGE = {"PGDATA", "POSTGRES_DB", "POSTGRES_USER"}


def files():
    for name in SCANNED:
        path = ROOT / name
        if path.is_file():
            yield path
        else:
            yield from (
                p
                for p in path.rglob("*")
                if p.is_file() and p.suffix in {".py", ".sh", ".conf", ".yaml", ""}
                if "__pycache__" not in p.parts and "migrations" not in p.parts
            )


def variables_read() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in files():
        text = path.read_text(errors="replace")
        names = set(PYTHON_READS.findall(text))
        if path.suffix == ".sh":
            names |= set(SHELL_READS.findall(text)) - SHELL_SET_BY_SYSTEM
        if "compose" in path.parts:
            names -= SET_BY_THE_POSTGRES_IMAGE
        for name in names:
            found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def listed() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^([A-Z][A-Z0-9_]+)=", text, flags=re.M))


def test_the_scan_finds_the_variables_it_should():
    found = variables_read()
    # one of each way of reading, so a broken pattern cannot pass silently
    for name in ("DJANGO_SECRET_KEY", "DJANGO_DEBUG", "GUNICORN_WORKERS", "REDIS_URL", "PORT"):
        assert name in found, name
    assert len(found) > 50


def test_every_variable_read_is_in_env_example():
    missing = {name: sorted(where) for name, where in variables_read().items()}
    missing = {name: where for name, where in missing.items() if name not in listed()}
    assert missing == {}, f"add these to .env.example: {missing}"
