"""Demo screening records: every demo patient has a complete intake screened by the real engine, a consultation
with their outside psychiatrist and a signed consent, so the groups the program demo fills pass the gate.

Patients aged 65 and over (the older-adult rule), on a benzodiazepine load above the threshold, or whose record codes
an alcohol use disorder in remission (which their intake declares, so the screening weighs it) come out "needs
review" and carry a prescriber's override that answers each reason. The program demo's waitlisted patient (the 8th,
"waiting for the screening review") needs review without an override. Patients of a finished course were screened
a few weeks before it began (the program demo's courses, so this demo runs after it); patients of a current group
were screened in the last days, so their screening is current (the gate refuses one older than the practice's
screening_valid_days). Three patients who finished a course show what happens later: two were re-screened (one now needs review, one is
now not eligible, each with its intake diff) and one withdrew consent. Intakes are synthetic; rows are written with
bulk_create in batches, so 10,000 patients take seconds.
"""

import copy
import datetime

from django.utils import timezone

from kapstone.audit import services as audit
from kapstone.patients.models import Diagnosis, ExternalClinician, Medication
from kapstone.screening import engine
from kapstone.screening.changes import intake_changes, reason_changes, record_medication_entry
from kapstone.screening.consent_forms import current_form
from kapstone.screening.intake_schema import INTAKE_SCHEMA
from kapstone.screening.models import (
    ConsentSignature,
    Consultation,
    IntakeVersion,
    ScreeningOverride,
    ScreeningResult,
)

SEEDS_AFTER = ("kapstone.program",)
BATCH = 2000
# Positions in practice.patients. The program demo enrols patients[0:7] in current groups, waitlists patients[7]
# and puts everyone after in completed courses.
WAITLISTED = 7
RESCREENED_NEEDS_REVIEW, RESCREENED_NOT_ELIGIBLE, CONSENT_WITHDRAWN = 8, 9, 10

INDICATION_FOR_CODE = {"F33": "depression", "F43": "ptsd", "F41": "anxiety", "F42": "ocd", "F50": "eating_disorder"}
# What the prescriber wrote for each reason a demo screening needs review; the override quotes those that fired.
OVERRIDE_REASONS = {
    "older_adult": (
        "Aged 65 or over; fit and normotensive at assessment, no cardiovascular history. Starting at the lower "
        "dose with BP checks at 40 minutes."
    ),
    "benzodiazepine_load": (
        "Benzodiazepine load discussed with the patient and the outside psychiatrist: no dose on session mornings, "
        "sedation watched with MOAA/S."
    ),
    "substance_use_disorder_in_remission": (
        "Alcohol use disorder in remission, reviewed with the patient and the outside psychiatrist, who supports "
        "KAP; the team asks about drinking at each session."
    ),
}
# The substance use disorders the home demo codes on some records (COMORBID), declared at their intake so the
# screening weighs them and the enrolment gate, which holds a record code of a class the intake did not declare
# (record_diagnoses.yaml), stays open: the substance as the intake names it, in remission.
DECLARED_FOR_CODE = {"F10.21": "alcohol"}
OVERRIDE_CLOSING = "Outside psychiatrist supports."


def override_text(reasons: list[dict]) -> str:
    fired = [
        OVERRIDE_REASONS[r["rule"]] for r in reasons if r["outcome"] == "needs_review" and r["rule"] in OVERRIDE_REASONS
    ]
    return " ".join([*fired, OVERRIDE_CLOSING])


NO_HISTORY = dict.fromkeys(INTAKE_SCHEMA["properties"]["medical"]["required"], False)


def _in_remission(rng, substance: str, assessed: datetime.date, remission_months: int) -> dict:
    """A use disorder of `substance` whose last use is past the screening's remission threshold (31 days a month, so
    always that many completed months) by up to a few years: synthetic, as every demo answer is."""
    last_use = assessed - datetime.timedelta(days=31 * remission_months + rng.randint(30, 5 * 365))
    return {"substance": substance, "last_use": last_use.isoformat(), "involves_dissociatives": False}


