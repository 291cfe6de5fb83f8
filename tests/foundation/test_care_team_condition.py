"""patient_visible_to restates the care-team rule as a condition per row (for speed on short lists); it must name
exactly the patients patients_visible_to gives, for every role."""

import pytest

from kapstone.patients.models import Patient
from kapstone.patients.selectors import patient_visible_to, patients_visible_to


@pytest.mark.parametrize("who", ["bob", "charlie", "therapist", "nurse", "admin", "researcher", "alice_user"])
def test_the_condition_names_the_patients_the_care_team_filter_gives(cast, who):
    user = cast.user(who)
    by_condition = set(Patient.objects.filter(patient_visible_to(user, field="pk")).values_list("pk", flat=True))
    assert by_condition == set(patients_visible_to(user).values_list("pk", flat=True))
