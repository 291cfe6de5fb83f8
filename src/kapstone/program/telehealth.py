"""Sessions held by video: which sessions may be, and the link a patient and facilitator use.

A practice configures its video tool in Practice settings: a link template for the practice's video service, or a
room per clinician (a standing link, such as a Doxy.me or Zoom personal room); a session may also carry its own
link. A dosing session is never remote: the patient is observed in the room (the database refuses it too).
"""

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.db.models import Prefetch
from django.utils.crypto import salted_hmac

from kapstone.accounts.models import User
from kapstone.practice.registry import Json, SettingRefused, SettingSpec
from kapstone.practice.settings_store import practice_value
from kapstone.program.models import GroupSession

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


# Of several facilitators with a room of their own, the first by family name holds the session, whichever reads it.
FACILITATOR_ORDER = ("last_name", "pk")


def facilitators_for_video_links() -> Prefetch:
    """Reads the facilitators of every session in a list in one query, in the order video_link takes them, so a
    list of sessions (the calendar feed, the reminder sweep) does not read them once a session."""
    return Prefetch("facilitators", queryset=User.objects.order_by(*FACILITATOR_ORDER), to_attr="facilitators_in_order")


def _room_name(session: GroupSession) -> str:
    # Unguessable, so no one finds a session's room by counting session numbers; stable for the session.
    return "kapstone-" + salted_hmac("kapstone.program.telehealth.room", str(session.pk)).hexdigest()[:20]


@dataclass(frozen=True)
class VideoSettings:
    """The practice's video configuration: each clinician's own room by username, and the link template."""

    clinician_rooms: dict[str, str]
    link_template: str


def video_settings() -> VideoSettings:
    """Read once for a list of sessions, so each session's link does not read the practice's settings again."""
    return VideoSettings(
        clinician_rooms=practice_value(CLINICIAN_ROOMS_KEY, {}), link_template=practice_value(LINK_TEMPLATE_KEY, "")
    )


def video_link(session: GroupSession, settings: VideoSettings | None = None) -> str:
    """The link for a remote session: its own, else a facilitator's room, else the practice's template; "" when
    the session is in person or nothing is configured. `settings` are read here when not given."""
    if not session.is_remote:
        return ""
    if session.video_url:
        return session.video_url
    settings = settings or video_settings()
    rooms = settings.clinician_rooms
    facilitators = getattr(session, "facilitators_in_order", None)
    if facilitators is None:
        facilitators = session.facilitators.order_by(*FACILITATOR_ORDER)
    for facilitator in facilitators:
        if facilitator.get_username() in rooms:
            return rooms[facilitator.get_username()]
    template = settings.link_template
    return template.replace(ROOM_PLACEHOLDER, _room_name(session)) if template else ""
