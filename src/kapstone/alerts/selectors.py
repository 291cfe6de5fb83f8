"""Reads for paging, the rota and safety plans; patient data only through the care-team filter."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from kapstone.accounts.models import DISPLAY_NAME_FIELDS, User
from kapstone.alerts.models import AlertNotification, EscalationStep, OnCallSlot, SafetyPlan, StaffContact
from kapstone.alerts.rota import SlotTimes, on_call_at
from kapstone.audit import services as audit
from kapstone.compiled_once import compiled_once
from kapstone.measures import selectors as measures_selectors
from kapstone.measures.models import AlertOccurrence, CriticalAlert
from kapstone.patients.models import Patient


# Who is on call is read by two queries that take nothing from their caller: each is compiled once a process, as
# building it took about as long as running it, and read afresh on every call (every staff home asks; issue 19).
@compiled_once()
def _active_slot_times() -> QuerySet[OnCallSlot, tuple[int, int, datetime.time, datetime.time]]:
    return OnCallSlot.objects.filter(prescriber__is_active=True).values_list(
        "prescriber_id", "weekday", "starts", "ends"
    )


@compiled_once()
def _first_default_on_call_contact() -> QuerySet[StaffContact]:
    return (
        StaffContact.objects.select_related("user")
        .filter(is_default_on_call=True, user__is_active=True)
        .order_by("pk")[:1]
    )


def rota_slot_times() -> list[SlotTimes]:
    """The active prescribers' slots of the rota, as times (kapstone.alerts.rota works out who is on call from them)."""
    return [SlotTimes(*times) for times in _active_slot_times()]


@compiled_once()
def _active_medical_directors() -> QuerySet[User]:
    return get_user_model().objects.filter(is_medical_director=True, is_active=True).order_by("pk")


def medical_directors() -> list[User]:
    return _active_medical_directors()


def default_on_call() -> User | None:
    contacts = _first_default_on_call_contact()
    return contacts[0].user if contacts else None


def on_call_now(*, now: datetime.datetime | None = None) -> tuple[list[User], str]:
    """(people on call, where that came from): the rota's slot, else the default on-call prescriber, else the
    medical director ("gap"), else nobody."""
    now = now or timezone.now()
    ids = on_call_at(rota_slot_times(), now)
    if ids:
        users = get_user_model().objects.in_bulk(ids)
        return [users[i] for i in ids], "rota"
    default = default_on_call()
    if default is not None:
        return [default], "default"
    directors = medical_directors()
    return directors, "medical_director" if directors else "nobody"


@dataclass(frozen=True)
class OnCallStatus:
    """Who is on call now and whether the rota has a gap, for the staff home."""

    people: list[User]
    source: str  # rota, default, medical_director, nobody

    @property
    def gap(self) -> bool:
        return self.source in ("medical_director", "nobody")


def on_call_status() -> OnCallStatus:
    people, source = on_call_now()
    return OnCallStatus(people, source)


@compiled_once()
def _rota_slots() -> QuerySet[OnCallSlot]:
    """Every slot of the rota, compiled once (kapstone.compiled_once): compiling its join took longer than the
    database's answer (issue 19). Of each slot's prescriber, only what names them (User.__str__, display_name)."""
    return OnCallSlot.objects.select_related("prescriber").only(
        "weekday", "starts", "ends", *(f"prescriber__{name}" for name in DISPLAY_NAME_FIELDS)
    )


def rota() -> dict[str, object]:
    """The rota page's slots, default, medical directors and who is on call now. Who is on call fell back to the
    default, then to the medical directors, when no slot covers now: the page shows what that read, not a second
    read of the same rows."""
    status = on_call_status()
    default: User | None
    if status.gap:  # no default; the people are the medical directors, if any
        default, directors = None, status.people
    else:
        default = status.people[0] if status.source == "default" else default_on_call()
        directors = medical_directors()
    return {
        "slots": _rota_slots(),
        "default": default,
        "medical_directors": directors,
        "status": status,
    }


def paging_number(user: User) -> str:
    contact = StaffContact.objects.filter(user=user).first()
    return contact.mobile if contact else ""


def slot_get(slot_id: int | str) -> OnCallSlot:
    try:
        return OnCallSlot.objects.get(pk=int(slot_id))
    except (OnCallSlot.DoesNotExist, ValueError, TypeError):
        raise Http404("No such slot.") from None


@dataclass
class AlertDetail:
    alert: CriticalAlert
    occurrences: list[AlertOccurrence]
    steps: list[EscalationStep]
    notifications: list[AlertNotification]

    @property
    def failed(self) -> list[AlertNotification]:
        return [n for n in self.notifications if n.status == AlertNotification.Status.FAILED and n.attempts]

    @property
    def retrying(self) -> list[AlertNotification]:
        return [n for n in self.notifications if n.status == AlertNotification.Status.PENDING and n.attempts]


def alert_detail(*, user: User, alert_id: int | str) -> AlertDetail:
    """One alert the user may see (else 404), with its history and every page sent for it; the read is audited."""
    alert = measures_selectors.alert_get(user=user, alert_id=alert_id)
    audit.record(
        action=audit.Action.READ, patient_id=alert.patient_id, object_type="critical_alert", object_id=alert.pk
    )
    return AlertDetail(
        alert=alert,
        occurrences=measures_selectors.alert_history(alert=alert),
        steps=list(alert.escalation_steps.all()),
        notifications=list(alert.notifications.select_related("recipient")),
    )


@compiled_once(patient_id=int)
def _safety_plan_versions(*, patient_id: int) -> QuerySet[SafetyPlan]:
    # Compiled once: compiling it was a tenth of the safety plan page's time (issue 19).
    return SafetyPlan.objects.filter(patient_id=patient_id).select_related("written_by").order_by("-version")


def safety_plan_versions(*, patient: Patient) -> list[SafetyPlan]:
    """Every version, newest first. The caller reached the patient through patient_get (care team, audited)."""
    return _safety_plan_versions(patient_id=patient.pk)


def current_safety_plan(*, patient: Patient) -> SafetyPlan | None:
    """The plan in force for the patient's own pages (portal, crisis page); the read is audited."""
    plan = SafetyPlan.objects.filter(patient=patient).order_by("-version").first()
    if plan is not None:
        audit.record(action=audit.Action.READ, patient=patient, object_type="safety_plan", object_id=plan.pk)
    return plan
