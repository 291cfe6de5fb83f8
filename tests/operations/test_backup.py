"""Backup, wipe, restore: every table's row count comes back and the audit trail verifies, on SQLite and PostgreSQL."""

import io
import struct
import tarfile

import pytest
from cryptography.fernet import Fernet
from django.apps import apps
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError

from kapstone.audit import services as audit
from kapstone.audit.models import AuditChainHead, AuditEvent
from kapstone.audit.verification import verify_chain
from kapstone.operations import backup as backups
from kapstone.patients.models import Patient
from tests.foundation.test_audit_chains import interleaved_chains

KEY = Fernet.generate_key().decode()
# Restore empties the database first: on PostgreSQL, TRUNCATE refuses to run inside a transaction that has
# written rows, so these tests commit as production does instead of running inside one.
pytestmark = pytest.mark.django_db(transaction=True)


def row_counts() -> dict[str, int]:
    """Every table's rows, the automatic many-to-many tables too."""
    return {
        model._meta.label_lower: model._base_manager.count()
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    }


@pytest.fixture
def practice(cast, settings):
    """The cast with a trail of audit entries, a list read linked to patients, and an uploaded file. The storage is
    a fresh in-memory one, so files other tests in this process uploaded are not in the backup."""
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}
    audit.record(action=audit.Action.READ, object_type="patient_list", detail={"patient_ids": [cast.alice.pk]})
    audit.record(action=audit.Action.READ, patient=cast.alice, object_type="patient", object_id=cast.alice.pk)
    default_storage.save("journal/picture.png", ContentFile(b"\x89PNG synthetic"))
    return cast


def test_a_backup_restores_every_row_and_a_trail_that_verifies(practice, tmp_path):
    before = row_counts()
    assert before["audit.auditevent"] >= 2 and before["audit.auditeventpatient"] == 1
    path = tmp_path / "practice.kbak"
    summary = backups.backup(out_path=str(path), key=KEY)
    assert summary.files == 1 and b"Abernathy" not in path.read_bytes()

    call_command("flush", interactive=False, verbosity=0)
    default_storage.delete("journal/picture.png")
    assert Patient.objects.count() == 0

    said: list[str] = []
    backups.restore(in_path=str(path), key=KEY, replace=False, progress=said.append)
    assert row_counts() == before
    assert said[0] == "decrypting" and any(line.startswith("table 1/") for line in said)
    checked, broken = verify_chain()
    assert broken is None and checked == before["audit.auditevent"]
    assert Patient.objects.get(pk=practice.alice.pk).family_name == "Abernathy"
    with default_storage.open("journal/picture.png") as restored:
        assert restored.read() == b"\x89PNG synthetic"
    # The restored trail goes on: a new entry chains from the restored head.
    audit.record(action=audit.Action.READ, object_type="after_restore")
    assert verify_chain()[1] is None


def test_a_trail_of_parallel_chains_restores_with_every_head_where_it_stood(practice, tmp_path):
    interleaved_chains()
    heads = dict(AuditChainHead.objects.values_list("pk", "last_event_id"))
    assert set(heads) == {1, 2, 3}
    path = tmp_path / "practice.kbak"
    backups.backup(out_path=str(path), key=KEY)
    call_command("flush", interactive=False, verbosity=0)

    backups.restore(in_path=str(path), key=KEY, replace=False)
    assert dict(AuditChainHead.objects.values_list("pk", "last_event_id")) == heads
    assert verify_chain() == (AuditEvent.objects.count(), None)


def test_a_restore_into_a_database_in_use_is_refused_unless_told_to_replace_it(practice, tmp_path):
    path = tmp_path / "practice.kbak"
    backups.backup(out_path=str(path), key=KEY)
    before = row_counts()
    Patient.objects.filter(pk=practice.dana.pk).update(family_name="Changed")
    with pytest.raises(backups.BackupError, match="not empty"):
        backups.restore(in_path=str(path), key=KEY, replace=False)
    assert Patient.objects.get(pk=practice.dana.pk).family_name == "Changed"
    backups.restore(in_path=str(path), key=KEY, replace=True)
    assert Patient.objects.get(pk=practice.dana.pk).family_name == "Delacroix"
    assert row_counts() == before and verify_chain()[1] is None


