"""The integration window as pure functions of absolute time.

Every boundary is an aware datetime plus a timedelta, so a window that spans a daylight-saving change is still
48 real hours long; local wall-clock time is only for display and for quiet hours.
"""

import datetime
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
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


def adherence_of_each(dosed_at: np.ndarray, done_at: np.ndarray, now: datetime.datetime, settings: dict) -> np.ndarray:
    """adherence_of for many windows at once (the outcomes report's thousands): `dosed_at` and `done_at` are
    datetime64[ns] arrays in UTC, NaT where the work is not done."""

    def hours(value: float) -> np.timedelta64:
        return np.timedelta64(round(value * 3600 * 10**9), "ns")

    preferred_end = dosed_at + hours(settings["preferred_hours"])
    outer_end = dosed_at + hours(settings["outer_hours"])
    done = ~np.isnat(done_at)
    now_utc = np.datetime64(now.astimezone(datetime.UTC).replace(tzinfo=None), "ns")
    return np.select(
        [done & (done_at <= preferred_end), done & (done_at <= outer_end), done | (now_utc > outer_end)],
        [Adherence.WITHIN_48H, Adherence.WITHIN_72H, Adherence.LATE],
        default=Adherence.OPEN,
    )


def reminder_times(bounds: WindowBounds, settings: dict) -> list[datetime.datetime]:
    return [bounds.opens_at + datetime.timedelta(hours=hours) for hours in settings["reminder_offsets_hours"]]


def in_quiet_hours(local_time: datetime.time, start: datetime.time, end: datetime.time) -> bool:
    """Quiet hours may wrap midnight (22:00-07:00). Equal start and end mean no quiet hours."""
    if start == end:
        return False
    if start < end:
        return start <= local_time < end
    return local_time >= start or local_time < end


# Quiet hours last under 24 h on the wall clock, and a daylight-saving change adds at most an hour in the zones in
# use (2 h covers any zone): quiet hours have ended within this of any moment inside them.
LONGEST_QUIET_STRETCH = datetime.timedelta(hours=26)


def after_quiet_hours(
    at: datetime.datetime, *, time_zone: str, start: datetime.time, end: datetime.time
) -> datetime.datetime:
    """`at` if it falls outside the patient's quiet hours, else the first moment after it that falls outside them (in UTC).

    Quiet hours are read off the patient's wall clock, which a daylight-saving change moves: in autumn an hour is
    repeated, so one wall-clock end happens twice; in spring an hour is skipped, so an end inside it never shows
    and quiet hours end the moment the clocks jump past it. The answer is therefore found in absolute time: quiet
    hours can only end at an instant whose wall clock reads `end` or at an instant the clocks change, so it is the
    earliest such instant from `at` on whose wall clock it is not quiet.
    """
    zone = ZoneInfo(time_zone)
    at = at.astimezone(datetime.UTC)

    def quiet(instant: datetime.datetime) -> bool:
        return in_quiet_hours(instant.astimezone(zone).time(), start, end)

    if not quiet(at):
        return at
    local_day = at.astimezone(zone).date()
    wall_clock_ends = [
        datetime.datetime.combine(day, end, tzinfo=zone).replace(fold=fold).astimezone(datetime.UTC)
        for day in (local_day, local_day + datetime.timedelta(days=1))
        for fold in (0, 1)
    ]
    candidates = [*wall_clock_ends, *_clock_changes(zone, since=at, until=at + LONGEST_QUIET_STRETCH)]
    return min(instant for instant in candidates if instant >= at and not quiet(instant))


def _clock_changes(zone: ZoneInfo, *, since: datetime.datetime, until: datetime.datetime) -> list[datetime.datetime]:
    """The instants in (since, until] at which the zone's UTC offset changes, to the microsecond.

    zoneinfo does not expose its transitions, so each hour is checked and a change found by bisection. No zone
    changes its offset twice within an hour.
    """

    def offset(instant: datetime.datetime) -> datetime.timedelta:
        # Never None: the instant is aware, in a zone that has an offset at every instant.
        return instant.astimezone(zone).utcoffset() or datetime.timedelta(0)

    changes = []
    before, offset_before = since, offset(since)
    while before < until:
        after = min(before + datetime.timedelta(hours=1), until)
        offset_after = offset(after)
        if offset_after != offset_before:
            unchanged, changed = before, after
            while changed - unchanged > datetime.timedelta(microseconds=1):
                middle = unchanged + (changed - unchanged) / 2
                if offset(middle) == offset_before:
                    unchanged = middle
                else:
                    changed = middle
            changes.append(changed)
        before, offset_before = after, offset_after
    return changes
