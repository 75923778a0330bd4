"""Where the article page's one query spends its time: building the queryset, compiling
it to SQL, executing the SQL, and the whole selector (`publicsite.selectors.article_page`),
each the mean of 500 calls. A benchmark, never part of the tests.

    DATABASE_URL=postgres://... .venv/bin/python scripts/article_query_timing.py [slug]
"""

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def mean_ms(function, n: int = 500) -> float:
    function()
    start = time.perf_counter()
    for _ in range(n):
        function()
    return (time.perf_counter() - start) / n * 1000


def main() -> None:
    sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]
    os.environ.update(DJANGO_SETTINGS_MODULE="bench_settings")  # set, not read
    import django

    django.setup()
    from django.db import connection

    from articles.models import Article
    from publicsite import selectors

    slug = sys.argv[1] if len(sys.argv) > 1 else "ketamine-for-ptsd"

    def build():
        languages = selectors.translation_languages()
        return (
            Article.objects.select_related("live_version")
            .only(*selectors._PAGE_FIELDS)
            .annotate(**{f"translated_{code}": selectors._translated(code) for code in languages})
            .filter(slug=slug)
            .exclude(live_version__isnull=True, status__in=selectors._NEVER_PUBLIC)
            .order_by()
        )

    queryset = build()
    sql, params = queryset.query.get_compiler("default").as_sql()

    def execute():
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            cursor.fetchall()

    print(f"build the queryset   {mean_ms(build):.3f} ms")
    compile_ms = mean_ms(lambda: queryset.query.get_compiler("default").as_sql())
    print(f"compile it to SQL    {compile_ms:.3f} ms")
    print(f"execute the SQL      {mean_ms(execute):.3f} ms")
    print(f"the whole selector   {mean_ms(lambda: selectors.article_page(slug=slug)):.3f} ms")


if __name__ == "__main__":
    main()
