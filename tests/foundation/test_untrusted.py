"""row_id reads an id from what a person sent, and names no row for anything a key cannot hold; storable_text
tells text a record can keep; same_site_address follows only a path on this site."""

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from kapstone.untrusted import LARGEST_ROW_ID, row_id, storable_text


def test_plain_ids_are_read():
    assert row_id("1") == 1
    assert row_id("0042") == 42
    assert row_id(str(LARGEST_ROW_ID)) == LARGEST_ROW_ID


def test_what_no_key_can_hold_names_no_row():
    for value in ["", "0", "-1", "+1", " 1", "1.0", "²", "١", str(LARGEST_ROW_ID + 1), "9" * 5000, None, 7, ["1"]]:
        assert row_id(value) is None, value


@given(st.integers())
def test_an_integer_is_read_back_exactly_when_a_key_holds_it(number):
    assert row_id(str(number)) == (number if 0 < number <= LARGEST_ROW_ID else None)


@given(st.text(max_size=25))
def test_any_text_is_an_id_a_key_holds_or_none(text):
    found = row_id(text)
    assert found is None or 0 < found <= LARGEST_ROW_ID


def test_text_is_storable_unless_it_holds_a_nul_or_half_a_surrogate_pair():
    assert storable_text("") and storable_text("plain") and storable_text("emoji 🙂 and ünïcode")
    for text in ["\x00", "a\x00b", "\ud800", "x\udfff", "\udbff\udc00"]:
        assert not storable_text(text), repr(text)


@given(st.text())
def test_storable_text_is_text_that_writes_out_as_utf8_without_a_nul(text):
    try:
        text.encode("utf-8")
        writes_out = True
    except UnicodeEncodeError:
        writes_out = False
    assert storable_text(text) == (writes_out and "\x00" not in text)


@pytest.mark.parametrize("typed", ["inf", "home:home", "patients:list", "nan", "accounts:logout", "?x=1", "./x"])
def test_a_next_address_that_is_not_a_path_leads_back_to_the_page_s_own_default(cast, typed):
    """Django's redirect() reverses a "next" without a "/" or "." as a view's name: "inf" was a server error, and
    "home:home" led wherever the name pointed. Only a path on this site is followed."""
    from django.test import RequestFactory

    from kapstone.untrusted import same_site_address

    assert same_site_address(RequestFactory().post("/"), typed) == ""
    assert same_site_address(RequestFactory().post("/"), "/patients/?q=1") == "/patients/?q=1"
    # A Referer is a whole address: of this site, it is followed.
    assert same_site_address(RequestFactory().post("/"), "http://testserver/patients/") == "http://testserver/patients/"
    answer = Client().post(
        reverse("accounts:login"), {"username": "alice", "password": "correct-horse-battery", "next": typed}
    )
    assert answer.status_code == 302 and answer.url == reverse("portal:home")
