"""Walks the chain and names the first row that was altered, removed or inserted out of turn."""

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import groupby

from kapstone.audit.models import AuditChainHead, AuditEvent, AuditEventPatient
from kapstone.audit.services import GENESIS_HASH

CHUNK_SIZE = 2000


@dataclass(frozen=True)
class ChainBreak:
    event_id: int | None
    reason: str


def _listed_patients_by_event() -> Iterator[tuple[int, set[int]]]:
    """Each linked event's id with the patients linked to it, in event order: walked beside the events."""
    links = AuditEventPatient.objects.order_by("event_id", "patient_id").values_list("event_id", "patient_id")
    for event_id, rows in groupby(links.iterator(chunk_size=CHUNK_SIZE), key=lambda row: row[0]):
        yield event_id, {patient_id for _, patient_id in rows}


def verify_chain(*, progress=None) -> tuple[int, ChainBreak | None]:
    """Returns (rows checked, first break or None)."""
    expected_prev = GENESIS_HASH
    checked = 0
    last_id = None
    links = _listed_patients_by_event()
    link = next(links, None)
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=CHUNK_SIZE):
        if event.prev_hash != expected_prev:
            return checked, ChainBreak(
                event.pk, "does not follow the entry before it (an entry was removed or reordered)"
            )
        if event.compute_hash() != event.hash:
            return checked, ChainBreak(event.pk, "its content was altered after it was written")
        if link is not None and link[0] < event.pk:
            return checked, ChainBreak(link[0], "patients are linked to it but it is not in the trail")
        linked = set()
        if link is not None and link[0] == event.pk:
            linked, link = link[1], next(links, None)
        if linked != event.listed_patient_ids:
            return checked, ChainBreak(
                event.pk, "its links to the patients it lists were altered (a patient's trail would show it wrongly)"
            )
        expected_prev = event.hash
        last_id = event.pk
        checked += 1
        if progress and checked % 5000 == 0:
            progress(checked)
    if link is not None:
        return checked, ChainBreak(link[0], "patients are linked to it but it is not in the trail")
    return checked, _head_break(checked=checked, last_hash=expected_prev, last_id=last_id)


def _head_break(*, checked: int, last_hash: str, last_id: int | None) -> ChainBreak | None:
    """Whether the chain head, written with every entry, agrees with where the trail ends."""
    head = AuditChainHead.objects.filter(pk=1).first()
    head_id = head.last_event_id if head else None
    if head is not None and head.last_hash == last_hash and head_id == last_id:
        return None
    if head is None and checked == 0:
        return None
    if head is None or head_id is None:
        return ChainBreak(last_id, f"the trail holds {checked} entries but its chain head records none")
    if checked == 0:
        return ChainBreak(head_id, f"the trail is empty but its chain head records entries up to #{head_id}")
    return ChainBreak(
        head_id,
        f"the trail ends at entry #{last_id} but its chain head records #{head_id} "
        "(the newest entries were removed from the end of the trail, or the head was altered)",
    )