def test_the_wrong_key_is_named(practice, tmp_path):
    path = tmp_path / "practice.kbak"
    backups.backup(out_path=str(path), key=KEY)
    with pytest.raises(backups.BackupError, match="cannot be decrypted with this KAPSTONE_BACKUP_KEY"):
        backups.restore(in_path=str(path), key=Fernet.generate_key().decode(), replace=True)


def test_the_commands_need_a_key_and_name_it(practice, tmp_path, monkeypatch):
    monkeypatch.delenv("KAPSTONE_BACKUP_KEY", raising=False)
    with pytest.raises(CommandError, match="KAPSTONE_BACKUP_KEY is not set"):
        call_command("backup", "--out", str(tmp_path / "x.kbak"))
    monkeypatch.setenv("KAPSTONE_BACKUP_KEY", "not-a-fernet-key")
    with pytest.raises(CommandError, match="not a Fernet key"):
        call_command("backup", "--out", str(tmp_path / "x.kbak"))
    assert not (tmp_path / "x.kbak").exists()


def test_the_commands_back_up_and_refuse_to_restore_over_a_practice(practice, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KAPSTONE_BACKUP_KEY", KEY)
    path = tmp_path / "practice.kbak"
    call_command("backup", "--out", str(path))
    assert AuditEvent.objects.filter(object_type="backup").exists()
    said = capsys.readouterr()
    # Progress, table by table, on stderr; the summary alone on stdout.
    assert "table 1/" in said.err and "audit.auditevent:" in said.err and "uploaded files:" in said.err
    assert said.out.startswith("Backed up ") and "table 1/" not in said.out
    with pytest.raises(CommandError, match="pass --replace"):
        call_command("restore", str(path))


def test_a_file_that_is_not_a_backup_is_named(db, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(backups.BackupError, match="not a Kapstone backup"):
        backups.restore(in_path=str(path), key=KEY, replace=True)


def test_a_backup_whose_manifest_is_not_a_file_is_named_damaged(db, tmp_path):
    plain = io.BytesIO()
    with tarfile.open(fileobj=plain, mode="w") as archive:
        directory = tarfile.TarInfo("manifest.json")
        directory.type = tarfile.DIRTYPE
        archive.addfile(directory)
    token = Fernet(KEY.encode()).encrypt(plain.getvalue())
    path = tmp_path / "damaged.backup"
    path.write_bytes(backups.MAGIC + struct.pack(">Q", len(token)) + token)
    with pytest.raises(backups.BackupError, match="damaged: manifest.json in it is not a file"):
        backups.restore(in_path=str(path), key=KEY, replace=True)


def test_a_truncated_backup_is_refused_before_anything_in_the_database_changes(practice, tmp_path):
    path = tmp_path / "practice.kbak"
    backups.backup(out_path=str(path), key=KEY)
    cut = tmp_path / "cut.kbak"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    before = row_counts()
    Patient.objects.filter(pk=practice.dana.pk).update(family_name="Changed")
    with pytest.raises(backups.BackupError, match="cut short"):
        backups.restore(in_path=str(cut), key=KEY, replace=True)
    assert Patient.objects.get(pk=practice.dana.pk).family_name == "Changed"
    assert row_counts() == before and verify_chain()[1] is None


def test_a_restore_that_fails_midway_leaves_the_database_as_it_was(practice, tmp_path, monkeypatch):
    path = tmp_path / "practice.kbak"
    backups.backup(out_path=str(path), key=KEY)
    before = row_counts()
    Patient.objects.filter(pk=practice.dana.pk).update(family_name="Changed")
    inserted = []

    def insert_then_fail(model, columns, rows):
        if len(inserted) == 5:
            raise backups.BackupError("The disk is full.")
        inserted.append(model)
        original_insert(model, columns, rows)

    original_insert = backups._insert
    monkeypatch.setattr(backups, "_insert", insert_then_fail)
    with pytest.raises(backups.BackupError, match="disk is full"):
        backups.restore(in_path=str(path), key=KEY, replace=True)
    assert Patient.objects.get(pk=practice.dana.pk).family_name == "Changed"
    assert row_counts() == before and verify_chain()[1] is None


def test_the_restore_command_names_a_missing_file_without_a_traceback(db, tmp_path, monkeypatch):
    monkeypatch.setenv("KAPSTONE_BACKUP_KEY", KEY)
    with pytest.raises(CommandError, match=r"^There is no backup file .*nowhere\.kbak\.$") as refused:
        call_command("restore", str(tmp_path / "nowhere.kbak"))
    assert refused.value.returncode == 2
