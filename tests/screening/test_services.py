"""Screening services: versions, re-screen diffs, override rules, consultation log, consent, audit rows."""

import datetime
import hashlib

import pytest
from django.utils import timezone

from kapstone.audit.models import AuditEvent
from kapstone.practice.settings_store import practice_value_set
from kapstone.screening import services
from kapstone.screening.consent_forms import CONSENT_DIR, current_form
from kapstone.screening.engine import IntakeValidationError
from kapstone.screening.models import ConsentSignature, Consultation, IntakeVersion, ScreeningResult
from tests.screening import helpers

pytestmark = pytest.mark.django_db


def test_each_save_is_a_new_numbered_version_with_its_own_screening(cast):
    helpers.screen(cast)
    helpers.screen(cast, helpers.needs_review_intake())
    assert list(IntakeVersion.objects.filter(patient=cast.alice).values_list("number", flat=True)) == [2, 1]
    assert ScreeningResult.objects.filter(patient=cast.alice).count() == 2


def test_an_invalid_intake_saves_nothing_and_lists_every_problem(cast):
    data = helpers.intake()
    del data["medical"]["pregnant"]
    data["vitals"]["systolic"] = 900
    with pytest.raises(IntakeValidationError) as invalid:
        helpers.screen(cast, data)
    assert "medical.pregnant is required" in invalid.value.messages
    assert any(message.startswith("vitals.systolic") for message in invalid.value.messages)
    assert not IntakeVersion.objects.exists() and not AuditEvent.objects.filter(object_type="intake_version").exists()


def test_a_rescreen_records_what_changed_and_which_reasons_moved(cast):
    helpers.screen(cast)
    _, result = helpers.screen(cast, helpers.not_eligible_intake())
    assert result.decision == "not_eligible"
    assert result.changes["decision_before"] == "eligible"
    assert result.changes["fields"] == [{"field": "medical.pregnant", "before": "no", "after": "yes"}]
    assert [reason["rule"] for reason in result.changes["reasons_added"]] == ["pregnancy"]
    assert result.changes["reasons_removed"] == []
    _, back = helpers.screen(cast)
    assert [reason["rule"] for reason in back.changes["reasons_removed"]] == ["pregnancy"]


def test_screening_again_uses_the_practices_own_settings(cast):
    data = helpers.intake()
    data["vitals"] = {"systolic": 135, "diastolic": 85}
    _, before = helpers.screen(cast, data)
    assert before.decision == "eligible"
    # A practice may review from a lower pressure than the REMS's 140/90, never from a higher one.
    practice_value_set(
        actor=cast.admin, key="screening.bp_review_systolic_mmhg", value=130, reason="Local protocol review 2026"
    )
    after = services.screening_run(actor=cast.bob, patient=cast.alice)
    assert after.decision == "needs_review"
    assert after.changes["fields"] == [] and after.changes["reasons_added"]


def test_every_step_is_in_the_audit_trail(cast):
    _, result = helpers.screen(cast, helpers.needs_review_intake())
    services.override_record(actor=cast.bob, result=result, justification="x" * services.MIN_JUSTIFICATION_CHARS)
    helpers.consult(cast)
    signature = helpers.sign_consent(cast)
    services.consent_withdraw(actor=cast.alice_user, signature=signature)
    kinds = list(AuditEvent.objects.filter(patient_id=cast.alice.pk).values_list("object_type", "action"))
    for expected in [
        ("intake_version", "create"),
        ("screening_result", "create"),
        ("screening_override", "create"),
        ("consultation", "create"),
        ("consent_signature", "create"),
        ("consent_signature", "update"),
    ]:
        assert expected in kinds


# --- overrides ---------------------------------------------------------------------------------------------------

JUSTIFICATION = "Bipolar I, euthymic for 4 years on lithium; outside psychiatrist agrees; mood monitored weekly."


def test_a_prescriber_overrides_needs_review_with_a_justification(cast):
    _, result = helpers.screen(cast, helpers.needs_review_intake())
    override = services.override_record(actor=cast.bob, result=result, justification=JUSTIFICATION)
    assert override.prescriber == cast.bob and override.result == result


