"""Writes to patient records. Each is atomic and writes its audit row in the same transaction."""

import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from kapstone.accounts import services as accounts
from kapstone.accounts.models import User
from kapstone.audit import services as audit
from kapstone.patients.models import (
    CareTeamMembership,
    ChildbearingPotential,
    Diagnosis,
    ExternalClinician,
    Medication,
    Patient,
)

# Any: a validated form's cleaned_data, field name -> value of that field's type.
Fields = dict[str, Any]


@transaction.atomic
def patient_create(*, actor: User, fields: Fields) -> Patient:
    """Registers a patient. A clinician who registers someone joins their care team as its lead, or they
    would lose sight of the record they just made; an admin sets the team afterwards."""
    patient = Patient(**fields)
    patient.full_clean()
    patient.save()
    audit.record(
        action=audit.Action.CREATE,
        patient=patient,
        object_type="patient",
        object_id=patient.pk,
        detail={"fields": sorted(fields)},
    )
    team = [actor] if actor.is_clinician else []
    if team:
        CareTeamMembership.objects.create(patient=patient, staff=actor, is_lead=True)
    audit.record(
        action=audit.Action.UPDATE,
        patient=patient,
        object_type="care_team",
        object_id=patient.pk,
        detail={"staff_ids": [s.pk for s in team]},
    )
    return patient


@transaction.atomic
def patient_update(*, actor: User, patient: Patient, fields: Fields) -> Patient:
    changed = sorted(name for name, value in fields.items() if getattr(patient, name) != value)
    for name, value in fields.items():
        setattr(patient, name, value)
    patient.full_clean()
    patient.save()
    if "email" in changed and patient.user is not None:
        accounts.login_email_follow(actor=actor, user=patient.user, email=patient.email)
    # Field names, never values: the trail must not become a second copy of the record.
    audit.record(
        action=audit.Action.UPDATE,
        patient=patient,
        object_type="patient",
        object_id=patient.pk,
        detail={"changed": changed},
    )
    return patient


@transaction.atomic
def care_team_set(*, actor: User, patient: Patient, staff: list[User], lead: User | None = None) -> None:
    """Sets the hand-made care team. Memberships granted because someone facilitates the patient's group
    (care_team_grants_sync) are left to that: they end with the assignment or the enrolment, unless their staff is
    among `staff`, whose membership is then one made by hand."""
    lead = lead or (staff[0] if staff else None)
    CareTeamMembership.objects.filter(patient=patient, granted_for_group_id__isnull=True).exclude(
        staff__in=staff
    ).delete()
    # Someone chosen by hand who had a grant for a course keeps the record after it: the choice is made by hand now.
    CareTeamMembership.objects.filter(patient=patient, staff__in=staff, granted_for_group_id__isnull=False).update(
        granted_for_group_id=None, granted_from=None, granted_until=None
    )
    existing = set(CareTeamMembership.objects.filter(patient=patient).values_list("staff_id", flat=True))
    for member in staff:
        if member.pk not in existing:
            CareTeamMembership.objects.create(patient=patient, staff=member)
    CareTeamMembership.objects.filter(patient=patient).update(is_lead=False)
    if lead is not None:
        CareTeamMembership.objects.filter(patient=patient, staff=lead).update(is_lead=True)
    audit.record(
        action=audit.Action.UPDATE,
        patient=patient,
        object_type="care_team",
        object_id=patient.pk,
        detail={"staff_ids": sorted(s.pk for s in staff), "lead_id": lead.pk if lead else None},
    )


