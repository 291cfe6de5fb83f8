"""Unshared entries and psychotherapy notes never reach another role, an export or a page."""

import io
import json

import pandas as pd
import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.urls import reverse

from kapstone.accounts.roles import Role
from kapstone.audit.models import AuditEvent
from kapstone.integration import services
from kapstone.integration.models import PsychotherapyNote
from kapstone.patients.models import CareTeamMembership
from tests.conftest import make_user, signed_in_client
from tests.integration_app.factories import given_dose, journal_entry, png_bytes

PRIVATE = "private-words-only-alice-reads"
SHARED = "shared-words-for-the-care-team"
PROCESS = "therapist-process-note-text"
STAFF = ["admin", "bob", "therapist", "nurse", "charlie", "researcher"]


@pytest.fixture
def written(cast):
    journal_entry(cast.alice, text=PRIVATE)
    journal_entry(cast.alice, text=SHARED, shared=True)
    services.psychotherapy_note_add(actor=cast.therapist, patient=cast.alice, text=PROCESS)


def pages_for(cast, role):
    alice = cast.alice.pk
    names = [
        ("integration:timeline", [alice]),
        ("integration:adherence", []),
        ("integration:psychotherapy_notes", [alice]),
        ("integration:journal", []),
        ("integration:journal_export", []),
        ("integration:my_timeline", []),
        ("patients:detail", [alice]),
    ]
    client = signed_in_client(cast.user(role))
    return "".join(client.get(reverse(name, args=args)).content.decode() for name, args in names)


@pytest.mark.parametrize("role", [*STAFF, "dana_user"])
def test_unshared_entries_and_psychotherapy_notes_reach_no_other_role(cast, written, role):
    seen = pages_for(cast, role)
    assert PRIVATE not in seen
    if role != "therapist":
        assert PROCESS not in seen


def test_the_care_team_sees_shared_entries_and_others_do_not(cast, written):
    assert SHARED in pages_for(cast, "bob")
    assert SHARED not in pages_for(cast, "admin")
    assert SHARED not in pages_for(cast, "charlie")


def test_the_patient_sees_their_own_entries_but_never_the_psychotherapy_notes(cast, written):
    seen = pages_for(cast, "alice_user")
    assert PRIVATE in seen and SHARED in seen
    assert PROCESS not in seen


def test_psychotherapy_notes_are_encrypted_at_rest_and_only_their_author_reads_them(cast, written):
    note = PsychotherapyNote.objects.get()
    assert PROCESS not in note.ciphertext

    colleague = make_user("tess", Role.THERAPIST)
    CareTeamMembership.objects.create(patient=cast.alice, staff=colleague)
    assert (
        PROCESS
        not in signed_in_client(colleague)
        .get(reverse("integration:psychotherapy_notes", args=[cast.alice.pk]))
        .content.decode()
    )
    assert PROCESS in pages_for(cast, "therapist")


def test_reading_psychotherapy_notes_is_audited_with_the_note_ids(cast, written):
    signed_in_client(cast.therapist).get(reverse("integration:psychotherapy_notes", args=[cast.alice.pk]))
    event = AuditEvent.objects.filter(object_type="psychotherapy_note", action="read").get()
    assert event.actor_id == cast.therapist.pk and str(PsychotherapyNote.objects.get().pk) in event.detail
    assert PROCESS not in "".join(AuditEvent.objects.values_list("detail", flat=True))


def test_the_journal_export_holds_only_the_patients_own_writing(cast, written):
    export = signed_in_client(cast.alice_user).get(reverse("integration:journal_export"), {"format": "json"})
    assert PROCESS not in export.content.decode()


def test_an_unshared_image_is_not_served_to_the_care_team(cast):
    entry = journal_entry(cast.alice, activity="drawing", activity_minutes=5)
    entry._image_extension = "png"
    entry.image.save("x", ContentFile(png_bytes()))
    url = reverse("integration:journal_image", args=[entry.pk])
    assert signed_in_client(cast.bob).get(url).status_code == 404
    assert signed_in_client(cast.alice_user).get(url).status_code == 200


def test_an_empty_psychotherapy_note_is_refused_without_a_write(cast):
    response = signed_in_client(cast.therapist).post(
        reverse("integration:psychotherapy_notes", args=[cast.alice.pk]), {"text": ""}
    )
    assert response.status_code == 400
    assert not PsychotherapyNote.objects.exists()


@pytest.fixture
def written_in_a_window(cast, written):
    """The private writing of a patient whose dose opened an integration window, so exports have her in them."""
    services.window_open(dose_record=given_dose(cast))


def secrets_of(cast) -> list[str]:
    """What must never leave: the unshared entry's text, the note's text and the note as stored."""
    return [PRIVATE, PROCESS, PsychotherapyNote.objects.get(patient=cast.alice).ciphertext]


def test_the_fhir_export_holds_no_unshared_entry_and_no_psychotherapy_note(cast, written_in_a_window, tmp_path):
    out = tmp_path / "alice.json"
    call_command("export", "fhir", "--patient", str(cast.alice.pk), "--out", str(out), stdout=io.StringIO())
    exported = out.read_text()
    assert json.loads(exported)["resourceType"] == "Bundle" and cast.alice.family_name in exported
    for secret in secrets_of(cast):
        assert secret not in exported


def file_text(path) -> str:
    """A file's content as text to search; Parquet is compressed, so its cells are read rather than its bytes."""
    if path.suffix == ".parquet":
        return pd.read_parquet(path).to_csv(index=False)
    return path.read_bytes().decode("utf-8", errors="replace")


def test_the_research_export_holds_no_unshared_entry_and_no_psychotherapy_note(cast, written_in_a_window, tmp_path):
    out = tmp_path / "research"
    call_command("export", "research", "--out", str(out), stdout=io.StringIO(), stderr=io.StringIO())
    files = sorted(path for path in out.rglob("*") if path.is_file())
    assert {path.suffix for path in files} >= {".csv", ".parquet", ".json", ".txt"}
    assert json.loads((out / "manifest.json").read_text())["rows"]["integration_windows"] >= 1
    for path in files:
        text = file_text(path)
        for secret in secrets_of(cast):
            assert secret not in text, f"{path.name} holds private writing"
