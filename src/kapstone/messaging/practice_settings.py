"""Messaging's practice setting: how long before a session its reminder goes out (read by
selectors.session_reminder_lead)."""

from kapstone import bibliography
from kapstone.practice.registry import Number, SettingSpec

AREA = "Messages to patients"
SESSION_REMINDER_LEAD_KEY = "messaging.session_reminder_lead_hours"
DEFAULT_SESSION_REMINDER_LEAD_HOURS = 24

SETTINGS = [
    SettingSpec(
        key=SESSION_REMINDER_LEAD_KEY,
        label="Session reminders go out this long before the session",
        default=DEFAULT_SESSION_REMINDER_LEAD_HOURS,
        source=bibliography.describe(
            "[kapstone-operational] No source sets when a patient is reminded of a session; the default is the day "
            "before (messaging/practice_settings.py)."
        ),
        clinical=False,
        unit="h",
        # Input limits, not clinical numbers: under an hour is no notice at all, and a reminder sent more than
        # three days ahead would go out before most moves and video changes are made.
        kind=Number(minimum=1, maximum=72, whole=True),
    ),
]