@pytest.mark.parametrize("role", ["nurse", "therapist", "admin"])
def test_only_a_prescriber_may_override(cast, role):
    _, result = helpers.screen(cast, helpers.needs_review_intake())
    with pytest.raises(services.ScreeningRefused, match="Only a prescriber"):
        services.override_record(actor=cast.user(role), result=result, justification=JUSTIFICATION)


def test_not_eligible_cannot_be_overridden(cast):
    _, result = helpers.screen(cast, helpers.not_eligible_intake())
    with pytest.raises(services.ScreeningRefused, match="cannot be overridden"):
        services.override_record(actor=cast.bob, result=result, justification=JUSTIFICATION)


def test_an_eligible_result_has_nothing_to_override(cast):
    _, result = helpers.screen(cast)
    with pytest.raises(services.ScreeningRefused, match="this one is eligible"):
        services.override_record(actor=cast.bob, result=result, justification=JUSTIFICATION)


def test_a_short_justification_is_refused(cast):
    _, result = helpers.screen(cast, helpers.needs_review_intake())
    with pytest.raises(services.ScreeningRefused, match="at least 40 characters"):
        services.override_record(actor=cast.bob, result=result, justification="   fine   ")


def test_an_override_covers_only_its_own_result(cast):
    _, first = helpers.screen(cast, helpers.needs_review_intake())
    services.override_record(actor=cast.bob, result=first, justification=JUSTIFICATION)
    data = helpers.needs_review_intake()
    data["vitals"] = {"systolic": 150, "diastolic": 85}
    _, second = helpers.screen(cast, data)
    assert second.decision == "needs_review" and not hasattr(second, "override")
    with pytest.raises(services.ScreeningRefused, match="A newer screening replaced this one"):
        services.override_record(actor=cast.bob, result=first, justification=JUSTIFICATION + " again")


def test_a_result_is_overridden_once(cast):
    _, result = helpers.screen(cast, helpers.needs_review_intake())
    services.override_record(actor=cast.bob, result=result, justification=JUSTIFICATION)
    with pytest.raises(services.ScreeningRefused, match="already overridden"):
        services.override_record(actor=cast.bob, result=result, justification=JUSTIFICATION)


# --- consultation ------------------------------------------------------------------------------------------------


def test_a_consultation_names_the_outside_clinician_from_the_team_list(cast):
    clinician = cast.alice.external_team.create(kind="psychiatrist", name="Dr. Rivera", organisation="Northside")
    entry = services.consultation_record(
        actor=cast.nurse,
        patient=cast.alice,
        external_clinician=clinician,
        staff=cast.bob,
        contacted_at=timezone.now(),
        method="email",
        outcome="concerns",
    )
    assert entry.clinician_name == "Psychiatrist: Dr. Rivera" and entry.recorded_by == cast.nurse


def test_another_patients_outside_clinician_is_refused(cast):
    clinician = cast.dana.external_team.create(kind="therapist", name="Dr. Other")
    with pytest.raises(services.ScreeningRefused, match="not on this patient's outside treatment team"):
        services.consultation_record(
            actor=cast.bob,
            patient=cast.alice,
            external_clinician=clinician,
            staff=cast.bob,
            contacted_at=timezone.now(),
            method="phone",
            outcome="supports",
        )


def test_a_contact_in_the_future_is_refused(cast):
    with pytest.raises(services.ScreeningRefused, match="in the future"):
        services.consultation_record(
            actor=cast.bob,
            patient=cast.alice,
            clinician_name="Dr. X",
            staff=cast.bob,
            contacted_at=timezone.now() + datetime.timedelta(days=2),
            method="phone",
            outcome="supports",
        )


def test_an_attached_reply_is_stored_under_a_random_name(cast):
    entry = helpers.consult(cast, with_reply=True)
    assert entry.reply_content_type == "application/pdf"
    assert entry.reply_file.name.startswith("screening/replies/") and entry.reply_file.name.endswith(".pdf")
    assert "letter" not in entry.reply_file.name
    assert Consultation.objects.get().reply_file.read() == helpers.PDF_BYTES


# --- consent -----------------------------------------------------------------------------------------------------


