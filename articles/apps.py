from django.apps import AppConfig


class ArticlesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "articles"
    verbose_name = "Articles"

    def ready(self):
        from ops import checks  # noqa: F401 - registers the deploy checks
        from editorial.admin_lookups import install as install_bounded_lookups

        # After every app's admin module is registered (django.contrib.admin comes first
        # in INSTALLED_APPS, so its autodiscover has run): bad filter values get a message.
        install_bounded_lookups()
