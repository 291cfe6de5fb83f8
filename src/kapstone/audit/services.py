"""The one door for writing the audit trail. Services call `record` inside their own transaction, so a
change and its audit row land together or not at all.

Every append takes a chain head's row lock (so no chain ever forks) until its transaction commits. On PostgreSQL the
trail is written as parallel chains: an append takes whichever chain's head no other transaction holds, opening
another chain when every open one is held (up to models.CHAINS_AT_MOST), so appends queue behind each other only
when that many write at once. With one chain every page's commit waited for the commit before it (on PostgreSQL the
commit's flush to disk): four processes appending pages' reads managed 280-440 a second on one chain and 720-790
on parallel ones (issue 19). SQLite lets one transaction write at a time anyway, so it keeps one chain.

Reads are most of the trail (every page showing patient data records one or more), so while a request is served its
reads are held and written together in one short transaction once the response is ready and before it leaves
(`reads_written_before_response`, run by the audit middleware): one lock and one commit a request instead of one per
read, and none while the page is being built. If that write fails the response is not delivered (the request ends in a
500): a read is never shown unrecorded. Changes (and every record outside a request: commands, tasks) are still
written at once, inside the service's transaction.
"""

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from kapstone.audit import context
from kapstone.audit.models import CHAINS_AT_MOST, Action, AuditChainHead, AuditEvent, AuditEventPatient, chain_start

__all__ = ["Action", "reads_written_before_response", "record"]

GENESIS_HASH = chain_start(1)  # where the first chain, and so the trail, starts

# The reads recorded so far by the request being served; None outside a request.
_held_reads: ContextVar[list[AuditEvent] | None] = ContextVar("kapstone_audit_held_reads", default=None)


class Identified(Protocol):
    """A patient's record, or anything else with a primary key (audit sits below the apps that define them)."""

    @property
    def pk(self) -> int: ...


def record(
    *,
    action: Action,
    patient: Identified | None = None,
    patient_id: int | None = None,
    object_type: str = "",
    object_id: int | str = "",
    detail: Mapping[str, object] | None = None,
    actor: AbstractBaseUser | None = None,
) -> AuditEvent:
    """Append one event. The actor and address come from the request (or command) context unless given.

    A read of a list names the patients it showed in detail["patient_ids"]; each is linked to the event so their
    own trail shows it. A read recorded while a request is served is written, chained and given its id when the
    response is ready (see the module's note); its time is when it was recorded.
    """
    ambient = context.current()
    if actor is not None:
        actor_id, actor_label = actor.pk, actor.get_username()
        ip_address = ambient.ip_address if ambient else ""
    elif ambient is not None:
        actor_id, actor_label, ip_address = ambient.actor_id, ambient.actor_label, ambient.ip_address
    else:
        actor_id, actor_label, ip_address = None, "system", ""
    event = AuditEvent(
        at=timezone.now(),
        actor_id=actor_id,
        actor_label=actor_label,
        action=action,
        patient_id=patient.pk if patient is not None else patient_id,
        object_type=object_type,
        object_id=str(object_id),
        detail=json.dumps(detail or {}, sort_keys=True, separators=(",", ":"), default=str),
        ip_address=ip_address,
    )
    held = _held_reads.get()
    if action == Action.READ and held is not None:
        held.append(event)
    else:
        _append([event])
    return event


@contextmanager
def reads_written_before_response() -> Iterator[None]:
    """Holds the reads recorded inside and writes them together on the way out, whether or not the body raised.
    Reads recorded after it ends (a streamed response's body) are written at once again."""
    held: list[AuditEvent] = []
    token = _held_reads.set(held)
    try:
        yield
    finally:
        _held_reads.reset(token)
        _append(held)


def _append(events: list[AuditEvent]) -> None:
    if not events:  # a page that read no patient data writes nothing (on SQLite it would take the write lock)
        return
    if connection.vendor == "postgresql":
        _append_on_postgresql(events)
    else:
        _append_in_transaction(events)


@transaction.atomic
def _append_in_transaction(events: list[AuditEvent]) -> None:
    """Chains the events after the head and writes them, holding the head's lock until the transaction commits."""
    head, _ = AuditChainHead.objects.select_for_update().get_or_create(pk=1, defaults={"last_hash": GENESIS_HASH})
    _chain(events, after=head.last_hash)
    # One INSERT for them all; SQLite (3.35+) hands back the ids in order, taken under the lock.
    AuditEvent.objects.bulk_create(events)
    AuditEventPatient.objects.bulk_create(
        AuditEventPatient(event=event, patient_id=patient_id)
        for event in events
        for patient_id in sorted(event.listed_patient_ids)
    )
    # The database lets the head advance only to the entry that follows it (migration 0004), so it steps along.
    for event in events:
        head.last_hash, head.last_event_id = event.hash, event.pk
        head.save(update_fields=["last_hash", "last_event_id"])


def _chain(events: list[AuditEvent], *, after: str) -> None:
    previous = after
    for event in events:
        event.prev_hash = previous
        event.hash = previous = event.compute_hash()


# The columns an event is written with, in audit_append's order (migration 0007), before the payload to hash.
_EVENT_COLUMNS = [
    "at",
    "actor_id",
    "actor_label",
    "action",
    "patient_id",
    "object_type",
    "object_id",
    "detail",
    "ip_address",
]
_APPEND = """
    SELECT event_id, event_prev_hash, event_hash FROM audit_append(
        %s::timestamptz[], %s::bigint[], %s::text[], %s::text[], %s::bigint[], %s::text[], %s::text[], %s::text[],
        %s::text[], %s::text[], %s::int[], %s::bigint[], %s
    )
"""


def _append_on_postgresql(events: list[AuditEvent]) -> None:
    """One statement (audit_append, migration 0007) takes a chain's head, chains and writes the events and their
    patient links, and advances the head: every request that shows patient data writes through here, and five
    round trips a page cost more of its time than the writing did (issue 19). Outside a transaction the statement is
    its own, so the head's lock is held for it alone; inside one, until that commits, as any write."""
    links = [
        (number, patient_id)
        for number, event in enumerate(events, 1)
        for patient_id in sorted(event.listed_patient_ids)
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            _APPEND,
            [
                *([getattr(event, column) for event in events] for column in _EVENT_COLUMNS),
                [event.payload_after_previous() for event in events],
                [number for number, _ in links],
                [patient_id for _, patient_id in links],
                CHAINS_AT_MOST,
            ],
        )
        written = cursor.fetchall()
    for event, (pk, prev_hash, hash_) in zip(events, written, strict=True):
        event.pk, event.prev_hash, event.hash = pk, prev_hash, hash_
        event._state.adding, event._state.db = False, connection.alias
