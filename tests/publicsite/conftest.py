import uuid

import pytest
from django.core.cache import caches


@pytest.fixture
def private_caches(settings):
    """Each test gets its own empty page cache and publication generation."""
    name = uuid.uuid4().hex
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"pages-{name}",
        },
        "publication": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"publication-{name}",
        },
    }
    yield
    caches["default"].clear()
