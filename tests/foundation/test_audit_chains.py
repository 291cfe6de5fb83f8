"""The audit trail as parallel chains: each chain head starts at its own chain's start, verify_audit walks every
chain and names a break in any of them, a restore brings every head back, and on PostgreSQL an append takes a
free chain rather than wait for a held one."""

import threading

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from kapstone.audit import services as audit
from kapstone.audit.models import CHAINS_AT_MOST, AuditChainHead, AuditEvent, chain_start
from kapstone.audit.verification import verify_chain
from tests.foundation.test_audit import refused, tampering, write_events


def append_to_chain(chain: int, n: int = 1) -> list[AuditEvent]:
    """Appends n entries to a chain as the PostgreSQL writer does when it holds that chain's head, opening it first;
    SQLite's writer only ever writes chain 1, so the tests of several chains write them through here."""
    head, _ = AuditChainHead.objects.get_or_create(pk=chain, defaults={"last_hash": chain_start(chain)})
    events = []
    for i in range(n):
        event = AuditEvent(
            at=timezone.now(),
            actor_label="system",
            action="read",
            object_type="probe",
            detail=f'{{"chain":{chain},"i":{i}}}',
        )
        event.prev_hash = head.last_hash
        event.hash = event.compute_hash()
        event.save()
        head.last_hash, head.last_event_id = event.hash, event.pk
        head.save(update_fields=["last_hash", "last_event_id"])
        events.append(event)
    return events


def interleaved_chains() -> dict[int, list[AuditEvent]]:
    """Chains 1, 2 and 3 written turn about, as writers on parallel chains leave them."""
    written: dict[int, list[AuditEvent]] = {1: [], 2: [], 3: []}
    for _ in range(3):
        for chain in written:
            written[chain] += append_to_chain(chain)
    return written


def test_chain_starts_are_their_number_less_one_and_chain_one_starts_where_the_trail_always_did():
    assert chain_start(1) == audit.GENESIS_HASH == "0" * 64
    assert chain_start(2) == "0" * 63 + "1"
    assert chain_start(17) == "0" * 62 + "10"


def test_a_chain_head_is_only_created_at_its_own_chains_start(db):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_auditchainhead (id, last_hash, last_event_id) VALUES (2, %s, NULL)", [chain_start(2)]
        )
    refused("INSERT INTO audit_auditchainhead (id, last_hash, last_event_id) VALUES (3, %s, NULL)", [chain_start(2)])
    refused("INSERT INTO audit_auditchainhead (id, last_hash, last_event_id) VALUES (4, %s, NULL)", [chain_start(1)])
    over = CHAINS_AT_MOST + 1
    refused(
        "INSERT INTO audit_auditchainhead (id, last_hash, last_event_id) VALUES (%s, %s, NULL)",
        [over, chain_start(over)],
    )
    refused("INSERT INTO audit_auditchainhead (id, last_hash, last_event_id) VALUES (0, %s, NULL)", [chain_start(0)])


def test_a_chain_head_only_advances_along_its_own_chain(db):
    written = interleaved_chains()
    # Head 2 cannot take chain 3's next entry, nor step back along its own chain.
    refused(
        "UPDATE audit_auditchainhead SET last_hash = %s, last_event_id = %s WHERE id = 2",
        [written[3][-1].hash, written[3][-1].pk],
    )
    refused(
        "UPDATE audit_auditchainhead SET last_hash = %s, last_event_id = %s WHERE id = 2",
        [written[2][0].hash, written[2][0].pk],
    )


def test_interleaved_chains_verify(db):
    written = interleaved_chains()
    write_events(2)  # and the writer's own appends carry on chain 1
    assert verify_chain() == (AuditEvent.objects.count(), None)
    assert sum(map(len, written.values())) + 2 == AuditEvent.objects.count()


def test_verify_audit_names_an_entry_removed_from_the_middle_of_one_chain(db):
    written = interleaved_chains()
    with tampering() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [written[2][1].pk])
    checked, broken = verify_chain()
    assert broken.event_id == written[2][2].pk
    assert "does not follow" in broken.reason


def test_verify_audit_names_a_chain_whose_newest_entries_were_removed(db):
    written = interleaved_chains()
    with tampering() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [written[3][-1].pk])
    checked, broken = verify_chain()
    assert broken.event_id == written[3][-1].pk
    assert broken.reason.startswith(f"chain 3 of the trail ends at entry #{written[3][-2].pk}")


def test_verify_audit_names_a_second_start_of_a_chain(db):
    interleaved_chains()
    fork = AuditEvent(at=timezone.now(), actor_label="mallory", action="read", prev_hash=chain_start(2))
    fork.hash = fork.compute_hash()
    fork.save()  # appending is allowed; following nothing in turn is what verify_audit names
    checked, broken = verify_chain()
    assert broken.event_id == fork.pk and "does not follow" in broken.reason


def test_verify_audit_names_a_chain_whose_head_is_gone(db):
    interleaved_chains()
    with tampering() as cursor:
        cursor.execute("DELETE FROM audit_auditchainhead WHERE id = 2")
    checked, broken = verify_chain()
    assert broken.reason == "chain 2 of the trail holds 3 entries but its chain head records none"


def test_a_chain_opened_but_never_written_verifies(db):
    write_events(2)
    AuditChainHead.objects.create(pk=2, last_hash=chain_start(2))
    assert verify_chain() == (2, None)


# --- PostgreSQL: a held chain is passed over ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_append_takes_another_chain_while_one_is_held():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite writes one chain (one writer at a time); the PostgreSQL run covers this")
    first = write_events(1)[0]
    held, release = threading.Event(), threading.Event()

    def hold_chain_one():
        try:
            with transaction.atomic():
                AuditChainHead.objects.select_for_update().get(pk=1)
                held.set()
                release.wait(timeout=30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_chain_one)
    holder.start()
    try:
        assert held.wait(timeout=30)
        # Written while chain 1's head is held: it starts chain 2 instead of waiting.
        second, third = write_events(2)
    finally:
        release.set()
        holder.join()
    assert (second.prev_hash, third.prev_hash) == (chain_start(2), second.hash)
    fourth = write_events(1)[0]
    assert fourth.prev_hash == first.hash  # chain 1, free again, is taken first
    assert verify_chain() == (4, None)
    assert dict(AuditChainHead.objects.values_list("pk", "last_event_id")) == {1: fourth.pk, 2: third.pk}
