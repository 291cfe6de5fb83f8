"""Course planning's practice setting: the clinic's opening hours (planning.OPENING_HOURS_KEY), read by
planning.opening_hours() as the default hours with the practice's own keys laid over them."""

import datetime
from typing import Any

from kapstone.practice.registry import Json, SettingSpec
from kapstone.practice.templatetags.kapstone_tags import day_in_words
from kapstone.program import sites, telehealth
from kapstone.program.planning import DEFAULT_OPENING_HOURS, OPENING_HOURS_KEY, closed_day_ranges

AREA = "Course planning"
DAYS_IN_A_WEEK = 7
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SOURCE = (
    "Operational, not clinical: no source sets a clinic's hours. The default is plain office hours "
    "(program/planning.py); weekdays count from 0 = Monday."
)


def _time(hours: dict, key: str) -> datetime.time:
    try:
        return datetime.time.fromisoformat(hours[key])
    except (TypeError, ValueError):
        raise ValueError(f'{key} must be a time such as "09:00", not {hours[key]!r}') from None


def check_opening_hours(value: Any) -> None:
    """The shape weekly_slots() reads; keys left out keep the default."""
    if not isinstance(value, dict):
        raise ValueError('give a mapping, e.g. {"opens": "08:30"}')
    unknown = set(value) - set(DEFAULT_OPENING_HOURS)
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}; known: {sorted(DEFAULT_OPENING_HOURS)}")
    hours = {**DEFAULT_OPENING_HOURS, **value}
    weekdays = hours["weekdays"]
    if (
        not isinstance(weekdays, list)
        or not weekdays
        or not all(isinstance(day, int) and not isinstance(day, bool) for day in weekdays)
        or not all(0 <= day < DAYS_IN_A_WEEK for day in weekdays)
    ):
        raise ValueError("weekdays must list at least one day, each 0 (Monday) to 6 (Sunday)")
    if _time(hours, "opens") >= _time(hours, "closes"):
        raise ValueError("opens must be before closes")
    if hours["preferred_start"] is not None and not (
        _time(hours, "opens") <= _time(hours, "preferred_start") < _time(hours, "closes")
    ):
        raise ValueError("preferred_start must fall between opens and closes (null means at opening time)")
    step = hours["start_every_minutes"]
    if not isinstance(step, int) or isinstance(step, bool) or step < 1:
        raise ValueError("start_every_minutes must be a whole number of minutes, 1 or more")
    closed_day_ranges(hours)


def _in_a_list(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _days_in_words(weekdays: list[int]) -> str:
    """ "Monday to Friday" for three or more days in a row, else the days named ("Monday, Wednesday and Friday")."""
    days = sorted(set(weekdays))
    if len(days) >= 3 and days == list(range(days[0], days[-1] + 1)):
        return f"{WEEKDAY_NAMES[days[0]]} to {WEEKDAY_NAMES[days[-1]]}"
    return _in_a_list([WEEKDAY_NAMES[day] for day in days])


def opening_hours_in_words(value: dict) -> str:
    """The opening hours as the settings page shows them: the days and hours, how often a session may start, when
    the planner tries to start them and the days closed, with the default laid under the practice's own keys as
    planning.opening_hours() does."""
    hours = {**DEFAULT_OPENING_HOURS, **value}
    closed = [
        day_in_words(first) if first == last else f"{day_in_words(first)} to {day_in_words(last)}"
        for first, last in closed_day_ranges(hours)
    ]
    return "\n".join(
        (
            f"Open {_days_in_words(hours['weekdays'])}, {hours['opens']} to {hours['closes']}",
            f"A session may start every {hours['start_every_minutes']} minutes",
            "Sessions start at opening time"
            if hours["preferred_start"] is None
            else f"Sessions start at {hours['preferred_start']} where they can",
            f"Closed on {_in_a_list(closed)}" if closed else "No closed dates",
        )
    )


SETTINGS = [
    SettingSpec(
        key=OPENING_HOURS_KEY,
        label="Opening hours for planned sessions",
        default=DEFAULT_OPENING_HOURS,
        source=SOURCE,
        clinical=False,
        kind=Json(
            validator=check_opening_hours,
            description=(
                'opening hours as JSON, e.g. {"weekdays": [0, 1, 2, 3], "opens": "08:30"} (weekdays count from '
                "0 = Monday to 6 = Sunday); preferred_start is when the planner tries to start sessions (null: at opening time); closed_dates lists holidays and closures, "
                'e.g. ["2026-12-25", "2026-12-31..2027-01-01"]'
            ),
            in_words=opening_hours_in_words,
        ),
    ),
    SettingSpec(
        key=sites.SITES_KEY,
        label="The practice's sites (where dosing sessions are held)",
        default=sites.DEFAULT_SITES,
        source=(
            "Operational, not clinical: a practice names its own sites. Dore 2019 pooled three practices, so the "
            "outcomes report and the research export break results down by site (program/sites.py)."
        ),
        clinical=False,
        kind=Json(validator=sites.check_sites, description='site names as a JSON list, e.g. ["Main office", "North"]'),
    ),
    *telehealth.SETTINGS,
]
