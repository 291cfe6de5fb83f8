"""iCalendar (RFC 5545) feeds of course sessions.

Pure: events in, bytes out. The feed carries only what the caller passes; callers put no patient identifiers
in summaries, locations or descriptions (a calendar app syncs them to places the practice does not control).
UIDs are derived from the caller's stable event ids, so re-publishing a moved session updates the same event
in subscribers' calendars instead of adding a copy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from icalendar import Calendar, Event

PRODUCT_ID = "-//Kapstone//Course schedule//EN"


@dataclass(frozen=True)
class CalendarEvent:
    key: str  # stable identity of the session in Kapstone, e.g. "group-12/dosing-3"
    start: datetime  # timezone-aware
    end: datetime
    summary: str
    location: str = ""
    description: str = ""
    sequence: int = 0  # bump when the event changes, so clients replace their copy


def event_uid(key: str, domain: str) -> str:
    """A UID that is the same every time for the same key, and reveals nothing of the key itself."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return f"{digest}@{domain}"


def build_calendar(
    events: Sequence[CalendarEvent],
    *,
    name: str,
    domain: str,
    stamp: datetime | None = None,
) -> bytes:
    """Serialise events as an RFC 5545 VCALENDAR. `stamp` (DTSTAMP) defaults to now; pass it for stable output.

    Times are written in UTC, which every client reads the same way and which needs no VTIMEZONE block.
    """
    stamp = (stamp or datetime.now(UTC)).astimezone(UTC)
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    for item in events:
        if item.start.tzinfo is None or item.end.tzinfo is None:
            raise ValueError(f"event {item.key!r}: start and end must be timezone-aware")
        if item.end <= item.start:
            raise ValueError(f"event {item.key!r}: end must come after start")
        event = Event()
        event.add("uid", event_uid(item.key, domain))
        event.add("dtstamp", stamp)
        event.add("dtstart", item.start.astimezone(UTC))
        event.add("dtend", item.end.astimezone(UTC))
        event.add("summary", item.summary)
        event.add("sequence", item.sequence)
        if item.location:
            event.add("location", item.location)
        if item.description:
            event.add("description", item.description)
        calendar.add_component(event)
    return calendar.to_ical()
