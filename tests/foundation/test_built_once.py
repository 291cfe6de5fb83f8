"""Reads built once a process (kapstone.built_once), for everyone or for each user, answer from the database on every
call."""

import pytest

from kapstone.alerts.models import StaffContact
from kapstone.alerts.services import default_on_call
from kapstone.built_once import built_once
from kapstone.patients.models import Patient
from kapstone.patients.selectors import patients_at_a_glance
from tests.conftest import make_patient


@pytest.mark.django_db
def test_a_read_built_for_a_user_sees_each_change_at_once(cast):
    def shown(user) -> set[int]:
        return {patient.pk for patient in patients_at_a_glance(user=user, limit=10)[0]}

    before = shown(cast.bob)
    joined = make_patient("Newly", "Joined", team=[cast.bob])
    assert shown(cast.bob) == before | {joined.pk}
    joined.care_team_memberships.all().delete()
    assert shown(cast.bob) == before
    # What a user may see follows their role: a clinician who becomes a researcher sees no patient.
    cast.bob.role = cast.researcher.role
    assert shown(cast.bob) == set()


@pytest.mark.django_db
def test_a_read_built_once_for_everyone_hands_out_a_fresh_copy_each_call(cast):
    built = []

    @built_once
    def patients():
        built.append(1)
        return Patient.objects.order_by("pk")

    first = patients()
    assert list(first) == list(Patient.objects.order_by("pk"))  # `first` now holds its rows
    joined = make_patient("Newly", "Joined")
    assert joined in patients() and joined not in first
    assert patients() is not patients() and len(built) == 1


@pytest.mark.django_db
def test_who_is_on_call_by_default_follows_the_contacts_at_once(cast):
    assert default_on_call() is None
    contact = StaffContact.objects.create(user=cast.bob, mobile="+15555550100", is_default_on_call=True)
    assert default_on_call() == cast.bob
    contact.is_default_on_call = False
    contact.save()
    assert default_on_call() is None
