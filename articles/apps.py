from django.apps import AppConfig


class ArticlesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "articles"
    verbose_name = "Articles and evidence"

    def ready(self):
        from articles import security  # noqa: F401 - connects the audit-log signal receivers
