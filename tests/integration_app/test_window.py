import datetime
from zoneinfo import ZoneInfo

import hypothesis
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kapstone import bibliography
from kapstone.integration.window import (
    Adherence,
    adherence_of,
    adherence_of_each,
    after_quiet_hours,
    in_quiet_hours,
    reminder_times,
    window_bounds,
    window_data,
    window_settings,
)

NEW_YORK = ZoneInfo("America/New_York")
DEFAULTS = window_settings()


def utc(*parts) -> datetime.datetime:
    return datetime.datetime(*parts, tzinfo=datetime.UTC)


def test_every_window_setting_cites_a_source():
    data = window_data()
    assert data["version"] >= 1
    for name, spec in data["settings"].items():
        assert bibliography.cited_ids(spec["source"]), name
        assert set(bibliography.cited_ids(spec["source"])) <= set(bibliography.sources()), name
    assert DEFAULTS["preferred_hours"] == 48 and DEFAULTS["outer_hours"] == 72


def test_a_practice_override_replaces_only_known_settings():
    assert window_settings({"outer_hours": 96, "unknown": 1})["outer_hours"] == 96
    assert "unknown" not in window_settings({"unknown": 1})


def test_a_window_across_the_spring_change_is_48_real_hours_and_an_hour_later_on_the_clock():
    # Saturday 7 March 2026, 20:00 EST; clocks go forward at 02:00 on Sunday 8 March.
    dosed = datetime.datetime(2026, 3, 7, 20, 0, tzinfo=NEW_YORK)
    bounds = window_bounds(dosed, DEFAULTS)
    assert bounds.preferred_end - bounds.opens_at == datetime.timedelta(hours=48)
    assert bounds.preferred_end.astimezone(NEW_YORK).hour == 21
    assert bounds.outer_end.astimezone(NEW_YORK) == datetime.datetime(2026, 3, 10, 21, 0, tzinfo=NEW_YORK)


def test_a_window_across_the_autumn_change_ends_an_hour_earlier_on_the_clock():
    dosed = datetime.datetime(2026, 10, 31, 20, 0, tzinfo=NEW_YORK)
    bounds = window_bounds(dosed, DEFAULTS)
    assert bounds.preferred_end.astimezone(NEW_YORK).hour == 19
    assert bounds.preferred_end.utcoffset() == datetime.timedelta(0)


def test_the_same_instant_gives_the_same_window_in_any_time_zone():
    instant = datetime.datetime(2026, 3, 29, 0, 30, tzinfo=datetime.UTC)
    london = window_bounds(instant.astimezone(ZoneInfo("Europe/London")), DEFAULTS)
    sydney = window_bounds(instant.astimezone(ZoneInfo("Australia/Sydney")), DEFAULTS)
    assert london == sydney == window_bounds(instant, DEFAULTS)


def test_a_naive_dose_time_is_refused():
    try:
        window_bounds(datetime.datetime(2026, 1, 1, 9), DEFAULTS)
    except ValueError as error:
        assert "timezone-aware" in str(error)
    else:
        raise AssertionError("a naive time must be refused")


def test_adherence_is_within_48_within_72_late_or_open():
    dosed = datetime.datetime(2026, 3, 7, 20, 0, tzinfo=NEW_YORK)
    bounds = window_bounds(dosed, DEFAULTS)
    # Python adds a timedelta to a zoned datetime on the wall clock; elapsed hours must be counted in UTC.
    hours = lambda n: dosed.astimezone(datetime.UTC) + datetime.timedelta(hours=n)  # noqa: E731
    assert adherence_of(bounds, hours(47.9), hours(100)) == Adherence.WITHIN_48H
    assert adherence_of(bounds, hours(48), hours(100)) == Adherence.WITHIN_48H
    assert adherence_of(bounds, hours(60), hours(100)) == Adherence.WITHIN_72H
    assert adherence_of(bounds, hours(73), hours(100)) == Adherence.LATE
    assert adherence_of(bounds, None, hours(73)) == Adherence.LATE
    assert adherence_of(bounds, None, hours(30)) == Adherence.OPEN


