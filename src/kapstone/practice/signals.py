"""The signal every clinical app sends when something happens that a person must look at now.

It lives here, at the bottom of the layers, so a lower app (dosing, screening, integration) can announce a safety
event without importing the app that keeps the alert queue and pages the care team; that app listens (connected
in its apps.py). Send it with `transaction.on_commit`, so an event is never announced for a write that rolled back.
"""

from django.dispatch import Signal

# kwargs:
#   kind: str          what happened, one of SAFETY_EVENT_KINDS
#   level: str         "review" (someone must look at it) or "urgent" (page the care team now)
#   patient_id: int | None   None for events about the practice (a controlled-substance discrepancy)
#   summary: str       one line for staff inside Kapstone; never sent in an email or SMS body
#   object_type: str, object_id: int | str   the record that raised it, to link to and to keep one alert per record
safety_event = Signal()

SAFETY_EVENT_KINDS = {
    "vitals_stop": "Vital signs at a stop level in the dosing room",
    "adverse_event_serious": "Serious adverse event",
    "adverse_event_hypersensitivity": "Allergic reaction to the drug in the dosing room",
    "room_suicide_screen": "Suicide-risk screen positive in the dosing room",
    "consent_withdrawn": "Consent withdrawn",
    "ledger_discrepancy": "Controlled-substance discrepancy",
    "ledger_loss_report": "Controlled-substance loss report due",
    "patient_notification_failed": "A message to a patient about a critical result failed",
    "long_term_safety": "Long-term safety follow-up answer to review",
    "message_crisis_keyword": "A secure message mentions a crisis",
    "journal_crisis_keyword": "A shared journal entry mentions a crisis",
    "answer_crisis_keyword": "A questionnaire's written answer mentions a crisis",
}

# Event kinds whose acknowledgement says what the clinician found: whether the reaction was allergic. A confirmed
# allergic reaction to ketamine or esketamine is a contraindication ([spravato-pi] 4; [ketalar-pi]) that the apps which
# dose and enrol read from the acknowledged alert (kapstone.dosing), until a prescriber corrects the finding with a
# reason.
ASKS_WHETHER_ALLERGIC = frozenset({"adverse_event_hypersensitivity"})
