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
import random
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
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
    if events:  # a page that read no patient data opens no transaction (on SQLite it would take the write lock)
        _append_in_transaction(events)


@transaction.atomic
def _append_in_transaction(events: list[AuditEvent]) -> None:
    """Chains the events after the head and writes them, holding the head's lock until the transaction commits."""
    if connection.vendor == "postgresql":
        _append_on_postgresql(events)
        return
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


# The columns an event is written with, in the order of the statement below.
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
    "prev_hash",
    "hash",
]
# The events and the patients each lists in one statement: every request that shows patient data writes through
# here, and the ORM's two bulk INSERTs cost more of a page's time than the database does (issue 19). Rows are
# inserted in the order given (UNNEST keeps it), so their ids, taken under the head's lock, follow the chain.
_INSERT_EVENTS_AND_LINKS = """
    WITH written AS (
        INSERT INTO audit_auditevent
            (at, actor_id, actor_label, action, patient_id, object_type, object_id, detail, ip_address, prev_hash, hash)
        SELECT * FROM UNNEST(
            %s::timestamptz[], %s::bigint[], %s::text[], %s::text[], %s::bigint[], %s::text[], %s::text[],
            %s::text[], %s::text[], %s::text[], %s::text[]
        )
        RETURNING id, hash
    ), linked AS (
        INSERT INTO audit_auditeventpatient (event_id, patient_id)
        SELECT written.id, listed.patient_id
        FROM UNNEST(%s::text[], %s::bigint[]) AS listed (hash, patient_id) JOIN written USING (hash)
    )
    SELECT hash, id FROM written
"""
# The lowest-numbered chain whose head no other transaction holds, taken without waiting.
_TAKE_FREE_HEAD = "SELECT id, last_hash FROM audit_auditchainhead ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"
_CHAINS_OPEN = "SELECT COALESCE(MAX(id), 0) FROM audit_auditchainhead"
_OPEN_CHAIN = (
    "INSERT INTO audit_auditchainhead (id, last_hash, last_event_id) VALUES (%s, %s, NULL) ON CONFLICT DO NOTHING"
)
_WAIT_FOR_HEAD = "SELECT id, last_hash FROM audit_auditchainhead WHERE id = %s FOR UPDATE"
_ADVANCE_HEAD = "UPDATE audit_auditchainhead SET last_hash = %s, last_event_id = %s WHERE id = %s"


def _take_head_on_postgresql(cursor: CursorWrapper) -> tuple[int, str]:
    """Locks a chain's head for this transaction: a free one if any, else a new chain while fewer than CHAINS_AT_MOST
    are open, else waits for one. Appends on different chains commit side by side, so one request's commit no longer
    holds up every other's (issue 19); each chain is still written by one transaction at a time."""
    cursor.execute(_TAKE_FREE_HEAD)
    row = cursor.fetchone()
    if row is None:
        row = _open_or_wait_for_head(cursor)
    chain, last_hash = row
    return int(chain), str(last_hash)


def _open_or_wait_for_head(cursor: CursorWrapper) -> tuple[object, object]:
    """Every open chain is held: opens the next, or past CHAINS_AT_MOST waits for one picked at random."""
    cursor.execute(_CHAINS_OPEN)
    (opened,) = cursor.fetchone()
    if opened < CHAINS_AT_MOST:
        chain = opened + 1
        # A writer opening the same chain at the same moment makes this do nothing; the lock below then waits for it.
        cursor.execute(_OPEN_CHAIN, [chain, chain_start(chain)])
    else:
        chain = random.randint(1, opened)  # noqa: S311 - spreads the waiting, not a secret
    cursor.execute(_WAIT_FOR_HEAD, [chain])
    chain_taken, last_hash = cursor.fetchone()
    return chain_taken, last_hash


def _append_on_postgresql(events: list[AuditEvent]) -> None:
    """The same writes as the ORM's: a head locked, one INSERT of events and links, one UPDATE of the head per event."""
    with connection.cursor() as cursor:
        chain, last_hash = _take_head_on_postgresql(cursor)
        _chain(events, after=last_hash)
        links = [(event.hash, patient_id) for event in events for patient_id in sorted(event.listed_patient_ids)]
        cursor.execute(
            _INSERT_EVENTS_AND_LINKS,
            [
                *([getattr(event, column) for event in events] for column in _EVENT_COLUMNS),
                [link_hash for link_hash, _ in links],
                [patient_id for _, patient_id in links],
            ],
        )
        ids = dict(cursor.fetchall())
        for event in events:
            event.pk = ids[event.hash]
            event._state.adding, event._state.db = False, connection.alias
        # The database lets the head advance only to the entry that follows it (migration 0004), so it steps along:
        # one UPDATE per event, sent together (psycopg pipelines executemany) so the head's lock, which every
        # page's write queues behind, is held for one round trip rather than one per event.
        cursor.executemany(_ADVANCE_HEAD, [[event.hash, event.pk, chain] for event in events])
