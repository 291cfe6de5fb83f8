from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from kapstone.program.ical import CalendarEvent, build_calendar, event_uid

NEW_YORK = ZoneInfo("America/New_York")
STAMP = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def events():
    start = datetime(2026, 3, 7, 10, 0, tzinfo=NEW_YORK)
    return [
        CalendarEvent(
            key="group-12/dosing-1",
            start=start,
            end=start + timedelta(minutes=210),
            summary="Dosing session 1; group B",
            location="Room 2, 10 Main St",
            description="Bring a journal,\nan eye mask; and water",
        ),
        CalendarEvent(
            key="group-12/integration-1",
            start=datetime(2026, 3, 9, 14, 0, tzinfo=NEW_YORK),
            end=datetime(2026, 3, 9, 15, 0, tzinfo=NEW_YORK),
            summary="Integration session 1",
        ),
    ]


def parsed(feed: bytes):
    return Calendar.from_ical(feed).walk("VEVENT")


def test_it_parses_back_with_every_event():
    feed = build_calendar(events(), name="Group B", domain="kapstone.example", stamp=STAMP)
    calendar = Calendar.from_ical(feed)
    assert calendar["VERSION"] == "2.0"
    assert str(calendar["X-WR-CALNAME"]) == "Group B"
    vevents = parsed(feed)
    assert [str(e["SUMMARY"]) for e in vevents] == ["Dosing session 1; group B", "Integration session 1"]
    for vevent, source in zip(vevents, events(), strict=True):
        assert vevent.decoded("DTSTART") == source.start
        assert vevent.decoded("DTEND") == source.end
        assert vevent.decoded("DTSTAMP") == STAMP


def test_it_escapes_commas_semicolons_and_newlines():
    feed = build_calendar(events(), name="Group B", domain="kapstone.example", stamp=STAMP)
    assert b"Dosing session 1\\; group B" in feed
    assert b"Room 2\\, 10 Main St" in feed
    assert b"\\n" in feed
    first = parsed(feed)[0]
    assert str(first["DESCRIPTION"]) == "Bring a journal,\nan eye mask; and water"
    assert str(first["LOCATION"]) == "Room 2, 10 Main St"


def test_it_keeps_uids_stable_across_builds_and_reveals_no_key():
    first = build_calendar(events(), name="Group B", domain="kapstone.example", stamp=STAMP)
    original = events()[0]
    moved = [
        replace(original, start=original.start + timedelta(days=1), end=original.end + timedelta(days=1), sequence=1)
    ]
    second = build_calendar(moved, name="Group B", domain="kapstone.example")
    uid = str(parsed(first)[0]["UID"])
    assert uid == str(parsed(second)[0]["UID"]) == event_uid("group-12/dosing-1", "kapstone.example")
    assert uid.endswith("@kapstone.example")
    assert "group-12" not in uid
    assert len({str(e["UID"]) for e in parsed(first)}) == 2


def test_it_writes_times_in_utc_so_the_clock_change_needs_no_timezone_block():
    feed = build_calendar(events(), name="Group B", domain="kapstone.example", stamp=STAMP)
    assert b"DTSTART:20260307T150000Z" in feed  # 10:00 EST
    assert b"DTSTART:20260309T180000Z" in feed  # 14:00 EDT, after the spring change
    assert b"VTIMEZONE" not in feed


def test_it_puts_nothing_in_the_feed_beyond_what_the_caller_passes():
    feed = build_calendar(events()[1:], name="Group B", domain="kapstone.example", stamp=STAMP)
    vevent = parsed(feed)[0]
    assert set(vevent.keys()) == {"UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY", "SEQUENCE"}


def test_it_refuses_naive_times():
    naive = CalendarEvent("k", datetime(2026, 1, 1, 9), datetime(2026, 1, 1, 10), "x")
    with pytest.raises(ValueError, match="timezone-aware"):
        build_calendar([naive], name="x", domain="kapstone.example")
