from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EditorialConfig(AppConfig):
    name = "editorial"
    verbose_name = _("Editorial workflow")

    def ready(self):
        from editorial.admin_lookups import install as install_bounded_lookups

        # After every app's admin module is registered (django.contrib.admin comes first
        # in INSTALLED_APPS, so its autodiscover has run): bad filter values get a message.
        install_bounded_lookups()

        from articles.signals import article_withdrawn
        from editorial.services.translation_staleness import withdraw_translations_with_article

        article_withdrawn.connect(
            withdraw_translations_with_article, dispatch_uid="editorial.translations.withdraw"
        )
