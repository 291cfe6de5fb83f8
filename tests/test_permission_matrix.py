"""Every URL pattern × every role: who gets through, who gets 403, who gets 404, who goes to the login page.

A URL pattern missing from ROUTES fails the suite, so no future view can skip this check. Each app's test
folder declares its own routes in tests/<app>/routes.py (a ROUTES dict of Route), merged here.
"""

import importlib
from pathlib import Path

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.conftest import signed_in_client
from tests.matrix import SIGNED_IN, Route


def _app_routes() -> dict[str, Route]:
    merged = {}
    for routes_file in sorted(Path(__file__).parent.glob("*/routes.py")):
        module = importlib.import_module(f"tests.{routes_file.parent.name}.routes")
        overlap = merged.keys() & module.ROUTES.keys()
        assert not overlap, f"routes declared twice: {overlap}"
        merged.update(module.ROUTES)
    return merged


def url_patterns_named(patterns, namespace=None, prefix=""):
    """Each URL pattern's name, with its whole route."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = (
                f"{namespace}:{pattern.namespace}"
                if namespace and pattern.namespace
                else (pattern.namespace or namespace)
            )
            yield from url_patterns_named(pattern.url_patterns, inner, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            name = pattern.name or f"<unnamed {pattern.pattern}>"
            yield (f"{namespace}:{name}" if namespace else name), prefix + str(pattern.pattern)


ROUTES = _app_routes()


def test_every_url_pattern_is_in_the_matrix():
    names = {name for name, _ in url_patterns_named(get_resolver().url_patterns)}
    assert names - set(ROUTES) == set(), "add these URL patterns to ROUTES with their allowed roles"
    assert set(ROUTES) - names == set(), "these ROUTES no longer exist"


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_anonymous_visitors_are_sent_to_the_login_page(name, cast):
    route = ROUTES[name]
    response = getattr(Client(), route.method)(reverse(name, kwargs=route.kwargs(cast)))
    if route.public:
        assert response.status_code in route.public_answers
    else:
        assert response.status_code == 302
        assert response.url.startswith(reverse("accounts:login"))


@pytest.mark.parametrize("role", SIGNED_IN)
@pytest.mark.parametrize("name", sorted(ROUTES))
def test_each_role_is_allowed_or_denied_as_the_matrix_says(name, role, cast):
    route = ROUTES[name]
    url = reverse(name, kwargs=route.kwargs(cast))
    response = getattr(signed_in_client(cast.user(role)), route.method)(url)
    if route.public:
        assert response.status_code in route.public_answers
    elif role in route.allow:
        assert response.status_code in (200, 302, 400), f"{role} should reach {name}"
        if response.status_code == 302:
            assert not response.url.startswith(reverse("accounts:login"))
    elif role in route.not_found:
        assert response.status_code == 404, f"{role} should be told {name} does not exist"
    else:
        assert response.status_code == 403, f"{role} should be refused {name}"


BEYOND_ANY_KEY = 2**63  # one past the largest id a 64-bit key holds: a driver raises on it rather than find nothing


WITH_IDS = sorted(
    name
    for name, route in url_patterns_named(get_resolver().url_patterns)
    if "<int:" in route and name in ROUTES and not ROUTES[name].public
)


@pytest.mark.parametrize("name", WITH_IDS)
def test_an_id_no_row_can_have_is_not_found(name, cast):
    """Each id in a URL, made one no table can hold, is answered 'not found' for every role the page allows. An
    empty POST may instead be refused as incomplete: a form is checked before the row it acts on is looked up."""
    route = ROUTES[name]
    kwargs = route.kwargs(cast)
    beyond = {key: BEYOND_ANY_KEY if isinstance(value, int) else value for key, value in kwargs.items()}
    for role in sorted(route.allow):
        response = getattr(signed_in_client(cast.user(role)), route.method)(reverse(name, kwargs=beyond))
        expected = (404,) if route.method == "get" else (400, 404)
        assert response.status_code in expected, f"{role} on {name}"
