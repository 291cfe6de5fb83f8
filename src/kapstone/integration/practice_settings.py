"""The integration window's practice settings: every `settings` entry of data/window.yaml, read by
selectors.practice_window_settings() as window_settings(practice_overrides("integration")).

Hours count elapsed time from administration; reminders are offsets in hours from the dose, one a line.
"""

from kapstone import bibliography
from kapstone.integration.window import window_data
from kapstone.practice.registry import Kind, Lines, Number, OrderedPair, specs_from_data_file

AREA = "Integration window"
PREFIX = "integration"

# An input limit, not a clinical number: integration follows a dose within days, so a window or reminder a
# year out is a typing slip.
HOURS_IN_A_YEAR = 24 * 365
_HOURS = Number(above=0, maximum=HOURS_IN_A_YEAR)

# Name in window.yaml -> (label, kind). A setting added to window.yaml without an entry here fails at import.
_DECLARED: dict[str, tuple[str, Kind]] = {
    "preferred_hours": ("Integration work is on time within", _HOURS),
    "outer_hours": ("The window is late after", _HOURS),
    "reminder_offsets_hours": ("Remind the patient at these hours after the dose", Lines(item=_HOURS)),
}


SETTINGS = specs_from_data_file(
    prefix=PREFIX,
    entries=window_data()["settings"],
    declared=_DECLARED,
    source_of=lambda name, entry: bibliography.describe(entry["source"]),
    # When to nudge the patient is the practice's routine; the window itself is clinical.
    operational=("reminder_offsets_hours",),
)

# Work done by the preferred end counts before work done by the outer bound (window.adherence_of).
ORDERED_PAIRS = [
    OrderedPair(
        lower=f"{PREFIX}.preferred_hours",
        upper=f"{PREFIX}.outer_hours",
        why="the on-time part of the window comes before the outer bound, after which the window is late",
        or_equal=True,
    )
]
