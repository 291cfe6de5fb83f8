"""Reads of screening records, through the care-team filter (patients.selectors) and into the audit trail."""

import datetime
from typing import TYPE_CHECKING, Any, TypedDict

from django.core.paginator import Page
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404

if TYPE_CHECKING:
    # Only for the annotations screening_list adds: the package is a development dependency.
    from django_stubs_ext import WithAnnotations

from kapstone.accounts.models import User
from kapstone.audit import services as audit
from kapstone.built_once import built_once_per_user
from kapstone.compiled_once import KEYS, compiled_once
from kapstone.paging import compiled_page
from kapstone.patients.models import Diagnosis, ExternalClinician, Medication, Patient
from kapstone.patients.selectors import patient_get, patients_visible_to
from kapstone.screening.changes import merge_draft, record_differences, with_record_medications
from kapstone.screening.consent_forms import current_form
from kapstone.screening.engine import Data
from kapstone.screening.gate import gate_status_of_rows
from kapstone.screening.models import ConsentSignature, Consultation, Decision, IntakeVersion, ScreeningResult
from kapstone.screening.signals import enrolment_check_reasons

PATIENTS_PER_PAGE = 25
HISTORY_LIMIT = 50


def screening_patient_get(*, user: User, patient_id: int | str, purpose: str = "screening") -> Patient:
    return patient_get(user=user, patient_id=patient_id, purpose=purpose)


# The staff screening page's reads of one patient, each compiled once (kapstone.compiled_once) with the patient as
# placeholder: compiling them, their joins above all, took longer than the database took to answer (issue 19).


@compiled_once(patient_id=int)
def _results_of(*, patient_id: int) -> QuerySet[ScreeningResult]:
    # Each read joins only the rows the page writes (who screened, who overrode, who made contact, who witnessed).
    return (
        ScreeningResult.objects.filter(patient_id=patient_id)
        .select_related("intake_version", "screened_by", "override__prescriber")
        .order_by("-id")[:HISTORY_LIMIT]
    )


@compiled_once(patient_id=int)
def _newest_version_of(*, patient_id: int) -> QuerySet[IntakeVersion]:
    # The newest intake version's number, date and completeness: not its data, which the latest result's intake
    # carries. Ordered by its own column: the model's default order begins with the patient, which joins the
    # patients table to sort by name.
    return IntakeVersion.objects.filter(patient_id=patient_id).defer("data").order_by("-number")[:1]


@compiled_once(patient_id=int)
def _consultations_of(*, patient_id: int) -> QuerySet[Consultation]:
    return Consultation.objects.filter(patient_id=patient_id).select_related("staff", "override__prescriber").order_by()


@compiled_once(patient_id=int)
def _outside_team_of(*, patient_id: int) -> QuerySet[ExternalClinician]:
    # Unordered: the gate puts them in order.
    return ExternalClinician.objects.filter(patient_id=patient_id).order_by()


@compiled_once(patient_id=int)
def _signatures_of(*, patient_id: int) -> QuerySet[ConsentSignature]:
    return ConsentSignature.objects.filter(patient_id=patient_id).select_related("recorded_by").order_by()


@compiled_once(patient_id=int)
def _medications_of(*, patient_id: int) -> QuerySet[Medication]:
    return Medication.objects.filter(patient_id=patient_id)


@compiled_once(patient_id=int)
def _diagnoses_of(*, patient_id: int) -> QuerySet[Diagnosis]:
    # Unordered: the gate puts them in order of code (the model's default order costs the read).
    return Diagnosis.objects.filter(patient_id=patient_id).order_by()


@compiled_once(patient_id=int)
def _latest_patient_answers_of(*, patient_id: int) -> QuerySet[IntakeVersion]:
    """The patient's latest pre-intake (their own answers from the portal), which the gate weighs."""
    return IntakeVersion.objects.filter(patient_id=patient_id, source=IntakeVersion.Source.PATIENT).order_by("-number")[
        :1
    ]


