"""Reads of patient records. Every read goes through the care-team filter and the audit trail."""

from collections.abc import Sequence

from django.core.paginator import Page, Paginator
from django.db.models import Exists, Model, OuterRef, Q, QuerySet
from django.http import Http404

from kapstone.accounts.models import User
from kapstone.accounts.roles import Role
from kapstone.audit import services as audit
from kapstone.audit.models import AuditEvent, AuditEventPatient
from kapstone.built_once import built_once_per_user
from kapstone.compiled_once import KEYS, compiled_once
from kapstone.paging import BoundedPaginator, CompiledList, bounded_page, compiled_page
from kapstone.patients.models import (
    RECORD_NUMBER_PATTERN,
    CareTeamMembership,
    Diagnosis,
    ExternalClinician,
    Medication,
    Patient,
    membership_in_force,
)

PATIENTS_PER_PAGE = 25
RECORD_PART_MODELS: dict[str, type[Diagnosis | Medication | ExternalClinician]] = {
    "diagnosis": Diagnosis,
    "medication": Medication,
    "external_clinician": ExternalClinician,
}
AUDIT_EVENTS_PER_PAGE = 100


def patients_visible_to(user: User) -> QuerySet[Patient]:
    """Admins see every patient, clinicians the patients on their care team, everyone else none. A membership
    granted because the clinician facilitates the patient's course opens the record only inside its window
    (patients.models.membership_in_force)."""
    if not user.is_authenticated:
        return Patient.objects.none()
    if user.role == Role.ADMIN:
        return Patient.objects.all()
    if user.is_clinician:
        # One filter() call, so the staff and the window are tested on the same membership row.
        return Patient.objects.filter(
            Q(care_team_memberships__staff=user) & membership_in_force("care_team_memberships__")
        )
    return Patient.objects.none()


def patient_visible_to(user: User, *, field: str = "patient") -> Q:
    """`patients_visible_to` as a condition on the patient a row names in `field` (rows with no patient never
    match). For a short list of rows (the open alerts): a clinician's test is an EXISTS per row on the care team's
    unique (patient, staff) index, where `field__in=patients_visible_to(user)` hashes every patient on their care
    team first, a cost that grows with the practice however few rows there are."""
    if not user.is_authenticated:
        return Q(pk__in=[])
    if user.role == Role.ADMIN:
        return Q(**{f"{field}__isnull": False})
    if user.is_clinician:
        return Q(Exists(CareTeamMembership.objects.filter(membership_in_force(), patient=OuterRef(field), staff=user)))
    return Q(pk__in=[])


def _listed(patients: QuerySet[Patient]) -> QuerySet[Patient]:
    """The active ones of `patients`; what the list shows of each besides is read by _with_diagnoses_and_team."""
    return patients.filter(is_active=True)


@compiled_once(patient_ids=KEYS)
def _primary_diagnoses_of(*, patient_ids: list[int]) -> QuerySet[Diagnosis]:
    return Diagnosis.objects.filter(is_primary=True, patient_id__in=patient_ids)


@compiled_once(patient_ids=KEYS)
def _teams_of(*, patient_ids: list[int]) -> QuerySet[CareTeamMembership]:
    # The list names each member by last name (their whole user rows were read for it), in order of it, so a row
    # reads the same on every load: the prefetch this replaced listed them in whatever order the plan gave.
    return (
        CareTeamMembership.objects.filter(patient_id__in=patient_ids)
        .select_related("staff")
        .only("patient", "staff__last_name")
        .order_by("staff__last_name", "staff_id")
    )


def _with_diagnoses_and_team(patients: list[Patient]) -> list[Patient]:
    """Gives each patient `primary_diagnoses` and `team`, as prefetch_related's to_attr did, by two compiled reads
    of the page's keys: the prefetches were compiled again on every load, a third of the list's time (issue 19)."""
    if not patients:
        return patients
    keys = [patient.pk for patient in patients]
    diagnoses: dict[int, list[Diagnosis]] = {key: [] for key in keys}
    for diagnosis in _primary_diagnoses_of(patient_ids=keys):
        diagnoses[diagnosis.patient_id].append(diagnosis)
    teams: dict[int, list[CareTeamMembership]] = {key: [] for key in keys}
    for membership in _teams_of(patient_ids=keys):
        teams[membership.patient_id].append(membership)
    for patient in patients:
        patient.primary_diagnoses = diagnoses[patient.pk]  # type: ignore[attr-defined]
        patient.team = teams[patient.pk]  # type: ignore[attr-defined]
    return patients