def test_the_patient_signs_with_their_full_name_and_the_form_is_pinned_by_hash(cast):
    signature = services.consent_sign(
        actor=cast.alice_user,
        patient=cast.alice,
        typed_name="  alice   ABERNATHY ",
        understood=True,
        ip_address="10.1.2.3",
    )
    form = current_form()
    text = (CONSENT_DIR / f"kap_group_consent_v{form.version}.yaml").read_text(encoding="utf-8")
    assert signature.text_sha256 == hashlib.sha256(text.encode()).hexdigest()
    assert signature.form_version == form.version and signature.ip_address == "10.1.2.3"
    assert signature.kind == "electronic" and signature.signed_name == "alice ABERNATHY"


def test_a_name_that_does_not_match_the_record_is_refused(cast):
    with pytest.raises(services.ScreeningRefused, match="full name on the record"):
        services.consent_sign(
            actor=cast.alice_user, patient=cast.alice, typed_name="Alice", understood=True, ip_address=""
        )
    assert not ConsentSignature.objects.exists()


def test_signing_needs_the_understood_box(cast):
    with pytest.raises(services.ScreeningRefused, match="read and understood"):
        services.consent_sign(
            actor=cast.alice_user, patient=cast.alice, typed_name="Alice Abernathy", understood=False, ip_address=""
        )


def test_only_the_patient_signs_electronically_for_themselves(cast):
    with pytest.raises(services.ScreeningRefused, match="Only the patient"):
        services.consent_sign(
            actor=cast.dana_user, patient=cast.alice, typed_name="Alice Abernathy", understood=True, ip_address=""
        )


def test_consent_cannot_be_signed_twice_but_can_be_signed_again_after_withdrawal(cast):
    signature = helpers.sign_consent(cast)
    with pytest.raises(services.ScreeningRefused, match="already signed"):
        helpers.sign_consent(cast)
    services.consent_withdraw(actor=cast.alice_user, signature=signature)
    assert helpers.sign_consent(cast).pk != signature.pk


def test_staff_record_a_witnessed_paper_signature(cast):
    signed_at = timezone.now() - datetime.timedelta(hours=2)
    signature = services.consent_record_paper(
        actor=cast.nurse, patient=cast.alice, signed_name="Alice Abernathy", signed_at=signed_at
    )
    assert signature.kind == "paper" and signature.recorded_by == cast.nurse and signature.signed_at == signed_at


def test_staff_withdrawing_for_the_patient_say_how_they_heard(cast):
    signature = helpers.sign_consent(cast)
    with pytest.raises(services.ScreeningRefused, match="Say how the patient withdrew"):
        services.consent_withdraw(actor=cast.nurse, signature=signature, reason="")
    services.consent_withdraw(actor=cast.nurse, signature=signature, reason="Phoned the nurse line")
    signature.refresh_from_db()
    assert signature.is_withdrawn and signature.withdrawn_by == cast.nurse
    with pytest.raises(services.ScreeningRefused, match="already withdrawn"):
        services.consent_withdraw(actor=cast.alice_user, signature=signature)


def test_another_patient_cannot_withdraw_alices_consent(cast):
    signature = helpers.sign_consent(cast)
    with pytest.raises(services.ScreeningRefused, match="Only the patient or their clinical staff"):
        services.consent_withdraw(actor=cast.dana_user, signature=signature)


def test_the_pre_intake_is_a_draft_that_is_not_screened(cast):
    version = services.pre_intake_submit(actor=cast.alice_user, patient=cast.alice, data={"indications": ["ptsd"]})
    assert version.source == "patient" and not version.is_complete
    assert not ScreeningResult.objects.exists()
    with pytest.raises(services.ScreeningRefused):
        services.pre_intake_submit(actor=cast.dana_user, patient=cast.alice, data={})


def test_a_reply_is_not_left_in_storage_when_its_consultation_cannot_be_saved(cast, monkeypatch):
    from django.core.files.storage import default_storage

    from kapstone.audit import services as audit

    def audit_trail_unavailable(**kwargs):
        raise RuntimeError("audit trail unavailable")

    stored, real_save = [], default_storage.save

    def recording_save(name, *args, **kwargs):
        stored.append(real_save(name, *args, **kwargs))
        return stored[-1]

    monkeypatch.setattr(default_storage, "save", recording_save)
    monkeypatch.setattr(audit, "record", audit_trail_unavailable)
    with pytest.raises(RuntimeError):
        helpers.consult(cast, with_reply=True)
    assert not Consultation.objects.exists()
    assert len(stored) == 1 and not default_storage.exists(stored[0])