# Any: the page reads each entry by name (results, the gate, consultations, signatures...), each its own type.
def screening_overview(*, patient: Patient) -> dict[str, Any]:
    """Everything the staff screening page shows; a fixed number of queries however long the history."""
    results = _results_of(patient_id=patient.pk)
    newest = _newest_version_of(patient_id=patient.pk)
    latest_version = newest[0] if newest else None
    latest = results[0] if results else None
    # All of the patient's consultations and signatures, sorted here newest first (contact or signing time, then
    # id, as the models order them): sorting one patient's few rows takes less than ordering them in the read.
    consultations = sorted(
        _consultations_of(patient_id=patient.pk), key=lambda entry: (entry.contacted_at, entry.pk), reverse=True
    )
    signatures = sorted(
        _signatures_of(patient_id=patient.pk), key=lambda signature: (signature.signed_at, signature.pk), reverse=True
    )
    # The gate decides from the rows the page shows rather than reading them again (issue 19).
    gate = gate_status_of_rows(
        patient=patient,
        latest=latest,
        consultations=consultations,
        outside_team=_outside_team_of(patient_id=patient.pk),
        signatures=signatures,
        diagnoses=_diagnoses_of(patient_id=patient.pk),
        patient_answers=next(iter(_latest_patient_answers_of(patient_id=patient.pk)), None),
    )
    return {
        "gate": gate,
        "required_kinds": ", ".join(ExternalClinician.Kind(kind).label.lower() for kind in gate.required_kinds)
        or "none: advice from any one of them is enough",
        # What the other apps hold against an enrolment (an unacknowledged suicide-risk answer, medicines new since
        # screening): enrol() refuses on these too, so the page says "may join" only when neither holds.
        "other_holds": enrolment_check_reasons(patient=patient),
        "results": results,
        "latest": latest,
        "record_differences": record_differences(
            medications=_medications_of(patient_id=patient.pk),
            date_of_birth=patient.date_of_birth,
            intake=latest.intake_version.data,
        )
        if latest
        else [],
        "latest_version": latest_version,
        "draft_waiting": latest_version is not None
        and not latest_version.is_complete
        and (not results or latest_version.pk != results[0].intake_version_id),
        "consultations": consultations,
        "signatures": signatures,
        "consent_form": current_form(),
    }


@compiled_once(patient_id=int)
def _latest_version_of(*, patient_id: int) -> QuerySet[IntakeVersion]:
    # Ordered by the version's own number, which is unique for the patient: the model's default order begins with
    # the patient, which joins the patients table to sort one patient's rows by their name (issue 19).
    return IntakeVersion.objects.filter(patient_id=patient_id).order_by("-number")[:1]


@compiled_once(patient_id=int)
def _latest_complete_version_of(*, patient_id: int) -> QuerySet[IntakeVersion]:
    return IntakeVersion.objects.filter(patient_id=patient_id, is_complete=True).order_by("-number")[:1]


def intake_initial(*, patient: Patient, from_record: bool = False) -> tuple[Data, IntakeVersion | None, list[str]]:
    """The intake the staff form starts from: the latest complete version with any newer draft (the patient's
    pre-intake) laid over it; the version the form was built from; and how the patient record differs from it.

    With `from_record`, the record's current medications replace the intake's, for the clinician to review; the
    date of birth always comes from the record when the form is saved (forms.IntakeEditor.build)."""
    latest = next(iter(_latest_version_of(patient_id=patient.pk)), None)
    # The newest version is, most often, the newest complete one too: read (and decode) it once (issue 19).
    complete = (
        latest
        if latest is not None and latest.is_complete
        else next(iter(_latest_complete_version_of(patient_id=patient.pk)), None)
    )
    initial, started_from = (complete.data if complete else {}), complete
    if latest is not None and not latest.is_complete and (complete is None or latest.number > complete.number):
        initial, started_from = merge_draft(initial, latest.data), latest
    if not from_record:
        return initial, started_from, []
    medications = list(patient.medications.all())
    differences = record_differences(medications=medications, date_of_birth=patient.date_of_birth, intake=initial)
    return with_record_medications(initial, medications), started_from, differences


class ScreeningListing(TypedDict):
    """What screening_list adds to each patient: their latest screening, and whether the record has changed since."""

    screening_decision: str | None
    screened_at: datetime.datetime | None
    screened_intake_id: int | None
    screening_overridden: int | None  # the latest screening's override, if a prescriber overrode "needs review"
    record_changed: bool


@built_once_per_user
def _screening_listing(user: User) -> "QuerySet[WithAnnotations[Patient, ScreeningListing]]":
    """The active patients the user may see with their latest screening, in the list's order: built once for each
    user, as building the care-team test and the three subqueries took longer than running them (issue 19)."""
    latest = ScreeningResult.objects.filter(patient=OuterRef("pk")).order_by("-id")
    # record_changed is not the query's: _with_record_changed sets it on the page's patients. Of the patient, the
    # columns the rows write and the record is compared on: compiling and loading all of them took longer than the
    # database took to answer (issue 19).
    patients: QuerySet[WithAnnotations[Patient, ScreeningListing]] = (
        patients_visible_to(user)  # type: ignore[assignment]
        .filter(is_active=True)
        .only("given_name", "family_name", "date_of_birth")
        .annotate(
            screening_decision=Subquery(latest.values("decision")[:1]),
            screened_at=Subquery(latest.values("created_at")[:1]),
            screened_intake_id=Subquery(latest.values("intake_version_id")[:1]),
            screening_overridden=Subquery(latest.values("override")[:1]),
        )
        .order_by("family_name", "given_name", "id")
    )
    return patients


def _decided(user: User, decision: str) -> "QuerySet[WithAnnotations[Patient, ScreeningListing]]":
    patients: QuerySet[WithAnnotations[Patient, ScreeningListing]] = _screening_listing(user)
    if decision == "none":
        return patients.filter(screening_decision__isnull=True)
    if decision in Decision.values:
        return patients.filter(screening_decision=decision)
    return patients


