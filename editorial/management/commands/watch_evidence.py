import argparse
import datetime
import json

from django.core.management.base import BaseCommand, CommandError

from editorial.services import watch
from evidence.fetching import FetchError, LiteratureClient

FAILED = 2  # exit code: a search could not run (1 means new evidence to look at)


class Command(BaseCommand):
    help = (
        "Run each live article's saved PubMed searches (an article without one gets the "
        "default search from its title and topics) for works added to PubMed since its "
        "last review, or since --since. Stores each new PMID once; a rerun adds nothing. "
        "Exits 1 when a new systematic review, meta-analysis, randomised trial or "
        "guideline arrived, 2 when a search could not run (what earlier searches found "
        "is kept), 0 otherwise."
    )

    def add_arguments(self, parser):
        parser.add_argument("--article", metavar="SLUG", help="only this article (any state)")
        parser.add_argument(
            "--since",
            metavar="DATE",
            type=_date,
            help="start of the window, YYYY-MM-DD (default: each article's last review)",
        )
        parser.add_argument("--json", action="store_true", help="machine-readable output")

    def handle(self, *args, article=None, since=None, **options):
        articles = list(watch.watched_articles(article))
        if article and not articles:
            raise CommandError(f"No article with slug {article!r}.")
        runs, error = run_searches(articles, client=LiteratureClient(), since=since)
        notable = [found for run in runs for found in run.notable]
        if options["json"]:
            report = {
                "searches": [run.as_dict() for run in runs],
                "new": sum(len(run.new) for run in runs),
                "notable": len(notable),
                "error": error,
            }
            self.stdout.write(json.dumps(report, indent=2))
        else:
            self._summary(runs, notable)
        if error:
            raise CommandError(
                f"The evidence watch stopped: {error} Works already found are kept; run it "
                "again later.",
                returncode=FAILED,
            )
        if notable:
            raise SystemExit(1)

    def _summary(self, runs, notable) -> None:
        out = self.stdout.write
        for run in runs:
            out(
                f"{run.search} ({run.mindate} to {run.maxdate}): {run.count} in PubMed, "
                f"{len(run.new)} new"
                + (f"; only the newest {run.returned} were read" if run.truncated else "")
            )
            for item in run.new:
                out(f"  {item.get_kind_display():18} PMID {item.pmid}  {item.title[:90]}")
        total = sum(len(run.new) for run in runs)
        out(f"{len(runs)} search(es), {total} new work(s), {len(notable)} to look at.")
        if notable:
            out(
                self.style.WARNING(
                    "New systematic reviews, meta-analyses, trials or guidelines: decide "
                    "about each under “New evidence since last review” in the admin."
                )
            )


def run_searches(articles, *, client, since) -> tuple[list, str | None]:
    """Every active search of each article, in order; stops at the first network
    failure (the service stays down for the rest) and returns it as a message."""
    runs = []
    for article in articles:
        watch.search_ensure_default(article=article)
        for search in article.literature_searches.filter(is_active=True):
            search.article = article
            try:
                runs.append(watch.search_run(search=search, client=client, since=since))
            except FetchError as exc:
                return runs, f"{search}: {exc}"
    return runs, None


def _date(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"give a date as YYYY-MM-DD, not {value!r}") from None