def _intake(
    rng,
    patient,
    indication: str,
    medications: list,
    assessed: datetime.date,
    *,
    case: int | None,
    substance_use: list[dict],
) -> dict:
    medical = dict(NO_HISTORY)
    psychiatric = {
        "current_psychosis": False,
        "current_mania": False,
        "history_of_psychosis": False,
        "primary_psychotic_disorder": False,
        "first_degree_relative_psychosis": False,
        "bipolar_disorder": case == WAITLISTED,
        "substance_use_disorders": substance_use,
    }
    failed_trials = [
        {
            "drug": "sertraline",
            "dose_mg_per_day": 150,
            "weeks": rng.randint(6, 16),
            "adequate_dose": True,
            "improvement_percent": rng.randint(0, 40),
        },
        {
            "drug": "venlafaxine",
            "dose_mg_per_day": 225,
            "weeks": rng.randint(6, 16),
            "adequate_dose": True,
            "response": "partial_response",
        },
    ]
    if rng.random() < 0.4:
        failed_trials.append(
            {"drug": "bupropion", "dose_mg_per_day": 300, "weeks": 8, "adequate_dose": True, "response": "no_response"}
        )
    intake = {
        "assessment_date": assessed.isoformat(),
        "date_of_birth": patient.date_of_birth.isoformat(),
        "indications": [indication],
        "psychiatric": psychiatric,
        "medical": medical,
        "medications": medications,
        "prior_treatments": {
            "antidepressant_trials": failed_trials,
            "augmentations": [{"drug": "aripiprazole", "dose_mg_per_day": 5, "weeks": 8}] if rng.random() < 0.3 else [],
            "psychotherapy": [
                {"modality": "CBT", "evidence_based": True, "sessions": rng.randint(8, 20), "response": "no_response"}
            ],
            "ect": [],
            "tms": [{"sessions": 30, "year": assessed.year - 1, "response": "partial_response"}]
            if rng.random() < 0.1
            else [],
            "esketamine": [],
        },
        "vitals": {
            "systolic": rng.randint(108, 136),
            "diastolic": rng.randint(66, 86),
            "heart_rate": rng.randint(58, 88),
            "weight_kg": rng.randint(52, 104),
            "height_cm": rng.randint(155, 192),
        },
    }
    if indication == "depression":
        intake["current_episode"] = {
            "duration_months": rng.randint(8, 60),
            "severity": rng.choice(["moderate", "severe_without_psychosis"]),
        }
    return intake


def _later_changes(batch, versions, results, prescriber, nurse, rule_set, today) -> None:
    """Re-screens after a finished course (each with what changed and why), and one withdrawn consent."""
    changes: dict[int, dict[str, dict[str, object]]] = {
        RESCREENED_NEEDS_REVIEW: {"medical": {"hypertension": True}, "vitals": {"systolic": 152, "diastolic": 94}},
        RESCREENED_NOT_ELIGIBLE: {"medical": {"aneurysmal_vascular_disease_or_avm": True}},
    }
    for index, change in changes.items():
        if index >= len(batch):
            continue
        before, previous = versions[index], results[index]
        data = copy.deepcopy(before.data)
        data["assessment_date"] = (today - datetime.timedelta(days=2)).isoformat()
        for part, values in change.items():
            data[part].update(values)
        answer = engine.screen(data, rule_set=rule_set).to_dict()
        version = IntakeVersion.objects.create(
            patient=batch[index], number=2, data=data, source="staff", is_complete=True, author=prescriber
        )
        added, removed = reason_changes(previous.reasons, answer["reasons"])
        ScreeningResult.objects.create(
            patient=batch[index],
            intake_version=version,
            decision=answer["decision"],
            reasons=answer["reasons"],
            treatment_resistant=answer["treatment_resistant"],
            maudsley_score=answer["maudsley_score"],
            rule_set_version=answer["rule_set_version"],
            result=answer,
            changes={
                "previous_result_id": previous.pk,
                "decision_before": previous.decision,
                "rule_set_before": previous.rule_set_version,
                "fields": intake_changes(before.data, data),
                "reasons_added": added,
                "reasons_removed": removed,
            },
            screened_by=prescriber,
        )
    if len(batch) > CONSENT_WITHDRAWN:
        ConsentSignature.objects.filter(patient=batch[CONSENT_WITHDRAWN]).update(
            withdrawn_at=timezone.now() - datetime.timedelta(days=5),
            withdrawn_by=nurse,
            withdrawal_reason="Phoned after the course: does not want further ketamine sessions.",
        )


