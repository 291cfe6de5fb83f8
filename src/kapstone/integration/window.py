"""The integration window as pure functions of absolute time.

Every boundary is an aware datetime plus a timedelta, so a window that spans a daylight-saving change is still
48 real hours long; local wall-clock time is only for display and for quiet hours.
"""

import datetime
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

WINDOW_FILE = Path(__file__).parent / "data" / "window.yaml"


class Adherence:
    """How a patient's integration work went against the window (see adherence_of)."""

    WITHIN_48H = "within_48h"
    WITHIN_72H = "within_72h"
    LATE = "late"
    OPEN = "open"

    LABELS = {
        WITHIN_48H: "Done within the preferred window",
        WITHIN_72H: "Done within the outer bound",
        LATE: "Late",
        OPEN: "Window open",
    }


@cache
def window_data() -> dict:
    return yaml.safe_load(WINDOW_FILE.read_text())


def window_settings(overrides: dict | None = None) -> dict:
    """Setting name -> value: the cited default unless the practice set its own."""
    values = {name: spec["value"] for name, spec in window_data()["settings"].items()}
    values.update({key: value for key, value in (overrides or {}).items() if key in values})
    return values


@dataclass(frozen=True)
class WindowBounds:
    opens_at: datetime.datetime
    preferred_end: datetime.datetime
    outer_end: datetime.datetime


def window_bounds(dosed_at: datetime.datetime, settings: dict) -> WindowBounds:
    if dosed_at.tzinfo is None:
        raise ValueError("The dose time must be timezone-aware.")
    opens_at = dosed_at.astimezone(datetime.UTC)
    return WindowBounds(
        opens_at=opens_at,
        preferred_end=opens_at + datetime.timedelta(hours=settings["preferred_hours"]),
        outer_end=opens_at + datetime.timedelta(hours=settings["outer_hours"]),
    )


def adherence_of(bounds: WindowBounds, done_at: datetime.datetime | None, now: datetime.datetime) -> str:
    """Done by the preferred end, done by the outer bound, late (done later or not at all once the outer bound
    has passed), or still open."""
    if done_at is not None and done_at <= bounds.preferred_end:
        return Adherence.WITHIN_48H
    if done_at is not None and done_at <= bounds.outer_end:
        return Adherence.WITHIN_72H
    if done_at is not None or now > bounds.outer_end:
        return Adherence.LATE
    return Adherence.OPEN


def reminder_times(bounds: WindowBounds, settings: dict) -> list[datetime.datetime]:
    return [bounds.opens_at + datetime.timedelta(hours=hours) for hours in settings["reminder_offsets_hours"]]


def in_quiet_hours(local_time: datetime.time, start: datetime.time, end: datetime.time) -> bool:
    """Quiet hours may wrap midnight (22:00-07:00). Equal start and end mean no quiet hours."""
    if start == end:
        return False
    if start < end:
        return start <= local_time < end
    return local_time >= start or local_time < end


def after_quiet_hours(
    at: datetime.datetime, *, time_zone: str, start: datetime.time, end: datetime.time
) -> datetime.datetime:
    """`at` if it falls outside the patient's quiet hours, else the moment their quiet hours end (in UTC)."""
    zone = ZoneInfo(time_zone)
    local = at.astimezone(zone)
    if not in_quiet_hours(local.timetz().replace(tzinfo=None), start, end):
        return at.astimezone(datetime.UTC)
    day = local.date() if local.time() < end else local.date() + datetime.timedelta(days=1)
    # A wall-clock end inside a spring-forward gap resolves through UTC to a real instant just after the gap.
    return datetime.datetime.combine(day, end, tzinfo=zone).astimezone(datetime.UTC)