@compiled_once()
def _patients_listed(user: User, start: int | None = None, end: int | None = None) -> QuerySet[Patient]:
    """The unsearched patient list, or a page of it, compiled once for each user (and page): its care-team test took
    longer to compile than to run (issue 19)."""
    return _listed(patients_visible_to(user))[start:end]


def patient_search_terms(query: str) -> Q:
    """Patients matching every word of a search (at most four): a record number, or part of a name."""
    terms = Q()
    for word in query.split()[:4]:
        record_number = RECORD_NUMBER_PATTERN.match(word)
        if record_number:
            terms &= Q(pk=int(record_number.group(1)))
        else:
            terms &= Q(given_name__icontains=word) | Q(family_name__icontains=word) | Q(preferred_name__icontains=word)
    return terms


def patient_list(*, user: User, query: str = "", page_number: int | str = 1) -> Page[Patient]:
    """Active patients this user may see (a clinician's own care-team patients), searched by name or record number."""
    query = query.strip()
    if query:
        page = bounded_page(
            _listed(patients_visible_to(user).filter(patient_search_terms(query))), PATIENTS_PER_PAGE, page_number
        )
    else:
        page, _ = compiled_page(_patients_listed, user, per_page=PATIENTS_PER_PAGE, page_number=page_number)
    page.object_list = _with_diagnoses_and_team(list(page.object_list))
    audit.record(
        action=audit.Action.READ,
        object_type="patient_list",
        detail={"query": query, "page": page.number, "patient_ids": [p.pk for p in page.object_list]},
    )
    return page


@built_once_per_user
def _active_patients_visible_to(user: User) -> QuerySet[Patient]:
    """patients_at_a_glance's patients, in patient_list's order: built once for each user (issue 19)."""
    return patients_visible_to(user).filter(is_active=True)


@compiled_once()
def _active_patients_named(user: User, start: int | None = None, end: int | None = None) -> QuerySet[Patient]:
    return _active_patients_visible_to(user).only("id", "given_name", "family_name")[start:end]


def patients_at_a_glance(*, user: User, limit: int) -> tuple[list[Patient], str]:
    """The first `limit` active patients of `patient_list`, in its order, and how many there are as the list says
    it (counted up to kapstone.paging's bound), for a summary (the staff home). Reads only the names: the list page's diagnoses and care teams would be two more queries and
    a page of rows the summary never shows. Recorded as a read of the patient list naming the patients shown."""
    shown = _active_patients_named(user, 0, limit)
    audit.record(
        action=audit.Action.READ,
        object_type="patient_list",
        detail={"query": "", "page": 1, "patient_ids": [p.pk for p in shown]},
    )
    return shown, BoundedPaginator(CompiledList(_active_patients_named, user), limit).count_label


@compiled_once(patient_id=int)
def _visible_patient(user: User, related: tuple[str, ...], *, patient_id: int) -> QuerySet[Patient]:
    # Unordered: one patient's row needs no sort by name, which PostgreSQL planned and ran on every page of a patient.
    return patients_visible_to(user).select_related(*related).filter(pk=patient_id).order_by()


def patient_get(*, user: User, patient_id: int | str, purpose: str = "record", related: Sequence[str] = ()) -> Patient:
    """The patient, if this user may see them; otherwise 404 so nothing leaks whether they exist. `related` names
    one-to-one rows the page reads with the patient (select_related), in the same query."""
    try:
        patient = _visible_patient(user, tuple(related), patient_id=int(patient_id))[0]
    except (IndexError, ValueError, TypeError):
        raise Http404("No such patient.") from None
    audit.record(
        action=audit.Action.READ, patient=patient, object_type="patient", object_id=patient.pk, detail={"view": purpose}
    )
    return patient


