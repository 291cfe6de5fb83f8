"""Walks the chains and names the first row that was altered, removed or inserted out of turn.

The trail is one or more chains written side by side (audit.services explains why); each starts from its own
number (models.chain_start), so every entry belongs to the one chain whose newest entry it follows.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import groupby

from kapstone.audit.models import CHAINS_AT_MOST, AuditChainHead, AuditEvent, AuditEventPatient, chain_start

CHUNK_SIZE = 2000


@dataclass(frozen=True)
class ChainBreak:
    event_id: int | None
    reason: str


@dataclass
class _ChainEnd:
    """Where a chain stands after the entries walked so far."""

    entries: int = 0
    last_id: int | None = None
    last_hash: str = ""


def _listed_patients_by_event() -> Iterator[tuple[int, set[int]]]:
    """Each linked event's id with the patients linked to it, in event order: walked beside the events."""
    links = AuditEventPatient.objects.order_by("event_id", "patient_id").values_list("event_id", "patient_id")
    for event_id, rows in groupby(links.iterator(chunk_size=CHUNK_SIZE), key=lambda row: row[0]):
        yield event_id, {patient_id for _, patient_id in rows}


def verify_chain(*, progress=None) -> tuple[int, ChainBreak | None]:
    """Returns (rows checked, first break or None)."""
    starts = {chain_start(chain): chain for chain in range(1, CHAINS_AT_MOST + 1)}
    chain_after: dict[str, int] = {}  # the newest hash of each chain: the chain an entry following it belongs to
    ends: dict[int, _ChainEnd] = {}
    checked = 0
    links = _listed_patients_by_event()
    link = next(links, None)
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=CHUNK_SIZE):
        chain = chain_after.pop(event.prev_hash, None)
        if chain is None:
            chain = starts.get(event.prev_hash)
            if chain is None or chain in ends:  # follows nothing, or starts a chain a second time (a fork)
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
        chain_after[event.hash] = chain
        end = ends.setdefault(chain, _ChainEnd())
        end.entries, end.last_id, end.last_hash = end.entries + 1, event.pk, event.hash
        checked += 1
        if progress and checked % 5000 == 0:
            progress(checked)
    if link is not None:
        return checked, ChainBreak(link[0], "patients are linked to it but it is not in the trail")
    return checked, _head_break(ends)


def _head_break(ends: dict[int, _ChainEnd]) -> ChainBreak | None:
    """Whether each chain's head, written with every entry, agrees with where that chain ends."""
    heads = {head.pk: head for head in AuditChainHead.objects.all()}
    chains = sorted(set(heads) | set(ends))
    for chain in chains:
        head, end = heads.get(chain), ends.get(chain, _ChainEnd())
        # A trail of one chain is named as the trail, as it was before there were several.
        trail = "the trail" if chains == [1] else f"chain {chain} of the trail"
        head_id = head.last_event_id if head else None
        if head is not None and (head_id, head.last_hash) == (end.last_id, end.last_hash or chain_start(chain)):
            continue
        if head is not None and head_id is None and end.entries == 0:
            return ChainBreak(None, f"{trail}'s chain head does not stand at the start of its chain")
        if head is None or head_id is None:
            return ChainBreak(end.last_id, f"{trail} holds {end.entries} entries but its chain head records none")
        if end.entries == 0:
            return ChainBreak(head_id, f"{trail} is empty but its chain head records entries up to #{head_id}")
        return ChainBreak(
            head_id,
            f"{trail} ends at entry #{end.last_id} but its chain head records #{head_id} "
            "(the newest entries were removed from the end of the trail, or the head was altered)",
        )
    return None
