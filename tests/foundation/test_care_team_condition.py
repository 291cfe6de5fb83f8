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


def test_both_forms_of_the_rule_open_a_facilitator_s_grant_only_inside_its_window(cast):
    """A membership granted for facilitating a course opens the record only from granted_from until
    granted_until (docs/architecture.md, "Who sees a patient"); one made by hand has no window."""
    import datetime

    from django.utils import timezone

    from kapstone.patients.models import CareTeamMembership

    now = timezone.now()
    day = datetime.timedelta(days=1)
    windows = {
        "ended": (now - 9 * day, now - day),
        "current": (now - day, now + day),
        "coming": (now + day, now + 9 * day),
    }
    for name, (start, end) in windows.items():
        patient = Patient.objects.create(
            given_name=name.title(), family_name="Window", date_of_birth=datetime.date(1980, 1, 1)
        )
        CareTeamMembership.objects.create(
            patient=patient, staff=cast.charlie, granted_for_group_id=1, granted_from=start, granted_until=end
        )
    CareTeamMembership.objects.create(
        patient=Patient.objects.create(
            given_name="Never", family_name="Window", date_of_birth=datetime.date(1980, 1, 1)
        ),
        staff=cast.charlie,
        granted_for_group_id=1,
    )
    seen = set(patients_visible_to(cast.charlie).values_list("given_name", flat=True))
    assert seen == {"Dana", "Current"}
    by_condition = set(
        Patient.objects.filter(patient_visible_to(cast.charlie, field="pk")).values_list("given_name", flat=True)
    )
    assert by_condition == seen
