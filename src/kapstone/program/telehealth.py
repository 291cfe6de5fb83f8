"""Sessions held by video: which sessions may be, and the link a patient and facilitator use.

A practice configures its video tool in Practice settings: a link template for the practice's video service, or a
room per clinician (a standing link, such as a Doxy.me or Zoom personal room); a session may also carry its own
link. A dosing session is never remote: the patient is observed in the room (the database refuses it too).
"""

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from kapstone.audit import services as audit
from kapstone.practice.registry import Json, SettingRefused, SettingSpec
from kapstone.practice.settings_store import practice_value
from kapstone.program import scheduling
from kapstone.program.course_templates import SessionKind
from kapstone.program.models import GroupSession, Room
from kapstone.program.planning import PlanRefused, check_room, planning_context

LINK_TEMPLATE_KEY = "program.video_link_template"
CLINICIAN_ROOMS_KEY = "program.clinician_video_rooms"
ROOM_PLACEHOLDER = "{room}"
REMOTE_KINDS = frozenset({GroupSession.Kind.INTEGRATION, GroupSession.Kind.FOLLOW_UP})
SOURCE = (
    "[kapstone-operational] Operational, not clinical: the practice's own video service. Blank until the practice "
    "configures one."
)


class TelehealthRefused(ValueError):
    """A session that cannot be held by video as asked, with the reason."""


def is_video_url(value: str) -> bool:
    parts = urlsplit(value.replace(ROOM_PLACEHOLDER, "room"))
    return parts.scheme == "https" and bool(parts.netloc) and not re.search(r"\s", value)


@dataclass(frozen=True)
class VideoLinkTemplate:
    """An https link, optionally with {room} where each session's own room name goes; blank for none."""

    widget = "text"

    def describe(self) -> str:
        return "an https link, with {room} where each session's room name goes, or blank for none"

    def parse(self, text: str) -> str:
        self.check(text.strip())
        return text.strip()

    def check(self, value: Any) -> None:
        if not isinstance(value, str) or len(value) > 300 or (value and not is_video_url(value)):
            raise SettingRefused(f"must be {self.describe()}, not {value!r}")

    def to_text(self, value: str) -> str:
        return value


def _check_rooms(value: Any) -> None:
    if not isinstance(value, dict):
        raise ValueError('a mapping of username to link, e.g. {"dr.okafor": "https://video.example/okafor"}')
    for username, link in value.items():
        if not isinstance(link, str) or not is_video_url(link) or ROOM_PLACEHOLDER in link:
            raise ValueError(f"{username}: {link!r} is not an https link")


SETTINGS = [
    SettingSpec(
        key=LINK_TEMPLATE_KEY,
        label="Video link for remote sessions",
        default="",
        source=SOURCE,
        clinical=False,
        kind=VideoLinkTemplate(),
    ),
    SettingSpec(
        key=CLINICIAN_ROOMS_KEY,
        label="Each clinician's own video room",
        default={},
        source=SOURCE,
        clinical=False,
        kind=Json(_check_rooms, 'JSON mapping usernames to https links, e.g. {"dr.okafor": "https://…"}'),
    ),
]


def _room_name(session: GroupSession) -> str:
    # Unguessable, so no one finds a session's room by counting session numbers; stable for the session.
    return "kapstone-" + salted_hmac("kapstone.program.telehealth.room", str(session.pk)).hexdigest()[:20]


def video_link(session: GroupSession) -> str:
    """The link for a remote session: its own, else a facilitator's room, else the practice's template; "" when
    the session is in person or nothing is configured."""
    if not session.is_remote:
        return ""
    if session.video_url:
        return session.video_url
    rooms = practice_value(CLINICIAN_ROOMS_KEY, {})
    for facilitator in session.facilitators.order_by("last_name", "pk"):
        if facilitator.get_username() in rooms:
            return rooms[facilitator.get_username()]
    template = practice_value(LINK_TEMPLATE_KEY, "")
    return template.replace(ROOM_PLACEHOLDER, _room_name(session)) if template else ""


@transaction.atomic
def session_telehealth_set(
    *, actor, session: GroupSession, is_remote: bool, video_url: str = "", room: Room | None = None
) -> GroupSession:
    """Holds an integration or follow-up session by video (with its own link, or the clinician's room or the
    practice's template) or back in person. Held in person, it is held in `room`, or else in the room it kept; with
    neither it is refused, as a session in person without a room would have nowhere to meet, and a room it moves
    into (or goes back to from video) must pass the planner's room rules. By video it keeps its room as it is. A
    change raises the session's calendar SEQUENCE, as a move does, so subscribed calendars replace the event's place
    and link."""
    video_url = video_url.strip()
    if is_remote and session.kind not in REMOTE_KINDS:
        raise TelehealthRefused(
            f"A {session.get_kind_display().lower()} session is held in person"
            + (": the patient is observed in the room after the dose." if session.kind == "dosing" else ".")
        )
    if video_url and not is_video_url(video_url):
        raise TelehealthRefused(f"{video_url!r} is not an https link.")
    # Locked as a move locks it, so a move and a change of place cannot lose each other's SEQUENCE.
    locked = GroupSession.objects.select_for_update().get(pk=session.pk)
    before = (locked.is_remote, locked.video_url, locked.room)
    place = locked.room if is_remote or room is None else room
    if not is_remote:
        _check_in_person(locked, place, changed=locked.is_remote or place != locked.room)
    session.is_remote, session.video_url, session.room = is_remote, video_url if is_remote else "", place
    if is_remote and not video_link(session):
        session.is_remote, session.video_url, session.room = before
        raise TelehealthRefused(
            "There is no video link: give one for this session, or set the practice's video link in Practice settings."
        )
    if (session.is_remote, session.video_url, session.room) == before:
        return session
    session.save(update_fields=["is_remote", "video_url", "room"])
    session.calendar_sequence_raise()
    audit.record(
        action=audit.Action.UPDATE,
        actor=actor,
        object_type="group_session.telehealth",
        object_id=session.pk,
        detail={
            "was_remote": before[0],
            "is_remote": is_remote,
            "own_link": bool(session.video_url),
            "room": place.name if place else "",
        },
    )
    return session


def _check_in_person(session: GroupSession, room: Room | None, *, changed: bool) -> None:
    """Refuses holding the session in person without a room, or in a room the planner would refuse for it (checked
    again for the room it kept while by video: the group may have grown since)."""
    if room is None:
        raise TelehealthRefused("Choose a room: the session is held in person.")
    if not changed:
        return
    planned = scheduling.PlannedSession(
        kind=SessionKind(session.kind),
        index=session.number,
        start=session.starts_at,
        end=session.ends_at,
        room_id=room.name,
        facilitator_ids=(),
    )
    try:
        check_room(planning_context(group=session.group, start_date=timezone.localdate(session.starts_at)), planned)
    except PlanRefused as refusal:
        raise TelehealthRefused(" ".join(refusal.problems)) from refusal
