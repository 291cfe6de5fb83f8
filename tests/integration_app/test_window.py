import datetime
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from kapstone.integration.window import (
    Adherence,
    adherence_of,
    after_quiet_hours,
    in_quiet_hours,
    reminder_times,
    window_bounds,
    window_data,
    window_settings,
)

NEW_YORK = ZoneInfo("America/New_York")
DEFAULTS = window_settings()


def test_every_window_setting_cites_a_source():
    data = window_data()
    assert data["version"] >= 1
    for name, spec in data["settings"].items():
        assert spec["source"] in data["sources"], name
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


ZONES = st.sampled_from(["America/New_York", "Europe/London", "Australia/Sydney", "Asia/Kolkata", "UTC"])
TIMES = st.times().map(lambda t: t.replace(second=0, microsecond=0))
INSTANTS = st.datetimes(
    min_value=datetime.datetime(2024, 1, 1), max_value=datetime.datetime(2030, 1, 1), timezones=st.just(datetime.UTC)
)


@given(at=INSTANTS, zone=ZONES, start=TIMES, end=TIMES)
def test_a_held_message_is_never_sent_earlier_nor_inside_quiet_hours_nor_more_than_a_day_late(at, zone, start, end):
    held = after_quiet_hours(at, time_zone=zone, start=start, end=end)
    assert held >= at
    assert held - at <= datetime.timedelta(hours=25)
    local = held.astimezone(ZoneInfo(zone)).time().replace(tzinfo=None)
    # A quiet end inside a spring-forward gap lands just after the gap: outside quiet hours by construction.
    assert not in_quiet_hours(local, start, end) or local.hour != end.hour
