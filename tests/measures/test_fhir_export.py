import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle

from kapstone.audit.models import AuditEvent
from kapstone.measures import services
from kapstone.measures.fhir import patient_bundle, questionnaire_resource, verified_loinc
from kapstone.measures.models import Assessment
from kapstone.measures.scoring import list_instruments
from tests.measures.factories import PHQ9_ITEM9, due_assessment

LOINC = "http://loinc.org"


@pytest.fixture
def exported(cast, tmp_path):
    services.assessment_save_answers(
        actor=cast.alice_user, assessment=due_assessment(cast.alice), answers=PHQ9_ITEM9, submit=True
    )
    services.assessment_save_answers(
        actor=cast.alice_user,
        assessment=due_assessment(cast.alice, "gad7"),
        answers={n: 2 for n in range(1, 8)},
        submit=True,
    )
    services.assessment_record_total(
        actor=cast.bob,
        patient=cast.alice,
        instrument_id="bdi-ii",
        total=30,
        completed_on=__import__("datetime").date.today(),
        items={9: 0},
    )
    due_assessment(cast.alice, "pcl5")  # still due: not exported
    out = tmp_path / "alice.json"
    call_command("export", "fhir", "--patient", str(cast.alice.pk), "--out", str(out))
    return json.loads(out.read_text())


def _resources(bundle: dict, kind: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _loinc(resource: dict) -> str | None:
    return next((c["code"] for c in resource["code"]["coding"] if c["system"] == LOINC), None)


def test_the_export_is_a_valid_r4_collection_bundle(exported):
    bundle = Bundle.model_validate(exported)
    assert bundle.type == "collection"
    kinds = {entry.resource.__class__.__name__ for entry in bundle.entry}
    assert kinds == {"Patient", "Questionnaire", "QuestionnaireResponse", "Observation"}


def test_the_phq9_total_carries_the_total_code_and_derives_from_the_response(exported):
    observations = _resources(exported, "Observation")
    total = next(o for o in observations if _loinc(o) == "44261-6")
    assert total["valueInteger"] == 10
    assert total["category"][0]["coding"][0]["code"] == "survey"
    response_url = next(
        e["fullUrl"]
        for e in exported["entry"]
        if e["resource"]["resourceType"] == "QuestionnaireResponse" and "phq9" in e["resource"]["questionnaire"]
    )
    assert total["derivedFrom"] == [{"reference": response_url}]


def test_panel_and_total_codes_are_not_mixed_up(exported):
    observations = _resources(exported, "Observation")
    panel = next(o for o in observations if _loinc(o) == "44249-1")
    assert "valueInteger" not in panel and "valueQuantity" not in panel
    member_refs = {m["reference"] for m in panel["hasMember"]}
    members = [e["resource"] for e in exported["entry"] if e["fullUrl"] in member_refs]
    assert sorted(_loinc(m) for m in members) == ["44260-8", "44261-6"]
    valued = [o for o in observations if "valueInteger" in o or "valueQuantity" in o]
    assert all(_loinc(o) not in {"44249-1"} for o in valued)
    gad7_total = next(o for o in observations if _loinc(o) == "70274-6")
    assert gad7_total["valueInteger"] == 14


def test_unverified_codes_are_not_exported(exported):
    # The GAD-7 panel code is marked *check* in clinical.md, so no GAD-7 panel is exported under it.
    assert all(_loinc(o) != "69737-5" for o in _resources(exported, "Observation"))


def test_a_licensed_total_is_exported_without_items(exported):
    observations = _resources(exported, "Observation")
    bdi = next(o for o in observations if o["code"]["coding"][0]["code"] == "bdi-ii-total")
    assert bdi["valueInteger"] == 30 and "derivedFrom" not in bdi
    assert all("bdi" not in q["id"] for q in _resources(exported, "Questionnaire"))


def test_the_export_is_audited(exported, cast):
    assert AuditEvent.objects.filter(action="export", patient_id=cast.alice.pk, object_type="fhir_bundle").exists()


@pytest.mark.parametrize("patient", ["999999", "KP-999999", "alice", "", "²"])
def test_a_bad_patient_id_exits_with_status_2(cast, tmp_path, patient):
    with pytest.raises(CommandError) as error:
        call_command("export", "fhir", "--patient", patient, "--out", str(tmp_path / "x.json"))
    assert error.value.returncode == 2
    assert not (tmp_path / "x.json").exists()


def test_a_missing_folder_exits_with_status_2(cast, tmp_path):
    with pytest.raises(CommandError) as error:
        call_command("export", "fhir", "--patient", str(cast.alice.pk), "--out", str(tmp_path / "no" / "x.json"))
    assert error.value.returncode == 2


def test_the_export_command_needs_a_format(cast):
    with pytest.raises(CommandError):
        call_command("export")


def test_a_patient_without_results_exports_a_valid_bundle(cast):
    bundle = patient_bundle(cast.dana, Assessment.objects.none())
    assert [e.resource.__class__.__name__ for e in bundle.entry] == ["Patient"]


QUESTIONNAIRES = [instrument for instrument in list_instruments() if instrument.items]


@pytest.mark.parametrize("instrument", QUESTIONNAIRES, ids=lambda i: i.id)
def test_a_questionnaire_is_never_coded_with_its_total_score_code(instrument):
    resource = questionnaire_resource(instrument)
    codes = {coding["code"] for coding in resource.get("code", [])}
    total = verified_loinc(instrument, "total")
    assert total is None or total not in codes
    panel = verified_loinc(instrument, "panel")
    assert codes == ({panel} if panel else set())


def test_the_gad7_questionnaire_has_no_code_while_its_panel_code_is_unverified(exported):
    gad7 = next(q for q in _resources(exported, "Questionnaire") if q["id"] == "gad7")
    assert "code" not in gad7
    phq9 = next(q for q in _resources(exported, "Questionnaire") if q["id"] == "phq9")
    assert phq9["code"] == [{"system": LOINC, "code": "44249-1"}]


def test_stored_data_that_does_not_validate_exits_with_status_2_and_writes_nothing(cast, tmp_path):
    # An EDE-Q count saved before its bound was enforced: beyond what a FHIR integer holds.
    assessment = due_assessment(cast.alice, "ede-q")
    Assessment.objects.filter(pk=assessment.pk).update(
        status=Assessment.Status.COMPLETED,
        completed_at=timezone.now(),
        total=0,
        answers={str(n): 0 for n in range(1, 29)} | {"13": 10**12},
    )
    out = tmp_path / "alice.json"
    with pytest.raises(CommandError) as error:
        call_command("export", "fhir", "--patient", str(cast.alice.pk), "--out", str(out))
    assert error.value.returncode == 2
    assert "does not validate" in str(error.value) and "valueInteger" in str(error.value)
    assert not out.exists()
    assert not AuditEvent.objects.filter(action="export", object_type="fhir_bundle").exists()
