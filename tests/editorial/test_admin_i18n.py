"""The staff side in the language each staff member chose (issue 18): every admin
template string is marked, the interface language on the staff profile decides the
admin's language (never the browser's), and emails go out in the right language."""

from pathlib import Path

import pytest

from tests.publicsite.test_i18n import _unmarked

pytestmark = pytest.mark.django_db

ADMIN_TEMPLATES = sorted((Path(__file__).resolve().parents[2] / "templates/admin").rglob("*.html"))


@pytest.mark.parametrize(
    "template", ADMIN_TEMPLATES, ids=lambda path: str(path.relative_to(path.parents[2]))
)
def test_no_visible_text_in_an_admin_template_is_left_unmarked(template):
    assert _unmarked(template.read_text()) == []


def test_every_admin_template_is_checked():
    names = {path.name for path in ADMIN_TEMPLATES}
    assert {"article_editor.html", "article_diff.html", "otp_verify.html", "index.html"} <= names
