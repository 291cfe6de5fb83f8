"""The portal's practice settings: the defaults in data/portal.yaml unless the practice has its own value, and the
crisis lines built from them for the portal, alert and message pages."""

import functools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from kapstone.practice.settings_store import practice_value_of

DEFAULTS_FILE = Path(__file__).parent / "data" / "portal.yaml"
PREFIX = "measures"


@functools.cache
def _defaults() -> dict[str, Any]:
    return {name: spec["default"] for name, spec in yaml.safe_load(DEFAULTS_FILE.read_text())["settings"].items()}


def portal_setting(name: str, overrides: Mapping[str, Any] | None = None) -> Any:
    """`name` is a key of data/portal.yaml; the practice's override lives under `measures.<name>`. A page that read
    the practice's `measures.` values with its other settings (practice_overrides_of) passes them as `overrides`."""
    return practice_value_of(PREFIX, name, _defaults()[name], overrides)


# A contact made of digits (with spaces, dashes, dots, brackets or a leading +) is a number a phone can dial.
DIALLABLE = re.compile(r"^\+?[\d\s().-]{2,20}$")


# The ways to reach a line, said at the end of its label ("…: call or text", "… - text 988"): the links say them.
_WAYS_AT_END = r"[\s:,;(–—-]*\b(?:(?:call|phone)\s*(?:or|/|&|and)\s*)?text(?:\s*(?:or|/|&|and)\s*(?:call|phone))?"


def _heading_and_links(label: str, contact: str) -> tuple[str, str, str]:
    """A line that takes texts as its label, then "call 988 · text 988": its label without the ways it lists at its
    end, which the links now say ("call or text: 988 · text 988" said texting twice), and each link's words only
    where what is left of the label does not already say them (a "Crisis Text Line")."""
    ending = re.compile(_WAYS_AT_END + r"(?:\s+" + re.escape(contact) + r")?[\s).:]*$", re.IGNORECASE)
    heading = ending.sub("", label).strip() or label
    words = set(re.findall(r"[a-z]+", heading.lower()))
    call = contact if "call" in words else f"call {contact}"
    text = "send a message" if "text" in words else f"text {contact}"
    return heading, call, text


def crisis_resources(overrides: Mapping[str, Any] | None = None) -> list[dict]:
    """The practice's crisis lines, each with a tel: link when its contact is a number, and an sms: link when its
    label says the line takes texts (988's does: "call or text"), so a patient on a phone can tap either; such a
    line's `heading` and the links' words (`call`, `text`) are said once between them (_heading_and_links).
    `overrides` as portal_setting's."""
    lines = []
    for line in portal_setting("crisis_resources", overrides):
        contact = line["contact"].strip()
        number = re.sub(r"[^\d+]", "", contact) if DIALLABLE.match(contact) else ""
        texts = bool(number) and "text" in line["label"].lower()
        heading, call, text = _heading_and_links(line["label"], contact) if texts else (line["label"], contact, "")
        lines.append(
            {
                **line,
                "heading": heading,
                "call": call,
                "text": text,
                "tel": f"tel:{number}" if number else "",
                "sms": f"sms:{number}" if texts else "",
            }
        )
    return lines


def crisis_page_promise() -> str:
    return portal_setting("crisis_page_promise")
