"""Reads built once a process for each user (kapstone.built_once), or compiled once for everyone
(kapstone.compiled_once), answer from the database on every call."""

import pytest

from kapstone.alerts.models import StaffContact
from kapstone.alerts.selectors import default_on_call
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
def test_who_is_on_call_by_default_follows_the_contacts_at_once(cast):
    assert default_on_call() is None
    contact = StaffContact.objects.create(user=cast.bob, mobile="+15555550100", is_default_on_call=True)
    assert default_on_call() == cast.bob
    contact.is_default_on_call = False
    contact.save()
    assert default_on_call() is None
