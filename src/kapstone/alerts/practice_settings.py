"""Alert paging and escalation: every `settings` entry of data/escalation.yaml, read through
settings_data.escalation_settings()."""

from kapstone import bibliography
from kapstone.alerts.settings_data import PREFIX, escalation_data
from kapstone.practice.registry import Number, specs_from_data_file

AREA = "Alerts and escalation"

# Input limits, not clinical numbers: an escalation interval longer than a day, or more than a handful of tries
# at one message, is a typing slip.
MINUTES_IN_A_DAY = 24 * 60

# Name in escalation.yaml -> (label, kind). A setting added to the file without an entry here fails at import.
_DECLARED = {
    "acknowledge_within_minutes": (
        "Escalate an urgent alert not acknowledged within",
        Number(minimum=1, maximum=MINUTES_IN_A_DAY, whole=True),
    ),
    "delivery_attempts": (
        "Tries at one email or SMS before it is shown as failed",
        Number(minimum=1, maximum=10, whole=True),
    ),
    "retry_after_minutes": ("First retry of a failed email or SMS after", Number(above=0, maximum=60)),
}

SETTINGS = specs_from_data_file(
    prefix=PREFIX,
    entries=escalation_data()["settings"],
    declared=_DECLARED,
    source_of=lambda name, entry: bibliography.describe(entry["source"]),
    # Retrying a message is the admin's routine; how soon an unacknowledged alert escalates is clinical.
    operational=("delivery_attempts", "retry_after_minutes"),
)