@compiled_once()
def _listed(
    user: User, decision: str, start: int | None = None, end: int | None = None
) -> "QuerySet[WithAnnotations[Patient, ScreeningListing]]":
    """The list, or rows start to end of it: compiled once for each user, decision and page (a page's rows are
    written into the SQL as its LIMIT and OFFSET), as compiling the latest screening's subqueries took longer than
    running them."""
    return _decided(user, decision)[start:end]


def screening_list(
    *, user: User, decision: str = "", page_number: int | str = 1
) -> "Page[WithAnnotations[Patient, ScreeningListing]]":
    """Patients the user may see with their latest screening decision, optionally only one decision."""
    page, rows = compiled_page(_listed, user, decision, per_page=PATIENTS_PER_PAGE, page_number=page_number)
    page.object_list = _with_record_changed(rows)
    audit.record(
        action=audit.Action.READ,
        object_type="screening_list",
        detail={"decision": decision, "page": page.number, "patient_ids": [p.pk for p in page.object_list]},
    )
    return page


@compiled_once(intake_ids=KEYS)
def _intake_data(*, intake_ids: list[int]) -> QuerySet[IntakeVersion, tuple[int, Data]]:
    # Unordered: the model's order begins with the patient, which joined the patients table to sort by name.
    return IntakeVersion.objects.filter(pk__in=intake_ids).order_by().values_list("pk", "data")


@compiled_once(patient_ids=KEYS)
def _medications_of_patients(*, patient_ids: list[int]) -> QuerySet[Medication]:
    return Medication.objects.filter(patient_id__in=patient_ids)


def _with_record_changed(
    patients: "list[WithAnnotations[Patient, ScreeningListing]]",
) -> "list[WithAnnotations[Patient, ScreeningListing]]":
    """Sets record_changed on each patient: whether their record's medications or date of birth differ from the
    intake of their latest screening. Two queries for the whole page."""
    screened = [patient for patient in patients if patient.screened_intake_id]
    intakes = dict(_intake_data(intake_ids=[patient.screened_intake_id for patient in screened]))
    # Only a screened patient's record is compared, so only theirs is read.
    medications: dict[int, list[Medication]] = {}
    for medication in _medications_of_patients(patient_ids=[patient.pk for patient in screened]):
        medications.setdefault(medication.patient_id, []).append(medication)
    for patient in patients:
        intake = intakes.get(patient.screened_intake_id) if patient.screened_intake_id else None
        patient.record_changed = intake is not None and bool(
            record_differences(
                medications=medications.get(patient.pk, []), date_of_birth=patient.date_of_birth, intake=intake
            )
        )
    return patients


def result_get(*, user: User, result_id: int | str) -> ScreeningResult:
    visible = patients_visible_to(user).values("pk")
    result = ScreeningResult.objects.filter(pk=result_id, patient__in=visible).select_related("patient").first()
    if result is None:
        raise Http404("No such screening result.")
    return result


def consultation_get(*, user: User, consultation_id: int | str) -> Consultation:
    visible = patients_visible_to(user).values("pk")
    entry = Consultation.objects.filter(pk=consultation_id, patient__in=visible).select_related("patient").first()
    if entry is None:
        raise Http404("No such consultation.")
    return entry


def signature_get(*, user: User, signature_id: int | str) -> ConsentSignature:
    visible = patients_visible_to(user).values("pk")
    signature = ConsentSignature.objects.filter(pk=signature_id, patient__in=visible).select_related("patient").first()
    if signature is None:
        raise Http404("No such consent signature.")
    return signature


def reply_file_get(*, user: User, consultation_id: int | str) -> Consultation:
    """A consultation with an attached reply, if the user may see the patient; the read is audited."""
    visible = patients_visible_to(user).values("pk")
    entry = Consultation.objects.filter(pk=consultation_id, patient__in=visible).exclude(reply_file="").first()
    if entry is None:
        raise Http404("No such reply.")
    audit.record(
        action=audit.Action.READ,
        patient_id=entry.patient_id,
        object_type="consultation_reply",
        object_id=entry.pk,
    )
    return entry


def portal_screening(*, patient: Patient) -> dict[str, object]:
    """What the patient's own screening page shows: their pre-intake and their consent (in force, or else the latest
    withdrawn), nothing else."""
    form = current_form()
    signatures = ConsentSignature.objects.filter(
        patient=patient, form_id=form.id, form_version__in=form.accepted_versions
    )
    audit.record(action=audit.Action.READ, patient=patient, object_type="portal_screening", object_id=patient.pk)
    return {
        "consent_form": form,
        "consent": signatures.filter(withdrawn_at__isnull=True).first(),
        # The latest withdrawal, so the page says it stands and how to consent again.
        "withdrawn": signatures.filter(withdrawn_at__isnull=False).order_by("-withdrawn_at").first(),
        "pre_intake": IntakeVersion.objects.filter(patient=patient, source=IntakeVersion.Source.PATIENT).first(),
    }
