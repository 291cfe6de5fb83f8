"""How the creativity tasks are given: which AUT form a patient gets on which occasion, and the clock.

Pure Python (no database), so the rotation and the timer rules are tested on their own. The numbers live in
data/administration.yaml and data/aut_forms.yaml with their sources.

Form rotation: the AUT forms are given in a Williams design (Williams 1949, Australian Journal of Scientific
Research A2:149-168): a balanced Latin square in which every form appears once at every occasion and, over
the square's rows, each form follows every other equally often, so neither practice with a form nor the
order of forms can pose as change over time once patients are pooled. A patient's row is fixed by their id,
so they meet a different form at each occasion and patients are spread evenly over the rows.

The clock: an AUT administration has one part per object, a DAT administration one part. Each part has its
own deadline; a patient may move on early, and a part whose time is over gives way to the next at its
deadline whether or not the patient is there (the time limit is wall-clock, so leaving and coming back
later buys no extra time). When the last part's deadline passes the administration closes and what was
saved is scored.
"""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass
from pathlib import Path

import yaml

DATA_DIR = Path(__file__).resolve().parent / "data"

AUT = "aut"
DAT = "dat"


@functools.lru_cache(maxsize=1)
def administration_settings() -> dict:
    with open(DATA_DIR / "administration.yaml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@functools.lru_cache(maxsize=1)
def aut_forms() -> dict:
    with open(DATA_DIR / "aut_forms.yaml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@dataclass(frozen=True)
class AutObject:
    prompt: str  # the object as the originality model knows it ("brick")
    label: str  # as the patient reads it ("a brick")


@dataclass(frozen=True)
class AutForm:
    id: str
    objects: tuple[AutObject, ...]


@functools.lru_cache(maxsize=1)
def forms() -> tuple[AutForm, ...]:
    return tuple(
        AutForm(form["id"], tuple(AutObject(o["prompt"], o["label"]) for o in form["objects"]))
        for form in aut_forms()["forms"]
    )


def occasion_ids() -> list[str]:
    return [o["id"] for o in administration_settings()["schedule"]["occasions"]]


def occasion_label(occasion: str) -> str:
    for item in administration_settings()["schedule"]["occasions"]:
        if item["id"] == occasion:
            return item["label"]
    return occasion.replace("_", " ").capitalize()


def williams_design(n: int) -> list[list[int]]:
    """Rows of a Williams design for n treatments: n rows when n is even, 2n (the square and its mirror)
    when n is odd. Every row is a permutation of range(n)."""
    if n < 1:
        raise ValueError("A design needs at least one form.")
    first, low, high = [0], 1, n - 1
    while len(first) < n:
        first.append(low)
        low += 1
        if len(first) < n:
            first.append(high)
            high -= 1
    rows = [[(value + shift) % n for value in first] for shift in range(n)]
    if n % 2:
        rows += [list(reversed(row)) for row in rows]
    return rows


def form_for(*, patient_id: int, occasion: str) -> AutForm:
    """The AUT form this patient gets on this occasion. Occasions beyond the number of forms start the
    patient's row again (a sixth occasion would repeat the first form)."""
    all_forms = forms()
    rows = williams_design(len(all_forms))
    row = rows[patient_id % len(rows)]
    occasions = occasion_ids()
    position = occasions.index(occasion) if occasion in occasions else len(occasions)
    return all_forms[row[position % len(all_forms)]]


# --- the clock ----------------------------------------------------------------------------------------------


def part_seconds(task: str) -> int:
    settings = administration_settings()
    return settings["aut"]["seconds_per_object"] if task == AUT else settings["dat"]["seconds"]


def grace() -> datetime.timedelta:
    return datetime.timedelta(seconds=administration_settings()["grace_seconds"])


@dataclass(frozen=True)
class Clock:
    part: int  # 0-based index of the part under way
    part_deadline: datetime.datetime
    closed: bool  # every part's time is over

    def final_deadline(self, *, parts: int, seconds: int) -> datetime.datetime:
        return self.part_deadline + datetime.timedelta(seconds=seconds * (parts - 1 - self.part))

    def seconds_left(self, now: datetime.datetime) -> int:
        return max(0, int((self.part_deadline - now).total_seconds()))


def clock_at(*, part: int, part_deadline: datetime.datetime, parts: int, seconds: int, now: datetime.datetime) -> Clock:
    """Where the administration stands at `now`: parts whose deadline has passed give way to the next, each
    of which starts at its predecessor's deadline."""
    step = datetime.timedelta(seconds=seconds)
    while now >= part_deadline and part < parts - 1:
        part += 1
        part_deadline += step
    return Clock(part=part, part_deadline=part_deadline, closed=now >= part_deadline)


def accepts_answers(*, part_deadline: datetime.datetime, now: datetime.datetime) -> bool:
    """Answers for a part count until its deadline plus the grace period for a save sent as time runs out."""
    return now <= part_deadline + grace()


# --- never on a dosing day ----------------------------------------------------------------------------------


def dosing_block_until(
    sessions: list[tuple[datetime.datetime, datetime.datetime]], *, at: datetime.datetime, tz: datetime.tzinfo
) -> datetime.datetime | None:
    """When testing may resume, if `at` falls on the calendar day (in `tz`) of a dosing session or within
    the hours after one ends that administration.yaml gives; None when `at` is clear. `sessions` holds
    (starts_at, ends_at) pairs of the patient's dosing sessions."""
    after = datetime.timedelta(hours=administration_settings()["dosing_day"]["hours_after_dosing"])
    until = None
    for starts_at, ends_at in sessions:
        day = starts_at.astimezone(tz).date()
        day_start = datetime.datetime.combine(day, datetime.time(0), tzinfo=tz)
        clear_at = max(day_start + datetime.timedelta(days=1), ends_at + after)
        if day_start <= at < clear_at and (until is None or clear_at > until):
            until = clear_at
    return until


def first_clear_time(
    sessions: list[tuple[datetime.datetime, datetime.datetime]], *, at: datetime.datetime, tz: datetime.tzinfo
) -> datetime.datetime:
    """`at`, or the first moment after it that no dosing session blocks."""
    while (until := dosing_block_until(sessions, at=at, tz=tz)) is not None:
        at = until
    return at
