import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The form's choices are cached per version of the report's inputs, named by their newest ids; a test's rows are
    rolled back and the next test's may take the same ids (SQLite), so each test starts with an empty cache."""
    cache.clear()
    yield
    cache.clear()