@transaction.atomic
def care_team_grants_sync(
    *,
    actor: User | None,
    patient: Patient,
    wanted: dict[int, set[int]],
    windows: dict[int, tuple[datetime.datetime, datetime.datetime]] | None = None,
) -> dict[str, list[int]]:
    """Makes the patient's automatic memberships match `wanted`: staff id -> the ids of the patient's group courses
    whose sessions they facilitate. A facilitator without a membership is granted one for one of those groups; an
    automatic membership whose staff no longer facilitates any of them is removed, or moved to another group they
    still facilitate. Each automatic membership opens the record only inside its window, `windows[staff id]`
    (from, until; patients.models.membership_in_force), which program.services.facilitator_access_sync works out
    from the sessions; one without a window opens nothing. A membership made by hand (granted_for_group_id NULL) is
    never created, changed or removed here. Returns the staff ids granted, moved, removed and given a new window;
    the change is audited when there is one."""
    windows = windows or {}
    Patient.objects.select_for_update().filter(pk=patient.pk).first()
    memberships = {row.staff_id: row for row in CareTeamMembership.objects.filter(patient=patient)}
    granted, moved, removed, redated = [], [], [], []
    for staff_id, row in memberships.items():
        if row.granted_for_group_id is None:
            continue
        if not wanted.get(staff_id):
            row.delete()
            removed.append(staff_id)
            continue
        window = windows.get(staff_id, (None, None))
        if row.granted_for_group_id not in wanted[staff_id]:
            row.granted_for_group_id = min(wanted[staff_id])
            moved.append(staff_id)
        elif (row.granted_from, row.granted_until) != window:
            redated.append(staff_id)
        else:
            continue
        row.granted_from, row.granted_until = window
        row.save(update_fields=["granted_for_group_id", "granted_from", "granted_until"])
    for staff_id, group_ids in sorted(wanted.items()):
        if staff_id not in memberships and group_ids:
            start, end = windows.get(staff_id, (None, None))
            CareTeamMembership.objects.create(
                patient=patient,
                staff_id=staff_id,
                granted_for_group_id=min(group_ids),
                granted_from=start,
                granted_until=end,
            )
            granted.append(staff_id)
    changes = {"granted": granted, "moved": moved, "removed": removed, "redated": redated}
    if granted or moved or removed or redated:
        audit.record(
            action=audit.Action.UPDATE,
            actor=actor,
            patient=patient,
            object_type="care_team_grant",
            object_id=patient.pk,
            detail={
                **changes,
                "groups": {str(staff_id): sorted(group_ids) for staff_id, group_ids in sorted(wanted.items())},
                "windows": {
                    str(staff_id): [start.isoformat(), end.isoformat()]
                    for staff_id, (start, end) in sorted(windows.items())
                },
            },
        )
    return changes


_RECORD_PARTS: dict[str, type[Diagnosis | Medication | ExternalClinician]] = {
    "diagnosis": Diagnosis,
    "medication": Medication,
    "external_clinician": ExternalClinician,
}


@transaction.atomic
def record_part_add(
    *, actor: User, patient: Patient, kind: str, fields: Fields
) -> Diagnosis | Medication | ExternalClinician:
    """Adds a diagnosis, a medication or an outside clinician to the record."""
    part = _RECORD_PARTS[kind](patient=patient, **fields)
    part.full_clean()
    if isinstance(part, Diagnosis) and part.is_primary:
        patient.diagnoses.update(is_primary=False)
    part.save()
    audit.record(
        action=audit.Action.CREATE,
        patient=patient,
        object_type=kind,
        object_id=part.pk,
        detail={"fields": sorted(fields)},
    )
    return part


@transaction.atomic
def record_part_remove(*, actor: User, patient: Patient, kind: str, part_id: int) -> bool:
    deleted, _ = _RECORD_PARTS[kind].objects.filter(patient=patient, pk=part_id).delete()
    if deleted:
        audit.record(action=audit.Action.DELETE, patient=patient, object_type=kind, object_id=part_id)
    return bool(deleted)


@transaction.atomic
def childbearing_record(*, actor: User, patient: Patient, potential: str) -> Patient:
    """Documents whether the patient could become pregnant, with who documented it and when: the dosing room accepts
    a pregnancy test marked "not applicable" only where "no" is documented (see Patient.childbearing_potential)."""
    if potential not in ChildbearingPotential.values:
        raise ValueError(f"{potential!r} is not a childbearing-potential choice.")
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    previous = patient.childbearing_potential
    patient.childbearing_potential = potential
    patient.childbearing_recorded_by = actor if potential else None
    patient.childbearing_recorded_at = timezone.now() if potential else None
    patient.save(update_fields=["childbearing_potential", "childbearing_recorded_by", "childbearing_recorded_at"])
    audit.record(
        action=audit.Action.UPDATE,
        patient=patient,
        object_type="childbearing_potential",
        object_id=patient.pk,
        detail={"from": previous, "to": potential},
    )
    return patient