@given(
    st.lists(st.tuples(st.integers(0, 200 * 60), st.one_of(st.none(), st.integers(-60, 200 * 60))), min_size=1),
    st.integers(0, 200 * 60),
)
def test_adherence_of_many_windows_at_once_is_adherence_of_each(windows, now_minutes):
    """The outcomes report judges thousands of windows at once: every answer is the single window's."""
    start = utc(2026, 3, 7, 20, 0)
    minutes = lambda n: start + datetime.timedelta(minutes=n)  # noqa: E731
    now = minutes(now_minutes)
    dosed = [minutes(d) for d, _ in windows]
    done = [None if w is None else minutes(d + w) for d, w in windows]

    def as_array(values):
        return np.array([np.datetime64(v.replace(tzinfo=None), "ns") if v else np.datetime64("NaT") for v in values])

    expected = [adherence_of(window_bounds(d, DEFAULTS), w, now) for d, w in zip(dosed, done, strict=True)]
    assert list(adherence_of_each(as_array(dosed), as_array(done), now, DEFAULTS)) == expected


def test_reminders_fall_at_their_offsets_in_absolute_time():
    dosed = datetime.datetime(2026, 3, 7, 20, 0, tzinfo=NEW_YORK)
    times = reminder_times(window_bounds(dosed, DEFAULTS), DEFAULTS)
    assert [t - dosed for t in times] == [datetime.timedelta(hours=h) for h in DEFAULTS["reminder_offsets_hours"]]


def test_quiet_hours_that_wrap_midnight_hold_a_message_until_morning_in_the_patients_zone():
    at = datetime.datetime(2026, 6, 2, 3, 0, tzinfo=datetime.UTC)  # 23:00 on 1 June in New York
    held = after_quiet_hours(at, time_zone="America/New_York", start=datetime.time(21), end=datetime.time(8))
    assert held.astimezone(NEW_YORK) == datetime.datetime(2026, 6, 2, 8, 0, tzinfo=NEW_YORK)
    early = datetime.datetime(2026, 6, 1, 9, 0, tzinfo=datetime.UTC)  # 05:00 in New York
    held = after_quiet_hours(early, time_zone="America/New_York", start=datetime.time(21), end=datetime.time(8))
    assert held.astimezone(NEW_YORK) == datetime.datetime(2026, 6, 1, 8, 0, tzinfo=NEW_YORK)


def test_quiet_hours_ending_on_the_morning_clocks_go_forward_end_at_the_right_instant():
    # 06:00 UTC on 8 March 2026 is 01:00 EST; quiet until 08:00 EDT, which is 12:00 UTC.
    at = datetime.datetime(2026, 3, 8, 6, 0, tzinfo=datetime.UTC)
    held = after_quiet_hours(at, time_zone="America/New_York", start=datetime.time(22), end=datetime.time(8))
    assert held == datetime.datetime(2026, 3, 8, 12, 0, tzinfo=datetime.UTC)


def test_outside_quiet_hours_a_message_goes_at_once():
    at = datetime.datetime(2026, 6, 1, 16, 0, tzinfo=datetime.UTC)
    assert after_quiet_hours(at, time_zone="Europe/London", start=datetime.time(22), end=datetime.time(7)) == at


def test_equal_start_and_end_mean_no_quiet_hours():
    assert not in_quiet_hours(datetime.time(3), datetime.time(0), datetime.time(0))


@pytest.mark.parametrize(
    ("at", "released"),
    [
        # 2 Nov 2025 in New York: 01:00-02:00 happens twice, first in EDT (05:00-06:00 UTC), then in EST.
        (utc(2025, 11, 2, 5, 10), utc(2025, 11, 2, 5, 30)),
        (utc(2025, 11, 2, 6, 10), utc(2025, 11, 2, 6, 30)),
    ],
    ids=["first pass, fold 0", "repeated hour, fold 1"],
)
def test_in_the_repeated_autumn_hour_quiet_hours_end_at_the_next_end_on_the_clock_never_before_the_message(
    at, released
):
    held = after_quiet_hours(at, time_zone="America/New_York", start=datetime.time(22), end=datetime.time(1, 30))
    assert held == released
    assert held.astimezone(NEW_YORK).time() == datetime.time(1, 30)
    assert held.astimezone(NEW_YORK).fold == at.astimezone(NEW_YORK).fold


@pytest.mark.parametrize(
    ("zone", "at", "end", "jump"),
    [
        # 8 Mar 2026 in New York: 02:00 EST jumps to 03:00 EDT at 07:00 UTC, so 02:30 never shows on the clock.
        ("America/New_York", utc(2026, 3, 8, 6, 30), datetime.time(2, 30), utc(2026, 3, 8, 7, 0)),
        # 29 Mar 2026 in London: 01:00 GMT jumps to 02:00 BST at 01:00 UTC.
        ("Europe/London", utc(2026, 3, 29, 0, 15), datetime.time(1, 45), utc(2026, 3, 29, 1, 0)),
    ],
)
def test_a_quiet_end_in_the_hour_skipped_in_spring_releases_the_message_when_the_clocks_jump(zone, at, end, jump):
    held = after_quiet_hours(at, time_zone=zone, start=datetime.time(22), end=end)
    assert held == jump
    assert (
        after_quiet_hours(jump - datetime.timedelta(microseconds=1), time_zone=zone, start=datetime.time(22), end=end)
        == jump
    )