def may_edit_care_team(*, user: User, team: Sequence[CareTeamMembership]) -> bool:
    """Whether the user may change a care team (`team`, patient_care_team's rows, so the answer costs no read): an
    admin, or a prescriber on it by hand. A facilitator whose membership was granted for a course opens the record
    only for its window, and may not make it lasting by choosing themself for the team."""
    if user.role == Role.ADMIN:
        return True
    return user.role == Role.PRESCRIBER and any(
        member.staff_id == user.pk and member.granted_for_group_id is None for member in team
    )


@compiled_once(patient_id=int)
def _care_team(*, patient_id: int) -> QuerySet[CareTeamMembership]:
    return (
        CareTeamMembership.objects.filter(patient_id=patient_id)
        .select_related("staff")
        .order_by("-is_lead", "staff__last_name")
    )


def patient_care_team(*, patient: Patient) -> list[CareTeamMembership]:
    """The patient's care team, the lead first: the care-team page reads only this of the record (issue 19)."""
    return _care_team(patient_id=patient.pk)


# The record's parts, each compiled once: compiling the four reads was most of the record page's time in its reads
# (issue 19). Each is in its model's own order, as the patient's related managers read them.
@compiled_once(patient_id=int)
def _diagnoses(limit: int | None, *, patient_id: int) -> QuerySet[Diagnosis]:
    diagnoses = Diagnosis.objects.filter(patient_id=patient_id)
    return diagnoses if limit is None else diagnoses[:limit]


@compiled_once(patient_id=int)
def _medications(*, patient_id: int) -> QuerySet[Medication]:
    return Medication.objects.filter(patient_id=patient_id)


@compiled_once(patient_id=int)
def _external_team(*, patient_id: int) -> QuerySet[ExternalClinician]:
    return ExternalClinician.objects.filter(patient_id=patient_id)


def patient_diagnoses(*, patient: Patient, limit: int | None = None) -> list[Diagnosis]:
    """The patient's diagnoses in the record's order; with `limit`, only the first so many (as many as a claim
    holds). Compiled once for each limit."""
    return _diagnoses(limit, patient_id=patient.pk)


def patient_record_sections(*, patient: Patient) -> dict[str, Sequence[Model]]:
    return {
        "diagnoses": patient_diagnoses(patient=patient),
        "medications": _medications(patient_id=patient.pk),
        "external_team": _external_team(patient_id=patient.pk),
        "care_team": patient_care_team(patient=patient),
    }


def patient_audit_trail(*, patient: Patient, page_number: int | str = 1) -> Page[AuditEvent]:
    """Every entry about this patient, newest first: those about their record and the list reads that showed them."""
    # A union of two indexed lookups, rather than an OR across the tables, which would scan the whole trail.
    about_record = AuditEvent.objects.filter(patient_id=patient.pk).order_by().values("id")
    listed = AuditEventPatient.objects.filter(patient_id=patient.pk).order_by().values("event_id")
    events = AuditEvent.objects.filter(pk__in=about_record.union(listed)).order_by("-id")
    return Paginator(events, AUDIT_EVENTS_PER_PAGE).get_page(page_number)


@compiled_once(user_id=int)
def _own_record(related: tuple[str, ...], *, user_id: int) -> QuerySet[Patient]:
    # Compiled once: every page of the portal reads it (issue 19).
    return Patient.objects.select_related(*related).filter(user_id=user_id, is_active=True)


def patient_for_portal_user(user: User, *, related: Sequence[str] = ()) -> Patient:
    """A patient's own record: the only one their portal ever shows. `related` as for patient_get."""
    own = _own_record(tuple(related), user_id=user.pk) if user.pk is not None else []
    if not own:
        raise Http404("No patient record is linked to this login.")
    return own[0]


def record_part_get(*, patient: Patient, kind: str, part_id: int) -> Diagnosis | Medication | ExternalClinician:
    """One diagnosis, medication or outside clinician of the patient (already read through the care-team check);
    404 when the patient has no such item."""
    part = RECORD_PART_MODELS[kind].objects.filter(patient=patient, pk=part_id).first()
    if part is None:
        raise Http404("No such item on this record.")
    return part
