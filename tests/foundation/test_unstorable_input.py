"""Input no form of Kapstone's can hold is answered with 400 and a message, never a 500, and nothing is saved."""

from django.db import connection
from django.urls import reverse

from kapstone.patients.models import CareTeamMembership

REFUSAL = "cannot be stored"


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
