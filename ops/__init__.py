"""ops: what an operator runs, not what an editor or reader sees.

Owns: backup and restore (`backups`, `manage.py backup` / `restore`), the demo content
and accounts (`demo`, `demo_content/`, `manage.py load_demo`), the deploy check that no
demo account is active in production (`checks`), and `manage.py generate_articles` for
growth benchmarks.

May import: `articles`, `editorial` and `evidence`. Nothing imports `ops` except
settings (INSTALLED_APPS) and tests.
"""
