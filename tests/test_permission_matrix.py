"""Every URL pattern × every role: who gets through, who gets 403, who gets 404, who goes to the login page.

A URL pattern missing from ROUTES fails the suite, so no future view can skip this check.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.conftest import Cast, signed_in_client

SIGNED_IN = ["admin", "bob", "therapist", "nurse", "charlie", "researcher", "alice_user", "dana_user"]
RECORD_STAFF = {"admin", "bob", "therapist", "nurse", "charlie"}
ALL_STAFF = RECORD_STAFF | {"researcher"}
PATIENTS = {"alice_user", "dana_user"}


@dataclass(frozen=True)
class Route:
    allow: set[str]
    not_found: set[str] = field(default_factory=set)
    kwargs: Callable[[Cast], dict] = lambda cast: {}
    public: bool = False
    # POST-only views are probed with an empty POST: access is decided before the input is read.
    method: str = "get"


def alice(cast: Cast) -> dict:
    return {"patient_id": cast.alice.pk}


def alice_part(kind: str):
    def kwargs(cast: Cast) -> dict:
        if kind == "diagnosis":
            return {"patient_id": cast.alice.pk, "kind": kind, "part_id": cast.alice.diagnoses.first().pk}
        return {"patient_id": cast.alice.pk, "kind": kind}

    return kwargs


# Clinicians outside alice's care team (charlie) are told her records do not exist.
ALICE_RECORD = dict(allow={"admin", "bob", "therapist", "nurse"}, not_found={"charlie"}, kwargs=alice)

ROUTES: dict[str, Route] = {
    "root": Route(allow=set(SIGNED_IN), public=True),
    "healthz": Route(allow=set(SIGNED_IN), public=True),
    "accounts:login": Route(allow=set(SIGNED_IN), public=True),
    "accounts:logout": Route(allow=set(SIGNED_IN), public=True, method="post"),
    "accounts:two_factor_setup": Route(allow=set(SIGNED_IN), public=True),
    "practice:home": Route(allow=ALL_STAFF),
    "patients:list": Route(allow=RECORD_STAFF),
    "patients:create": Route(allow=RECORD_STAFF),
    "patients:detail": Route(**ALICE_RECORD),
    "patients:edit": Route(**ALICE_RECORD),
    "patients:care_team": Route(allow={"admin", "bob"}, not_found={"charlie"}, kwargs=alice),
    "patients:audit": Route(allow={"admin"}, kwargs=alice),
    "patients:part_add": Route(**{**ALICE_RECORD, "kwargs": alice_part("medication")}, method="post"),
    "patients:part_remove": Route(**{**ALICE_RECORD, "kwargs": alice_part("diagnosis")}, method="post"),
    "portal:home": Route(allow=PATIENTS),
}


def _names(patterns, namespace=None):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = (
                f"{namespace}:{pattern.namespace}"
                if namespace and pattern.namespace
                else (pattern.namespace or namespace)
            )
            yield from _names(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern):
            name = pattern.name or f"<unnamed {pattern.pattern}>"
            yield f"{namespace}:{name}" if namespace else name


def test_every_url_pattern_is_in_the_matrix():
    names = set(_names(get_resolver().url_patterns))
    assert names - set(ROUTES) == set(), "add these URL patterns to ROUTES with their allowed roles"
    assert set(ROUTES) - names == set(), "these ROUTES no longer exist"


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_anonymous_visitors_are_sent_to_the_login_page(name, cast):
    route = ROUTES[name]
    response = getattr(Client(), route.method)(reverse(name, kwargs=route.kwargs(cast)))
    if route.public:
        assert response.status_code in (200, 302)
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
        assert response.status_code in (200, 302)
    elif role in route.allow:
        assert response.status_code in (200, 302, 400), f"{role} should reach {name}"
        if response.status_code == 302:
            assert not response.url.startswith(reverse("accounts:login"))
    elif role in route.not_found:
        assert response.status_code == 404, f"{role} should be told {name} does not exist"
    else:
        assert response.status_code == 403, f"{role} should be refused {name}"
