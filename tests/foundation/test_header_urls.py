"""The header of every signed-in page links where {% url %} would, reversed once per URL configuration and prefix."""

import re

import pytest
from django.urls import get_script_prefix, reverse, set_script_prefix

from kapstone.accounts.context_processors import HEADER_URL_NAMES
from tests.conftest import signed_in_client


def _header_links(html: str) -> set[str]:
    header = html[html.index("<body") : html.index("<main")]
    return set(re.findall(r'(?:href|action|data-keep-alive-url)="(/[^"]*)"', header))


@pytest.mark.parametrize("who", ["admin", "bob", "rhea", "alice"])
def test_every_header_link_is_the_reversed_address_of_a_header_url_name(cast, who):
    user = {"admin": cast.admin, "bob": cast.bob, "rhea": cast.researcher, "alice": cast.alice_user}[who]
    links = _header_links(signed_in_client(user).get(reverse("accounts:password_change")).text)
    named = {reverse(name) for name in HEADER_URL_NAMES}
    assert links and links <= named


def test_the_brand_and_the_status_link_are_the_reversed_addresses_signed_in_or_not(client, cast):
    for page in (
        signed_in_client(cast.admin).get(reverse("accounts:password_change")),
        client.get(reverse("accounts:login")),
    ):
        assert f'<a class="brand" href="{reverse("root")}">Kapstone</a>' in page.text
        assert f'<a href="{reverse("healthz")}">status</a>' in page.text


def test_a_site_served_under_a_prefix_links_under_it_after_a_page_without_one(cast):
    client, page = signed_in_client(cast.admin), reverse("accounts:password_change")
    assert reverse("home:home") in _header_links(client.get(page).text)
    # As the WSGI handler sets it for a site mounted at /kap (the test client does not).
    previous = get_script_prefix()
    set_script_prefix("/kap/")
    try:
        response = client.get(page)
        assert response.status_code == 200
        prefixed = _header_links(response.text)
    finally:
        set_script_prefix(previous)
    assert "/kap" + reverse("home:home") in prefixed
    assert all(link.startswith("/kap/") for link in prefixed)
