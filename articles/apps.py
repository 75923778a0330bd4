from django.apps import AppConfig


class ArticlesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "articles"
    verbose_name = "Articles"

    def ready(self):
        from articles import checks  # noqa: F401 - registers the deploy checks
