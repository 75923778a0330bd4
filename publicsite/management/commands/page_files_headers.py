"""`manage.py page_files_headers`: the `add_header` lines nginx sends with a page it
serves as a file (publicsite/page_files.py), taken from the app's own response.

Run at deploy, with the production settings, after `migrate` and `collectstatic` (the
page it renders names the fingerprinted static files):

    manage.py page_files_headers --output /etc/nginx/ptsdinfo/page-headers.conf

and point PTSDINFO_PAGE_FILES_HEADERS at the same file. Run it again, and reload nginx,
whenever a setting that changes the headers changes (DJANGO_HSTS_SECONDS, the CSP,
PTSDINFO_SHARED_CACHE_SECONDS): until then the app writes no page files whose headers
differ from the file's, and nginx answers those pages from its proxy cache.
"""

from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin, staticfiles_storage
from django.core.management.base import BaseCommand, CommandError
from django.test import Client

from publicsite import page_files


class Command(BaseCommand):
    help = "Write the nginx add_header lines for public pages served as files."

    def add_arguments(self, parser):
        parser.add_argument("--output", help="file to write (default: print the lines)", default="")
        parser.add_argument(
            "--path", default="/", help="the public page whose headers to take (default: /)"
        )

    def handle(self, *args, **options):
        path = options["path"]
        _require_collected_static()
        # As a reader reaches the site: HTTPS (HSTS is only sent there) on its own host.
        response = Client(raise_request_exception=True).get(
            path, secure=True, headers={"host": _host()}
        )
        if response.status_code != 200 or response.get("Content-Type") != page_files.CONTENT_TYPE:
            raise CommandError(
                f"{path} answered {response.status_code} {response.get('Content-Type')}: "
                "name a public HTML page with --path"
            )
        try:
            lines = page_files.nginx_lines(page_files.site_headers(response))
        except ValueError as error:
            raise CommandError(str(error)) from error
        text = "\n".join(
            [
                "# The headers ptsdinfo sends with every public page, for the pages nginx",
                "# serves as files (publicsite/page_files.py). Generated from "
                f"{path} by `manage.py page_files_headers`: do not edit.",
                *lines,
                "",
            ]
        )
        if not options["output"]:
            self.stdout.write(text, ending="")
            return
        output = Path(options["output"])
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        self.stdout.write(f"{len(lines)} headers written to {output}")


def _require_collected_static() -> None:
    """The page names its static files through the manifest `collectstatic` writes:
    without it, say so rather than fail inside the template."""
    storage = staticfiles_storage
    if isinstance(storage, ManifestFilesMixin) and not storage.manifest_storage.exists(
        storage.manifest_name
    ):
        raise CommandError(
            f"no {storage.manifest_name} in {settings.STATIC_ROOT}: "
            "run `manage.py collectstatic` first"
        )


def _host() -> str:
    site = urlsplit(getattr(settings, "PTSDINFO_SITE_URL", "") or "")
    if site.netloc:
        return site.netloc
    hosts = [host.lstrip(".") for host in settings.ALLOWED_HOSTS if host not in ("*", "")]
    return hosts[0] if hosts else "localhost"
