import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import CommandError

from articles.models import Article

pytestmark = pytest.mark.django_db

PRODUCTION_KEY = "a-real-production-secret-key-" + "x" * 40


def test_load_demo_refuses_under_production_settings(settings):
    settings.DEBUG = False
    settings.SECRET_KEY = PRODUCTION_KEY

    with pytest.raises(CommandError, match="production"):
        call_command("load_demo")

    assert not Article.objects.exists()


def test_load_demo_can_be_forced_explicitly(settings):
    settings.DEBUG = False
    settings.SECRET_KEY = PRODUCTION_KEY

    call_command("load_demo", "--force-demo")

    assert Article.objects.filter(slug="ketamine-for-ptsd").exists()


def deploy_check_ids():
    return {message.id for message in run_checks(include_deployment_checks=True)}


def test_deploy_check_fails_while_a_demo_account_is_active():
    call_command("load_demo")

    assert "ptsdinfo.E002" in deploy_check_ids()


def test_deploy_check_passes_once_demo_passwords_are_changed():
    from django.contrib.auth import get_user_model

    call_command("load_demo")
    for user in get_user_model().objects.all():
        user.set_password("a different long passphrase 1234")
        user.save()

    assert "ptsdinfo.E002" not in deploy_check_ids()
