from django.apps import AppConfig


class EditorialConfig(AppConfig):
    name = "editorial"
    verbose_name = "Editorial workflow"

    def ready(self):
        from editorial.admin_lookups import install as install_bounded_lookups

        # After every app's admin module is registered (django.contrib.admin comes first
        # in INSTALLED_APPS, so its autodiscover has run): bad filter values get a message.
        install_bounded_lookups()
