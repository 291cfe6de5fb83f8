"""FHIR R4 export of a patient's questionnaires: a Bundle (type collection) of Questionnaire,
QuestionnaireResponse and Observation resources, following the US Core pattern for screening scores.

- The total score is an Observation, category `survey`, coded with the total's LOINC code and derivedFrom
  the QuestionnaireResponse.
- A panel Observation carries the panel's LOINC code and no value; its hasMember lists the total and the item
  Observations for items with a LOINC code. Public code often puts the panel code on the total: the two are
  kept apart here, and the tests check it.
- Only LOINC codes marked `verified: true` in the instrument file are exported; anything else gets a
  Kapstone-local code so no unconfirmed code leaves the system.

Validation: fhir.resources 8 (the version installed) models R5 at its top level and R4B and STU3 in
subpackages; it has no R4 (4.0.1) models, which were the top level of fhir.resources 6, a release built on
pydantic 1. R4B is FHIR 4.3.0, a separate release from R4 (4.0.1). The Bundle is validated here against R4B,
the nearest release the installed package offers: a check that catches malformed resources, not a
certification of R4 conformance.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from fhir.resources.R4B.bundle import Bundle

from kapstone.measures.models import Assessment
from kapstone.measures.scoring import Instrument, shipped_instrument
from kapstone.patients.models import Patient

LOINC = "http://loinc.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
LOCAL_CODES = "urn:kapstone:measures"
ANSWER_CODES = "urn:kapstone:measures:answer"
_NAMESPACE = uuid.UUID("0b7c6c2e-6d0e-4bb0-9a59-6f0b7f9a4d21")


def _urn(*parts: Any) -> str:
    """A stable id per object, so exporting twice gives the same references."""
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, ':'.join(str(p) for p in parts))}"


def verified_loinc(instrument: Instrument, kind: str, item: int | None = None) -> str | None:
    codes = (instrument.definition.get("codes") or {}).get("loinc") or {}
    spec = (codes.get("items") or {}).get(item) if kind == "item" else codes.get(kind)
    if isinstance(spec, dict) and spec.get("verified") is True and spec.get("code"):
        return str(spec["code"])
    return None


def _concept(instrument: Instrument, kind: str, item: int | None = None) -> dict:
    code = verified_loinc(instrument, kind, item)
    label = {"panel": "panel", "total": "total score", "item": f"item {item}"}[kind]
    text = f"{instrument.short_name} {label}"
    if code:
        return {"coding": [{"system": LOINC, "code": code, "display": text}], "text": text}
    local = f"{instrument.id}-{kind}" + (f"-{item}" if item else "")
    return {"coding": [{"system": LOCAL_CODES, "code": local, "display": text}], "text": text}


def questionnaire_url(instrument: Instrument) -> str:
    return f"{settings.SITE_URL.rstrip('/')}/fhir/Questionnaire/{instrument.id}"


def questionnaire_resource(instrument: Instrument) -> dict:
    items = []
    show_text = bool((instrument.definition.get("licence") or {}).get("text_reproduced"))
    for item in instrument.items:
        entry: dict[str, Any] = {
            "linkId": str(item.number),
            "text": item.text if show_text and item.text else item.label,
            "type": "choice" if item.responses.options else "integer",
        }
        code = verified_loinc(instrument, "item", item.number)
        if code:
            entry["code"] = [{"system": LOINC, "code": code}]
        if item.responses.options:
            entry["answerOption"] = [
                {"valueCoding": {"system": ANSWER_CODES, "code": str(value), "display": label}}
                for value, label in item.responses.options
            ]
        items.append(entry)
    resource: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "id": instrument.id,
        "url": questionnaire_url(instrument),
        "version": str(instrument.version),
        "name": instrument.id.replace("-", "_").upper(),
        "title": instrument.name,
        "status": "active",
        "copyright": (instrument.definition.get("licence") or {}).get("note", ""),
    }
    if items:
        resource["item"] = items
    # A Questionnaire is coded as the panel it collects, never with the total score's code (the mix-up the
    # module docstring warns of); with no verified panel code it carries no code at all.
    panel_code = verified_loinc(instrument, "panel")
    if panel_code:
        resource["code"] = [{"system": LOINC, "code": panel_code}]
    return resource


def _completed_at(assessment: Assessment) -> str:
    # Only completed assessments are exported, and every service that completes one stamps its time
    # (measures.services), as the demo does.
    assert assessment.completed_at is not None
    return assessment.completed_at.isoformat()


def _response(assessment: Assessment, instrument: Instrument, patient_ref: str) -> dict:
    options = {item.number: dict(item.responses.options) for item in instrument.items}
    answers = []
    for number, value in sorted((int(k), v) for k, v in (assessment.answers or {}).items()):
        if options.get(number):
            answer = {"valueCoding": {"system": ANSWER_CODES, "code": str(value), "display": options[number][value]}}
        else:
            answer = {"valueInteger": value}
        answers.append({"linkId": str(number), "answer": [answer]})
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": f"{questionnaire_url(instrument)}|{assessment.instrument_version or instrument.version}",
        "status": "completed",
        "subject": {"reference": patient_ref},
        "authored": _completed_at(assessment),
    }
    if answers:
        resource["item"] = answers
    return resource


def _observation(*, code: dict, patient_ref: str, assessment: Assessment, value=None, derived_from=None) -> dict:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "survey", "display": "Survey"}]}],
        "code": code,
        "subject": {"reference": patient_ref},
        "effectiveDateTime": _completed_at(assessment),
    }
    if isinstance(value, int):
        resource["valueInteger"] = value
    elif value is not None:
        resource["valueQuantity"] = {"value": value, "unit": "score"}
    if derived_from:
        resource["derivedFrom"] = [{"reference": derived_from}]
    return resource


def _integer_or_float(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _assessment_entries(assessment: Assessment, patient_ref: str) -> list[tuple[str, dict]]:
    instrument = shipped_instrument(assessment.instrument_id)
    entries: list[tuple[str, dict]] = []
    response_ref = None
    # A licensed form's total carries at most an item recorded on its own for its alert (BDI-II item 9), never a
    # QuestionnaireResponse of the form.
    if assessment.answers and assessment.source != Assessment.Source.STAFF_TOTAL:
        response_ref = _urn("response", assessment.pk)
        entries.append((response_ref, _response(assessment, instrument, patient_ref)))
    members = []
    if assessment.total is not None:
        total_ref = _urn("total", assessment.pk)
        total = _observation(
            code=_concept(instrument, "total"),
            patient_ref=patient_ref,
            assessment=assessment,
            value=_integer_or_float(assessment.total),
            derived_from=response_ref,
        )
        if assessment.severity:
            total["interpretation"] = [{"text": assessment.severity}]
        if assessment.source == Assessment.Source.STAFF_TOTAL:
            total["note"] = [{"text": "Total entered by staff from a licensed form; items not recorded."}]
        entries.append((total_ref, total))
        members.append(total_ref)
    for number, value in sorted((int(k), v) for k, v in (assessment.answers or {}).items()):
        if verified_loinc(instrument, "item", number):
            item_ref = _urn("item", assessment.pk, number)
            entries.append(
                (
                    item_ref,
                    _observation(
                        code=_concept(instrument, "item", number),
                        patient_ref=patient_ref,
                        assessment=assessment,
                        value=value,
                        derived_from=response_ref,
                    ),
                )
            )
            members.append(item_ref)
    if members and verified_loinc(instrument, "panel"):
        panel = _observation(
            code=_concept(instrument, "panel"),
            patient_ref=patient_ref,
            assessment=assessment,
            derived_from=response_ref,
        )
        panel["hasMember"] = [{"reference": ref} for ref in members]
        entries.append((_urn("panel", assessment.pk), panel))
    return entries


def patient_bundle(patient: Patient, assessments: Iterable[Assessment]) -> Bundle:
    """The validated Bundle: parsing it through fhir.resources refuses anything that is not valid R4(B)."""
    patient_ref = _urn("patient", patient.pk)
    entries: list[tuple[str, dict]] = [
        (
            patient_ref,
            {
                "resourceType": "Patient",
                "identifier": [
                    {"system": f"{settings.SITE_URL.rstrip('/')}/record-number", "value": patient.record_number}
                ],
                "name": [{"family": patient.family_name, "given": [patient.given_name]}],
                "gender": patient.sex,
                "birthDate": patient.date_of_birth.isoformat(),
            },
        )
    ]
    completed = [a for a in assessments if a.status == Assessment.Status.COMPLETED]
    for instrument_id in sorted({a.instrument_id for a in completed}):
        instrument = shipped_instrument(instrument_id)
        if instrument.items:
            entries.append(
                (_urn("questionnaire", instrument.id, instrument.version), questionnaire_resource(instrument))
            )
    for assessment in completed:
        entries += _assessment_entries(assessment, patient_ref)
    return Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"fullUrl": url, "resource": resource} for url, resource in entries],
        }
    )
