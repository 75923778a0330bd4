from django.apps import AppConfig


class PublicSiteConfig(AppConfig):
    name = "publicsite"
    verbose_name = "Public site"

    def ready(self):
        from publicsite import caching  # noqa: F401 - connects the purge receivers