def test_a_clock_going_back_out_of_quiet_hours_releases_the_message_at_that_moment():
    # Quiet 01:30-03:00; at 01:45 EDT the clocks go back from 02:00 EDT to 01:00 EST, which is not quiet.
    at = utc(2025, 11, 2, 5, 45)
    held = after_quiet_hours(at, time_zone="America/New_York", start=datetime.time(1, 30), end=datetime.time(3))
    assert held == utc(2025, 11, 2, 6, 0)


# Every daylight-saving change of 2024-2027 in three zones, in UTC (the zones' rules; checked below).
CLOCK_CHANGES = {
    "America/New_York": [
        "2024-03-10 07:00",
        "2024-11-03 06:00",
        "2025-03-09 07:00",
        "2025-11-02 06:00",
        "2026-03-08 07:00",
        "2026-11-01 06:00",
        "2027-03-14 07:00",
        "2027-11-07 06:00",
    ],
    "Europe/London": [
        "2024-03-31 01:00",
        "2024-10-27 01:00",
        "2025-03-30 01:00",
        "2025-10-26 01:00",
        "2026-03-29 01:00",
        "2026-10-25 01:00",
        "2027-03-28 01:00",
        "2027-10-31 01:00",
    ],
    "Australia/Sydney": [
        "2024-04-06 16:00",
        "2024-10-05 16:00",
        "2025-04-05 16:00",
        "2025-10-04 16:00",
        "2026-04-04 16:00",
        "2026-10-03 16:00",
        "2027-04-03 16:00",
        "2027-10-02 16:00",
    ],
}
CHANGES = [
    (zone, datetime.datetime.fromisoformat(change).replace(tzinfo=datetime.UTC))
    for zone, changes in CLOCK_CHANGES.items()
    for change in changes
]


@pytest.mark.parametrize(("zone", "change"), CHANGES)
def test_the_sampled_clock_changes_are_real(zone, change):
    minute = datetime.timedelta(minutes=1)
    assert (change - minute).astimezone(ZoneInfo(zone)).utcoffset() != change.astimezone(ZoneInfo(zone)).utcoffset()


ZONES = st.sampled_from(["America/New_York", "Europe/London", "Australia/Sydney", "Asia/Kolkata", "UTC"])
ANY_INSTANT = st.datetimes(
    min_value=datetime.datetime(2024, 1, 1), max_value=datetime.datetime(2030, 1, 1), timezones=st.just(datetime.UTC)
)
NEAR_A_CLOCK_CHANGE = st.tuples(
    st.sampled_from(CHANGES), st.integers(min_value=-3 * 3600 * 10**6, max_value=3 * 3600 * 10**6)
).map(lambda pair: (pair[0][0], pair[0][1] + datetime.timedelta(microseconds=pair[1])))
ZONED_INSTANTS = st.one_of(st.tuples(ZONES, ANY_INSTANT), NEAR_A_CLOCK_CHANGE)
# Quiet hours are whole minutes; the small hours, where the clocks change, are sampled as often as the rest.
TIMES = st.one_of(
    st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    st.builds(datetime.time, st.integers(min_value=0, max_value=3), st.sampled_from([0, 1, 15, 30, 45, 59])),
)


def first_moment_outside_quiet_hours(at, zone, start, end):
    """Walks forward a minute at a time: the quiet hours' ends and the clock changes sampled fall on whole UTC
    minutes, so the first of `at` and the whole minutes after it that is not quiet is the true answer."""

    def quiet(instant):
        return in_quiet_hours(instant.astimezone(ZoneInfo(zone)).time(), start, end)

    if not quiet(at):
        return at
    instant = at.replace(second=0, microsecond=0) + datetime.timedelta(minutes=1)
    while quiet(instant):
        instant += datetime.timedelta(minutes=1)
    return instant


@hypothesis.settings(max_examples=300)
@given(zoned=ZONED_INSTANTS, start=TIMES, end=TIMES)
def test_a_held_message_goes_at_the_first_moment_outside_quiet_hours_never_earlier_nor_more_than_a_day_late(
    zoned, start, end
):
    zone, at = zoned
    held = after_quiet_hours(at, time_zone=zone, start=start, end=end)
    assert held >= at
    assert held - at <= datetime.timedelta(hours=25)
    assert held == first_moment_outside_quiet_hours(at, zone, start, end)
