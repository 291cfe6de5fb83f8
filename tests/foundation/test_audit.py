import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from kapstone.audit import services as audit
from kapstone.audit.models import AuditEvent
from kapstone.audit.verification import verify_chain


def write_events(n=5):
    return [
        audit.record(action=audit.Action.READ, patient_id=7, object_type="patient", object_id=7, detail={"n": i})
        for i in range(n)
    ]


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


def test_verify_audit_names_the_altered_entry(db):
    events = write_events(5)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET actor_label = 'mallory' WHERE id = %s", [events[2].pk])
    with pytest.raises(CommandError) as failure:
        call_command("verify_audit")
    assert f"#{events[2].pk}" in str(failure.value)
    assert failure.value.returncode == 1


def test_verify_audit_notices_a_deleted_entry(db):
    events = write_events(5)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])
    checked, broken = verify_chain()
    assert broken.event_id == events[2].pk and checked == 1


def test_verify_audit_notices_the_newest_entries_removed(db):
    events = write_events(4)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [events[-1].pk])
    assert verify_chain()[1] is not None


def test_verify_audit_passes_an_intact_trail(db, capsys):
    write_events(3)
    call_command("verify_audit")
    assert "3 entries verified" in capsys.readouterr().out


def test_viewing_a_record_writes_who_what_and_from_where(cast, client_for):
    client_for(cast.bob).get(f"/patients/{cast.alice.pk}/", REMOTE_ADDR="10.1.2.3")
    event = AuditEvent.objects.filter(patient_id=cast.alice.pk, action="read").last()
    assert (event.actor_id, event.actor_label, event.ip_address, event.object_type) == (
        cast.bob.pk,
        "bob",
        "10.1.2.3",
        "patient",
    )