def seed(*, practice, rng, progress) -> None:
    patients = practice.patients
    if not patients:
        return
    prescriber, nurse = practice.staff["dr.okafor"], practice.staff["nurse.haddad"]
    form = current_form()
    portal_ids = {patient.pk for patient in patients if patient.user_id}
    today = timezone.localdate()
    rule_set = engine.load_rule_set()
    remission_months = rule_set.settings["sud_remission_months"].value
    course_starts = practice.course_starts
    done = 0
    for start in range(0, len(patients), BATCH):
        batch = patients[start : start + BATCH]
        ids = [patient.pk for patient in batch]
        codes = dict(
            Diagnosis.objects.filter(patient_id__in=ids, is_primary=True).values_list("patient_id", "icd10_code")
        )
        declared: dict[int, list[str]] = {}
        for patient_id, code in Diagnosis.objects.filter(
            patient_id__in=ids, icd10_code__in=DECLARED_FOR_CODE
        ).values_list("patient_id", "icd10_code"):
            declared.setdefault(patient_id, []).append(DECLARED_FOR_CODE[code])
        medications: dict[int, list] = {}
        for medication in Medication.objects.filter(patient_id__in=ids):
            # The same reading of the record the screening page compares against, so no demo patient is flagged.
            medications.setdefault(medication.patient_id, []).append(record_medication_entry(medication))
        psychiatrists = dict(
            ExternalClinician.objects.filter(patient_id__in=ids, kind=ExternalClinician.Kind.PSYCHIATRIST)
            .values_list("patient_id", "id")
            .order_by("patient_id", "-id")
        )

        versions, answers = [], []
        for offset, patient in enumerate(batch):
            index = start + offset
            case = index if index == WAITLISTED else None
            assessed = today - datetime.timedelta(days=rng.randint(3, 10))
            if case is None and patient.pk in course_starts:
                assessed = min(assessed, course_starts[patient.pk] - datetime.timedelta(days=rng.randint(14, 45)))
            indication = INDICATION_FOR_CODE.get(codes.get(patient.pk, "F33")[:3], "depression")
            substance_use = [
                _in_remission(rng, substance, assessed, remission_months) for substance in declared.get(patient.pk, [])
            ]
            data = _intake(
                rng,
                patient,
                indication,
                medications.get(patient.pk, []),
                assessed,
                case=case,
                substance_use=substance_use,
            )
            versions.append(
                IntakeVersion(patient=patient, number=1, data=data, source="staff", is_complete=True, author=prescriber)
            )
            answers.append(engine.screen(data, rule_set=rule_set).to_dict())
        versions = IntakeVersion.objects.bulk_create(versions)
        results = ScreeningResult.objects.bulk_create(
            ScreeningResult(
                patient_id=version.patient_id,
                intake_version=version,
                decision=answer["decision"],
                reasons=answer["reasons"],
                treatment_resistant=answer["treatment_resistant"],
                maudsley_score=answer["maudsley_score"],
                rule_set_version=answer["rule_set_version"],
                result=answer,
                screened_by=prescriber,
            )
            for version, answer in zip(versions, answers, strict=True)
        )

        overrides, consultations, signatures = [], [], []
        for offset, (patient, version, result) in enumerate(zip(batch, versions, results, strict=True)):
            index = start + offset
            assessed = datetime.date.fromisoformat(version.data["assessment_date"])
            at = timezone.make_aware(datetime.datetime.combine(assessed, datetime.time(11, 0)))
            if result.decision == "needs_review" and index != WAITLISTED:
                overrides.append(
                    ScreeningOverride(result=result, prescriber=prescriber, justification=override_text(result.reasons))
                )
            consultations.append(
                Consultation(
                    patient=patient,
                    external_clinician_id=psychiatrists.get(patient.pk),
                    clinician_name="Outside psychiatrist",
                    staff=prescriber,
                    contacted_at=at + datetime.timedelta(days=1),
                    method=rng.choice(["phone", "email", "letter"]),
                    outcome="supports",
                    notes="Agrees with a group KAP course; will keep prescribing.",
                    recorded_by=prescriber,
                )
            )
            electronic = patient.pk in portal_ids
            signatures.append(
                ConsentSignature(
                    patient=patient,
                    form_id=form.id,
                    form_version=form.version,
                    text_sha256=form.sha256,
                    kind="electronic" if electronic else "paper",
                    signed_name=patient.full_name,
                    signed_at=at + datetime.timedelta(days=2),
                    ip_address="198.51.100.7" if electronic else "",
                    recorded_by=patient.user if electronic else nurse,
                )
            )
        ScreeningOverride.objects.bulk_create(overrides)
        Consultation.objects.bulk_create(consultations)
        ConsentSignature.objects.bulk_create(signatures)
        if start == 0:
            _later_changes(batch, versions, results, prescriber, nurse, rule_set, today)
        done += len(batch)
        progress(f"screening {done}/{len(patients)}")
    audit.record(action=audit.Action.CREATE, object_type="demo_screening", detail={"patients": len(patients)})
