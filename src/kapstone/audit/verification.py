"""Walks the chain and names the first row that was altered, removed or inserted out of turn."""

from dataclasses import dataclass

from kapstone.audit.models import AuditChainHead, AuditEvent
from kapstone.audit.services import GENESIS_HASH


@dataclass(frozen=True)
class ChainBreak:
    event_id: int | None
    reason: str


def verify_chain(*, progress=None) -> tuple[int, ChainBreak | None]:
    """Returns (rows checked, first break or None)."""
    expected_prev = GENESIS_HASH
    checked = 0
    last_id = None
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        if event.prev_hash != expected_prev:
            return checked, ChainBreak(
                event.pk, "does not follow the entry before it (an entry was removed or reordered)"
            )
        if event.compute_hash() != event.hash:
            return checked, ChainBreak(event.pk, "its content was altered after it was written")
        expected_prev = event.hash
        last_id = event.pk
        checked += 1
        if progress and checked % 5000 == 0:
            progress(checked)
    head = AuditChainHead.objects.filter(pk=1).first()
    head_hash = head.last_hash if head else GENESIS_HASH
    if head_hash != expected_prev:
        return checked, ChainBreak(
            head.last_event_id if head else last_id, "the newest entries were removed from the end of the trail"
        )
    return checked, None
