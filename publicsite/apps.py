from django.apps import AppConfig


class PublicSiteConfig(AppConfig):
    name = "publicsite"
    verbose_name = "Public site"

    def ready(self):
        # Receivers run in this order after a publication: the new version's page is
        # stored first, then the cached pages go stale and proxies are purged.
        from publicsite import (
            article_page,  # noqa: F401
            caching,  # noqa: F401 - connects the purge receivers
            page_files,  # noqa: F401 - registers its system check
        )
