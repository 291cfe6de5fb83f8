"""Who is on call at a moment, from the rota's weekly slots, as plain functions of local time."""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils import timezone


@dataclass(frozen=True)
class SlotTimes:
    prescriber_id: int
    weekday: int  # Monday = 0
    starts: datetime.time
    ends: datetime.time


def covers(slot: SlotTimes, moment: datetime.datetime) -> bool:
    """Whether the slot covers this local moment. A slot ending at or before its start runs past midnight, so it
    also covers the early hours of the next weekday."""
    day, time = moment.weekday(), moment.time()
    if slot.ends > slot.starts:
        return day == slot.weekday and slot.starts <= time < slot.ends
    after_midnight = (slot.weekday + 1) % 7
    return (day == slot.weekday and time >= slot.starts) or (day == after_midnight and time < slot.ends)


def on_call_at(slots: Iterable[SlotTimes], moment: datetime.datetime) -> list[int]:
    """The prescribers whose slot covers the moment (practice local time), in rota order."""
    local = timezone.localtime(moment)
    found = []
    for slot in slots:
        if covers(slot, local) and slot.prescriber_id not in found:
            found.append(slot.prescriber_id)
    return found


def rota_order(slots: Iterable[SlotTimes], moment: datetime.datetime) -> list[int]:
    """Every prescriber on the rota, in the order their next slot starts from this moment on (those on call now
    first): the order in which an unacknowledged alert moves down the rota."""
    local = timezone.localtime(moment)
    minutes_now = local.weekday() * 24 * 60 + local.hour * 60 + local.minute
    week = 7 * 24 * 60
    current = on_call_at(slots, moment)

    def wait(slot: SlotTimes) -> int:
        start = slot.weekday * 24 * 60 + slot.starts.hour * 60 + slot.starts.minute
        return (start - minutes_now) % week

    order = list(current)
    for slot in sorted(slots, key=wait):
        if slot.prescriber_id not in order:
            order.append(slot.prescriber_id)
    return order
