import datetime
import hashlib
import importlib
import json
from contextlib import contextmanager

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, IntegrityError, connection, transaction
from hypothesis import given
from hypothesis import strategies as st

from kapstone.audit import services as audit
from kapstone.audit.models import AuditChainHead, AuditEvent, AuditEventPatient
from kapstone.audit.verification import ChainBreak, verify_chain
from tests.measures.factories import open_alert


def write_events(n=5):
    return [
        audit.record(action=audit.Action.READ, patient_id=7, object_type="patient", object_id=7, detail={"n": i})
        for i in range(n)
    ]


def write_list_read(patient_ids=(3, 5, 8)):
    return audit.record(action=audit.Action.READ, object_type="patient_list", detail={"patient_ids": list(patient_ids)})


@contextmanager
def tampering():
    """Lifts the database's own guards, as an attacker with the database owner's rights could, so the tests can
    prove verify_audit still notices what was done."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
            try:
                yield cursor
            finally:
                cursor.execute("SET session_replication_role = DEFAULT")
            return
        cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name LIKE %s", ["audit_%"])
        triggers = cursor.fetchall()
        for name, _ in triggers:
            cursor.execute(f'DROP TRIGGER "{name}"')
        try:
            yield cursor
        finally:
            for _, sql in triggers:
                cursor.execute(sql)


def refused(sql, params=()):
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_events_chain_each_to_the_one_before(db):
    events = write_events(3)
    assert events[1].prev_hash == events[0].hash
    assert events[2].prev_hash == events[1].hash
    assert verify_chain() == (3, None)


def test_rows_cannot_be_changed_or_deleted_through_the_orm(db):
    event = write_events(1)[0]
    event.detail = "{}"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().update(detail="{}")
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()
    with pytest.raises(PermissionError):
        AuditEventPatient.objects.all().delete()


def test_the_database_refuses_raw_sql_that_changes_an_entry_or_its_patient_links(db):
    event = write_list_read()
    refused("UPDATE audit_auditevent SET actor_label = 'mallory' WHERE id = %s", [event.pk])
    refused("UPDATE audit_auditeventpatient SET patient_id = 99 WHERE event_id = %s", [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).actor_label == "system"
    assert verify_chain() == (1, None)


def test_the_database_refuses_raw_sql_that_deletes_an_entry_its_links_or_the_chain_head(db):
    event = write_list_read()
    refused("DELETE FROM audit_auditeventpatient WHERE event_id = %s", [event.pk])
    refused("DELETE FROM audit_auditevent WHERE id = %s", [event.pk])
    refused("DELETE FROM audit_auditchainhead")
    assert verify_chain() == (1, None)


def test_the_chain_head_cannot_be_moved_back_to_hide_the_newest_entries(db):
    events = write_events(3)
    refused("UPDATE audit_auditchainhead SET last_hash = %s, last_event_id = %s", [events[1].hash, events[1].pk])
    refused("UPDATE audit_auditchainhead SET last_hash = %s, last_event_id = NULL", [audit.GENESIS_HASH])
    head = AuditChainHead.objects.get()
    assert (head.last_hash, head.last_event_id) == (events[2].hash, events[2].pk)


def test_a_chain_head_can_only_be_created_at_the_start_of_the_chain(db):
    event = write_events(1)[0]
    refused(
        "INSERT INTO audit_auditchainhead (id, last_hash, last_event_id) VALUES (2, %s, %s)", [event.hash, event.pk]
    )


def test_appending_still_moves_the_chain_head_on(db):
    events = write_events(2)
    head = AuditChainHead.objects.get()
    assert (head.last_hash, head.last_event_id) == (events[1].hash, events[1].pk)


def test_verify_audit_names_the_altered_entry(db):
    events = write_events(5)
    with tampering() as cursor:
        cursor.execute("UPDATE audit_auditevent SET actor_label = 'mallory' WHERE id = %s", [events[2].pk])
    with pytest.raises(CommandError) as failure:
        call_command("verify_audit")
    assert f"#{events[2].pk}" in str(failure.value)
    assert failure.value.returncode == 1


def test_verify_audit_notices_a_deleted_entry(db):
    events = write_events(5)
    with tampering() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])
    checked, broken = verify_chain()
    assert broken.event_id == events[2].pk and checked == 1


def test_verify_audit_notices_the_newest_entries_removed(db):
    events = write_events(4)
    with tampering() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [events[-1].pk])
    checked, broken = verify_chain()
    assert checked == 3 and broken.event_id == events[-1].pk
    assert "removed from the end" in broken.reason


def test_verify_audit_fails_an_emptied_trail_whose_chain_head_records_entries(db):
    events = write_events(3)
    with tampering() as cursor:
        cursor.execute("DELETE FROM audit_auditevent")
    with pytest.raises(CommandError) as failure:
        call_command("verify_audit")
    assert f"the trail is empty but its chain head records entries up to #{events[-1].pk}" in str(failure.value)


def test_verify_audit_fails_a_trail_whose_chain_head_is_gone(db):
    write_events(3)
    with tampering() as cursor:
        cursor.execute("DELETE FROM audit_auditchainhead")
    with pytest.raises(CommandError) as failure:
        call_command("verify_audit")
    assert "the trail holds 3 entries but its chain head records none" in str(failure.value)


def test_verify_audit_passes_an_intact_trail(db, capsys):
    write_events(3)
    call_command("verify_audit")
    assert "3 entries verified" in capsys.readouterr().out


def test_verify_audit_passes_a_trail_never_written(db, capsys):
    call_command("verify_audit")
    assert "0 entries verified" in capsys.readouterr().out


def test_a_list_read_links_each_patient_it_showed_and_keeps_them_in_the_hashed_detail(db):
    event = write_list_read([5, 3, 5])
    assert set(event.listed_patients.values_list("patient_id", flat=True)) == {3, 5}
    assert event.detail_data["patient_ids"] == [5, 3, 5]
    assert not write_events(1)[0].listed_patients.exists()
    assert verify_chain() == (2, None)


def test_reads_held_for_one_response_are_written_in_one_append_each_with_its_own_patients(db):
    with audit.reads_written_before_response():
        first = write_list_read([5, 3])
        lone = write_events(1)[0]
        last = write_list_read([8])
        assert first.pk is None  # held until the response is ready
    assert [first.prev_hash, lone.prev_hash, last.prev_hash] == [audit.GENESIS_HASH, first.hash, lone.hash]
    stored = {event.pk: event for event in AuditEvent.objects.all()}
    assert [stored[event.pk].hash for event in (first, lone, last)] == [first.hash, lone.hash, last.hash]
    assert set(stored[first.pk].listed_patients.values_list("patient_id", flat=True)) == {3, 5}
    assert not stored[lone.pk].listed_patients.exists()
    assert list(stored[last.pk].listed_patients.values_list("patient_id", flat=True)) == [8]
    assert AuditChainHead.objects.get().last_event_id == last.pk
    assert verify_chain() == (3, None)


@given(
    actor_label=st.text(max_size=20),
    detail=st.dictionaries(st.text(max_size=8), st.text(max_size=12), max_size=3),
    actor_id=st.one_of(st.none(), st.integers(min_value=1, max_value=2**40)),
)
def test_the_payload_after_the_previous_hash_completes_the_hashed_payload(actor_label, detail, actor_id):
    """PostgreSQL's audit_append hashes '["<previous hash>",' and this payload: the same bytes as compute_hash's,
    whatever the text (quotes, backslashes, accents, emoji) in the fields."""
    event = AuditEvent(
        at=datetime.datetime(2026, 12, 6, 19, 0, 0, 123, tzinfo=datetime.UTC),
        actor_id=actor_id,
        actor_label=actor_label,
        action="read",
        patient_id=None,
        object_type="patient",
        object_id="7",
        detail=json.dumps(detail, sort_keys=True),
        ip_address="203.0.113.9",
        prev_hash="ab" * 32,
    )
    completed = f'["{event.prev_hash}",{event.payload_after_previous()}'
    assert hashlib.sha256(completed.encode()).hexdigest() == event.compute_hash()


@pytest.mark.parametrize(
    "tamper",
    [
        "DELETE FROM audit_auditeventpatient WHERE event_id = %s AND patient_id = 5",
        "UPDATE audit_auditeventpatient SET patient_id = 6 WHERE event_id = %s AND patient_id = 5",
        "INSERT INTO audit_auditeventpatient (event_id, patient_id) VALUES (%s, 9)",
    ],
    ids=["removed", "moved", "added"],
)
def test_verify_audit_notices_altered_patient_links(db, tamper):
    write_events(1)
    event = write_list_read([3, 5])
    write_events(1)
    with tampering() as cursor:
        cursor.execute(tamper, [event.pk])
    assert verify_chain() == (
        1,
        ChainBreak(
            event.pk, "its links to the patients it lists were altered (a patient's trail would show it wrongly)"
        ),
    )


def test_verify_audit_notices_patients_linked_to_an_entry_that_was_removed(db):
    write_events(1)
    event = write_list_read([3])
    with tampering() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [event.pk])
    checked, broken = verify_chain()
    with tampering() as cursor:
        # The foreign key would refuse to commit the orphaned link.
        cursor.execute("DELETE FROM audit_auditeventpatient WHERE event_id = %s", [event.pk])
    assert (checked, broken.event_id) == (1, event.pk)
    assert "patients are linked to it but it is not in the trail" in broken.reason


def test_the_data_migration_links_the_patients_of_list_reads_written_before_it(db):
    events = [write_list_read([3, 5]), *write_events(1), write_list_read([8])]
    with tampering() as cursor:
        cursor.execute("DELETE FROM audit_auditeventpatient")
    migration = importlib.import_module("kapstone.audit.migrations.0003_link_listed_patients")
    migration.link_listed_patients(apps, None)
    links = set(AuditEventPatient.objects.values_list("event_id", "patient_id"))
    assert links == {(events[0].pk, 3), (events[0].pk, 5), (events[2].pk, 8)}
    assert verify_chain() == (3, None)


def test_viewing_a_record_writes_who_what_and_from_where(cast, client_for):
    client_for(cast.bob).get(f"/patients/{cast.alice.pk}/", REMOTE_ADDR="10.1.2.3")
    event = AuditEvent.objects.filter(patient_id=cast.alice.pk, action="read").last()
    assert (event.actor_id, event.actor_label, event.ip_address, event.object_type) == (
        cast.bob.pk,
        "bob",
        "10.1.2.3",
        "patient",
    )


@pytest.mark.django_db(transaction=True)
def test_flush_still_empties_the_audit_trail_as_truncate_does_on_postgresql():
    write_events(2)
    call_command("flush", interactive=False, verbosity=0)
    assert not AuditEvent.objects.exists()
    assert not AuditChainHead.objects.exists()


def test_a_pages_reads_are_written_together_in_one_append_before_it_is_sent(cast, client_for, monkeypatch):
    appends = []
    real_append = audit._append

    def counted(events):
        appends.append([event.object_type for event in events])
        real_append(events)

    monkeypatch.setattr(audit, "_append", counted)
    open_alert(cast.alice)
    appends.clear()
    before = AuditEvent.objects.count()
    # Staff home reads the patient list and the alert list: two reads, one append.
    assert client_for(cast.bob).get("/home/").status_code == 200
    assert appends == [["patient_list", "critical_alert_list"]]
    assert AuditEvent.objects.count() - before == 2
    assert verify_chain() == (AuditEvent.objects.count(), None)


def test_a_page_whose_reads_cannot_be_written_is_not_sent(cast, client_for):
    client = client_for(cast.bob)
    client.raise_request_exception = False

    def refused(execute, sql, params, many, context):
        # The write of the events, however it is worded (the ORM's INSERT on SQLite, audit_append on PostgreSQL).
        if ("INSERT INTO" in sql and AuditEvent._meta.db_table in sql) or "audit_append(" in sql:
            raise DatabaseError("disk full")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(refused):
        response = client.get(f"/patients/{cast.alice.pk}/")
    assert response.status_code == 500
    assert "Abernathy" not in response.content.decode()
    assert not AuditEvent.objects.filter(patient_id=cast.alice.pk).exists()


def test_outside_a_request_a_read_is_written_at_once(db):
    event = write_events(1)[0]
    assert event.pk is not None and AuditChainHead.objects.get().last_event_id == event.pk
