"""Input no form of Kapstone's can hold is answered with 400 and a message, never a 500, and nothing is saved."""

import importlib

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import reverse

from kapstone.messaging.models import Message
from kapstone.patients.models import CareTeamMembership
from tests.conftest import signed_in_client

REFUSAL = "cannot be stored"
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"


def test_a_nul_character_in_a_search_is_refused(cast, client_for):
    response = client_for(cast.bob).get(reverse("patients:list"), {"q": "ab\x00c"})
    assert response.status_code == 400 and REFUSAL in response.content.decode()


def test_a_nul_character_in_a_form_is_refused_before_anything_is_saved(cast, client_for):
    url = reverse("patients:edit", args=[cast.alice.pk])
    response = client_for(cast.bob).post(url, {"given_name": "Al\x00ice"})
    assert response.status_code == 400
    cast.alice.refresh_from_db()
    assert cast.alice.given_name == "Alice"


def test_an_id_too_large_for_the_database_is_refused_and_the_team_is_unchanged(cast, client_for):
    team_before = set(CareTeamMembership.objects.filter(patient=cast.alice).values_list("staff_id", flat=True))
    url = reverse("patients:care_team", args=[cast.alice.pk])
    response = client_for(cast.admin).post(url, {"staff": ["99999999999999999999999"], "lead": ""})
    # PostgreSQL's driver lets the form see no such clinician (the form answers); SQLite's cannot bind the number.
    assert response.status_code == (400 if connection.vendor == "sqlite" else 200)
    assert set(CareTeamMembership.objects.filter(patient=cast.alice).values_list("staff_id", flat=True)) == team_before


def test_ordinary_text_with_unusual_characters_still_passes(cast, client_for):
    response = client_for(cast.bob).get(reverse("patients:list"), {"q": "Ab\u00e9\u00df\u200d"})
    assert response.status_code == 200


def test_a_nul_in_any_value_or_in_a_name_is_refused_not_only_in_the_last_value(cast, client_for):
    client = client_for(cast.bob)
    # A name's first value is as much input as its last: a view or a field may read either.
    assert client.get(reverse("patients:list"), {"q": ["ab\x00c", "Alice"]}).status_code == 400
    assert client.get(reverse("patients:list"), {"q\x00": "Alice"}).status_code == 400
    url = reverse("patients:edit", args=[cast.alice.pk])
    for sent in ({"given_name": ["Al\x00ice", "Alicia"]}, {"given_name": "Alicia", "note\x00": "x"}):
        response = client.post(url, sent)
        assert response.status_code == 400 and REFUSAL in response.content.decode()
    cast.alice.refresh_from_db()
    assert cast.alice.given_name == "Alice"


@pytest.mark.parametrize("store", ["kapstone.accounts.sessions.db", "kapstone.accounts.sessions.cached_db"])
@pytest.mark.parametrize(
    "key", ["abcdefgh\x00ijkl", "ABCDEFGHIJKL", "a" * 41, "abc", "abcdefgh ijkl", "ab\u00e9defghij"]
)
@pytest.mark.django_db
def test_a_session_key_no_store_makes_is_no_session(store, key):
    session = importlib.import_module(store).SessionStore(key)
    assert session.session_key is None and session.load() == {}
    made = importlib.import_module(store).SessionStore()
    made.create()
    assert importlib.import_module(store).SessionStore(made.session_key).session_key == made.session_key


@pytest.mark.parametrize("who", ["bob", "alice_user", None])
def test_a_session_cookie_spelling_a_nul_is_no_session_on_any_page(cast, who):
    # A quoted cookie value may spell a NUL as \000; PostgreSQL's driver refused the lookup on every page.
    client = signed_in_client(cast.user(who)) if who else Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = "abcdefgh\x00ijklmnop"
    client.raise_request_exception = False
    for path in (reverse("accounts:login"), reverse("home:home"), reverse("portal:home"), reverse("patients:list")):
        response = client.get(path, HTTP_USER_AGENT=PHONE)
        assert response.status_code in (200, 302), (path, response.status_code)
        if path != reverse("accounts:login"):
            assert response.status_code == 302 and response.url.startswith(reverse("accounts:login"))
    assert client.post(reverse("accounts:login"), {"username": "bob", "password": "x"}).status_code < 500


def test_controls_that_reorder_shown_text_are_dropped_from_a_patients_message(cast, client_for):
    body = "Dose was \u202e05\u202c mg, I feel \u2067evil\u2069 \u202elive"
    response = client_for(cast.alice_user).post(reverse("messaging:my_threads"), {"subject": "\u202aHi", "body": body})
    assert response.status_code == 302
    message = Message.objects.get()
    assert message.body == "Dose was 05 mg, I feel evil live" and message.thread.subject == "Hi"
    page = client_for(cast.bob).get(reverse("messaging:thread", args=[cast.alice.pk, message.thread_id]))
    assert "\u202e" not in page.content.decode() and "Dose was 05 mg" in page.content.decode()


def test_controls_that_reorder_shown_text_are_dropped_from_every_value_and_name_but_the_marks_are_kept(
    cast, client_for
):
    url = reverse("patients:edit", args=[cast.alice.pk])
    client = client_for(cast.bob)
    form = client.get(url).context["form"]
    sent = {name: value for name, value in form.initial.items() if value is not None and not isinstance(value, list)}
    sent |= {"given_name": ["\u2066Zed", "\u202dAl\u200fice\u202c"], "family_\u202ename": "x"}
    client.post(url, sent)
    cast.alice.refresh_from_db()
    # A name's every value, and the name itself ("family_\u202ename" is the family name's field).
    assert cast.alice.given_name == "Al\u200fice" and cast.alice.family_name == "x"
    assert client.get(reverse("patients:list"), {"q": "\u202eAlice"}).context["request"].GET["q"] == "Alice"
