"""Reads built once a process for each user (accounts.per_user) answer from the database on every call."""

import pytest

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
