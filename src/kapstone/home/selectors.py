"""What the staff home shows: my patients, today's schedule, open alerts, due questionnaires, the controlled-substance
ledger's warnings and who is on call, each read through its own app's selectors (which apply the care-team filter)."""

from django.utils import timezone

from kapstone.accounts.models import User
from kapstone.alerts.selectors import on_call_status
from kapstone.dosing.selectors import LEDGER_ROLES, inventories_due, open_discrepancies, registrations_expiring
from kapstone.measures.selectors import due_assessments_for, open_alerts_for
from kapstone.patients.selectors import patients_at_a_glance
from kapstone.program.selectors import sessions_on

MY_PATIENTS_ON_HOME = 10
ALERTS_ON_HOME = 10


def staff_home(*, user: User) -> dict[str, object]:
    my_patients, my_patient_count = patients_at_a_glance(user=user, limit=MY_PATIENTS_ON_HOME)
    return {
        "my_patients": my_patients,
        "my_patient_count": my_patient_count,
        "todays_sessions": sessions_on(user=user, day=timezone.localdate()),
        "critical_alerts": open_alerts_for(user, limit=ALERTS_ON_HOME),
        "ledger_discrepancies": open_discrepancies() if user.role in LEDGER_ROLES else [],
        "registrations_expiring": registrations_expiring() if user.role in LEDGER_ROLES else [],
        "inventories_due": inventories_due() if user.role in LEDGER_ROLES else [],
        "due_assessments": due_assessments_for(user),
        "on_call": on_call_status(),
    }
