"""What the staff home shows: my patients, today's schedule and open alerts."""

from kapstone.patients.selectors import patient_list

MY_PATIENTS_ON_HOME = 10


def staff_home(*, user) -> dict:
    my_patients = patient_list(user=user, mine_only=user.is_clinician)
    return {
        "my_patients": my_patients.object_list[:MY_PATIENTS_ON_HOME],
        "my_patient_count": my_patients.paginator.count,
        "todays_sessions": [],
        "open_alerts": [],
    }
