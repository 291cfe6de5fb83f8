"""Writes for paging and escalation, the rota and safety plans. Each is atomic and audited.

Paging: an urgent or high alert (CriticalAlert.pages) notifies the patient's prescribers on the care team and
whoever is on call (step 0) at once. Each interval (the practice setting alerts.acknowledge_within_minutes) it
stays open, the sweep adds a step: the next prescriber down the rota and the medical director. Every
notification is a row unique per alert, step, recipient and channel, and is sent by whoever claims it first, so
neither two workers nor a retry sends anything twice. A channel that fails (an SMS provider down, a number
refused) is retried with widening pauses in its own row and never holds up the others; after the last try it
shows on the alert as failed.
"""

from __future__ import annotations

import datetime
import logging
import smtplib

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from kapstone.accounts.models import User
from kapstone.accounts.roles import Role
from kapstone.alerts import rota, selectors, tasks
from kapstone.alerts.models import AlertNotification, EscalationStep, OnCallSlot, SafetyPlan, StaffContact
from kapstone.alerts.providers import DeliveryFailed, deliver
from kapstone.alerts.settings_data import escalation_settings
from kapstone.audit import services as audit
from kapstone.measures import services as measures_services
from kapstone.measures.models import CriticalAlert
from kapstone.patients.models import Patient, membership_in_force

logger = logging.getLogger(__name__)

SUBJECT = "Kapstone: an alert is waiting for you"
# Operational: a send still under way this long after its claim was cut off (the mail timeout is a minute).
SEND_LEASE = datetime.timedelta(minutes=5)
# Errors a channel may raise that mean "try again later" rather than a fault in Kapstone.
DELIVERY_ERRORS = (DeliveryFailed, smtplib.SMTPException, ConnectionError, TimeoutError, OSError)


class RotaRefused(ValueError):
    """A rota change that cannot be made; the message says why."""


class SafetyPlanRefused(ValueError):
    pass


# --- paging and escalation ----------------------------------------------------------------------------------


def _alert_link(alert_id: int) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("alerts:detail", kwargs={"alert_id": alert_id})


def _page_body(alert_id: int) -> str:
    # No patient, instrument, score or event: an inbox or a lock screen is not a private place.
    return f"Sign in to Kapstone to see it and acknowledge it: {_alert_link(alert_id)}"


def _rows_for(
    alert: CriticalAlert, *, step: int, people: list[tuple[User, str]], now: datetime.datetime
) -> list[AlertNotification]:
    contacts = {c.user_id: c for c in StaffContact.objects.filter(user__in=[person for person, _ in people])}
    rows = []
    for person, why in people:
        addresses = []
        if person.email:
            addresses.append((AlertNotification.Channel.EMAIL, person.email))
        contact = contacts.get(person.pk)
        if contact is not None and contact.mobile:
            addresses.append((AlertNotification.Channel.SMS, contact.mobile))
        for channel, address in addresses:
            rows.append(
                AlertNotification(
                    alert=alert,
                    step=step,
                    recipient=person,
                    role_in_step=why,
                    channel=channel,
                    address=address,
                    created_at=now,
                    next_attempt_at=now,
                )
            )
    return rows


def _unique_people(pairs: list[tuple[User, str]]) -> list[tuple[User, str]]:
    seen: set[int] = set()
    people: list[tuple[User, str]] = []
    for person, why in pairs:
        if person.pk not in seen:
            seen.add(person.pk)
            people.append((person, why))
    return people


def _record_step(alert: CriticalAlert, *, step: int, people: list[tuple[User, str]], now: datetime.datetime) -> bool:
    """Takes a step once: False when another worker already took it (the unique step decided)."""
    try:
        with transaction.atomic():
            EscalationStep.objects.create(alert=alert, step=step, at=now, nobody_to_page=not people)
    except IntegrityError:
        return False
    rows = _rows_for(alert, step=step, people=people, now=now)
    AlertNotification.objects.bulk_create(rows)
    audit.record(
        action=audit.Action.UPDATE,
        patient_id=alert.patient_id,
        object_type="critical_alert",
        object_id=alert.pk,
        detail={
            "paging_step": step,
            "recipients": [{"user": person.pk, "why": why} for person, why in people],
            "channels": len(rows),
            "nobody_to_page": not people,
        },
    )
    if rows:
        transaction.on_commit(lambda: _deliver_soon([row.pk for row in rows]))
    return True


def _deliver_soon(notification_ids: list[int]) -> None:
    for notification_id in notification_ids:
        tasks.send_alert_notification.delay(notification_id)


@transaction.atomic
def alert_page(*, alert_id: int, now: datetime.datetime | None = None) -> bool:
    """Step 0 for an alert that pages: the patient's prescribers on the care team and whoever is on call. Does
    nothing for a review alert, an acknowledged one, or one already paged."""
    now = now or timezone.now()
    alert = CriticalAlert.objects.select_for_update(of=("self",)).select_related("patient").filter(pk=alert_id).first()
    if alert is None:
        logger.warning("alert %s no longer exists; no one paged", alert_id)
        return False
    if not alert.is_open or not alert.pages or alert.escalation_steps.exists():
        return False
    people: list[tuple[User, str]] = []
    if alert.patient is not None:
        people += [
            (member.staff, "prescriber on the care team")
            # A facilitator's grant outside its window opens nothing, so it pages no one either.
            for member in alert.patient.care_team_memberships.select_related("staff").filter(
                membership_in_force(), staff__role=Role.PRESCRIBER, staff__is_active=True
            )
        ]
    on_call, source = selectors.on_call_now(now=now)
    why = {"rota": "on call", "default": "default on call", "medical_director": "medical director (rota gap)"}
    people += [(person, why.get(source, "on call")) for person in on_call]
    return _record_step(alert, step=0, people=_unique_people(people), now=now)


def _next_step_people(alert: CriticalAlert, *, step: int, now: datetime.datetime) -> list[tuple[User, str]]:
    """The next prescriber down the rota not yet paged for this alert (round again once all were), and the
    medical director."""
    already = set(alert.notifications.values_list("recipient_id", flat=True))
    order = rota.rota_order(selectors.rota_slot_times(), now)
    users = get_user_model().objects.in_bulk(order)
    fresh = [pk for pk in order if pk not in already]
    people: list[tuple[User, str]] = []
    if fresh:
        people.append((users[fresh[0]], "next on the rota"))
    elif order:
        people.append((users[order[(step - 1) % len(order)]], "next on the rota (again)"))
    people += [(director, "medical director") for director in selectors.medical_directors()]
    return _unique_people(people)


# Not atomic as a whole: one transaction per alert, so each step is committed (and its pages queued) as it is
# taken, and an alert's lock is held only while that alert is escalated.
def alerts_escalate_due(*, now: datetime.datetime | None = None) -> int:
    """The sweep: each open paging alert whose latest step is older than the practice's interval moves to the
    next step; one never paged (its page was lost) gets step 0. Each alert is locked with skip_locked, so two
    workers sweeping at once share the alerts rather than wait on each other, and the unique step makes sure a
    step is taken once. Returns the steps taken."""
    now = now or timezone.now()
    interval = datetime.timedelta(minutes=float(escalation_settings()["acknowledge_within_minutes"]))
    taken = 0
    open_ids = list(
        CriticalAlert.objects.filter(acknowledged_at__isnull=True, priority__in=CriticalAlert.PAGING).values_list(
            "pk", flat=True
        )
    )
    for alert_id in open_ids:
        with transaction.atomic():
            alert = (
                CriticalAlert.objects.select_for_update(skip_locked=True)
                .filter(pk=alert_id, acknowledged_at__isnull=True)
                .first()
            )
            if alert is None:
                continue
            latest = alert.escalation_steps.order_by("-step").first()
            if latest is None:
                taken += alert_page(alert_id=alert.pk, now=now)
            elif now - latest.at >= interval:
                step = latest.step + 1
                taken += _record_step(alert, step=step, people=_next_step_people(alert, step=step, now=now), now=now)
    return taken


def _retry_pause(attempts: int) -> datetime.timedelta:
    first = float(escalation_settings()["retry_after_minutes"])
    return datetime.timedelta(minutes=first * 2 ** (attempts - 1))


# Not atomic: the claim must be committed before the message goes (another worker then skips it), and the outcome
# is recorded after the send.
def notification_deliver(*, notification_id: int, now: datetime.datetime | None = None) -> str:
    """Sends one notification if it is still waiting and due. The claim (pending -> sending) is one conditional
    update, so of two workers only one sends. A failure puts it back to wait with a longer pause, or marks it
    failed after the practice's number of tries; it never raises, so one bad channel stops nothing else."""
    now = now or timezone.now()
    claimed = AlertNotification.objects.filter(
        pk=notification_id, status=AlertNotification.Status.PENDING, next_attempt_at__lte=now
    ).update(status=AlertNotification.Status.SENDING, claimed_at=now)
    if not claimed:
        if not AlertNotification.objects.filter(pk=notification_id).exists():
            logger.warning("page %s no longer exists; nothing sent", notification_id)
        return "skipped"
    notification = AlertNotification.objects.select_related("alert").get(pk=notification_id)
    if not notification.alert.is_open:
        # Acknowledged while it waited: nobody needs paging for it any more.
        notification.status, notification.last_error = AlertNotification.Status.FAILED, "alert already acknowledged"
        notification.save(update_fields=["status", "last_error"])
        return "not needed"
    attempts = notification.attempts + 1
    try:
        deliver(
            channel=notification.channel,
            address=notification.address,
            subject=SUBJECT,
            body=_page_body(notification.alert_id),
            idempotency_key=f"alert-page:{notification.pk}",
        )
    except DELIVERY_ERRORS as error:
        logger.warning("page %s failed on try %s: %s", notification_id, attempts, error)
        last = attempts >= int(escalation_settings()["delivery_attempts"])
        with transaction.atomic():
            AlertNotification.objects.filter(pk=notification_id).update(
                status=AlertNotification.Status.FAILED if last else AlertNotification.Status.PENDING,
                attempts=attempts,
                last_error=str(error)[:300],
                next_attempt_at=now + _retry_pause(attempts),
            )
            audit.record(
                action=audit.Action.UPDATE,
                patient_id=notification.alert.patient_id,
                object_type="alert_notification",
                object_id=notification_id,
                detail={"failed": True, "attempt": attempts, "gave_up": last, "channel": notification.channel},
            )
        return "failed" if last else "retrying"
    with transaction.atomic():
        AlertNotification.objects.filter(pk=notification_id).update(
            status=AlertNotification.Status.SENT, attempts=attempts, sent_at=now, last_error=""
        )
        audit.record(
            action=audit.Action.CREATE,
            patient_id=notification.alert.patient_id,
            object_type="alert_notification",
            object_id=notification_id,
            detail={
                "sent": True,
                "alert": notification.alert_id,
                "step": notification.step,
                "channel": notification.channel,
            },
        )
    return "sent"


# Not atomic as a whole: each page is claimed, sent and recorded on its own (notification_deliver), so one that
# fails leaves the others sent and recorded, and a page is never sent twice for a rolled-back claim.
def notifications_deliver_due(*, now: datetime.datetime | None = None, limit: int = 200) -> int:
    """Sends every page whose time has come; a send whose worker died mid-send (still 'sending' SEND_LEASE after
    its claim) is taken back first and tried again under the same idempotency key."""
    now = now or timezone.now()
    AlertNotification.objects.filter(status=AlertNotification.Status.SENDING, claimed_at__lte=now - SEND_LEASE).update(
        status=AlertNotification.Status.PENDING, next_attempt_at=now
    )
    due = list(
        AlertNotification.objects.filter(status=AlertNotification.Status.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(notification_deliver(notification_id=pk, now=now) == "sent" for pk in due)


# --- safety events ------------------------------------------------------------------------------------------


def safety_event_receive(
    *, kind: str, level: str, patient_id: int | None, summary: str, object_type: str, object_id: int | str
) -> None:
    """Puts a safety event another app announced on the one queue (measures keeps it); paging follows from the
    alert_raised signal measures sends for an urgent one."""
    measures_services.alert_raise_for_event(
        kind=kind, level=level, patient_id=patient_id, summary=summary, object_type=object_type, object_id=object_id
    )


# --- the rota -----------------------------------------------------------------------------------------------


def _prescriber(user: User) -> None:
    if user.role != Role.PRESCRIBER or not user.is_active:
        raise RotaRefused("Only an active prescriber can be on call.")


@transaction.atomic
def rota_slot_add(
    *, actor: User, prescriber: User, weekday: int, starts: datetime.time, ends: datetime.time
) -> OnCallSlot:
    _prescriber(prescriber)
    if starts == ends:
        raise RotaRefused("A slot needs a start and an end that differ (an end before the start runs overnight).")
    # The unique start decides, in a savepoint: a check before the insert let two prescribers adding one slot at
    # once reach the constraint, and the second was shown a server error.
    try:
        with transaction.atomic():
            slot = OnCallSlot.objects.create(
                prescriber=prescriber, weekday=weekday, starts=starts, ends=ends, created_by=actor
            )
    except IntegrityError:
        raise RotaRefused(f"{prescriber} already has a slot starting then.") from None
    audit.record(
        action=audit.Action.CREATE,
        actor=actor,
        object_type="on_call_slot",
        object_id=slot.pk,
        detail={"prescriber": prescriber.pk, "weekday": weekday, "starts": starts, "ends": ends},
    )
    return slot


@transaction.atomic
def rota_slot_remove(*, actor: User, slot: OnCallSlot) -> None:
    detail = {"prescriber": slot.prescriber_id, "weekday": slot.weekday, "starts": slot.starts, "ends": slot.ends}
    slot_id = slot.pk
    slot.delete()
    audit.record(action=audit.Action.DELETE, actor=actor, object_type="on_call_slot", object_id=slot_id, detail=detail)


@transaction.atomic
def rota_default_set(*, actor: User, prescriber: User | None) -> None:
    """Makes this prescriber the default on call (covering hours no slot does), or clears it with None."""
    if prescriber is not None:
        _prescriber(prescriber)
    previous = StaffContact.objects.select_for_update().filter(is_default_on_call=True).first()
    if previous is not None:
        previous.is_default_on_call = False
        previous.save(update_fields=["is_default_on_call", "updated_at"])
    if prescriber is not None:
        contact, _ = StaffContact.objects.get_or_create(user=prescriber)
        contact.is_default_on_call = True
        contact.save(update_fields=["is_default_on_call", "updated_at"])
    audit.record(
        action=audit.Action.UPDATE,
        actor=actor,
        object_type="on_call_default",
        detail={"from": previous.user_id if previous else None, "to": prescriber.pk if prescriber else None},
    )


@transaction.atomic
def paging_number_set(*, actor: User, mobile: str) -> StaffContact:
    """A staff member's own number for SMS pages (blank to receive email only)."""
    contact, _ = StaffContact.objects.get_or_create(user=actor)
    contact.mobile = mobile
    contact.save(update_fields=["mobile", "updated_at"])
    audit.record(
        action=audit.Action.UPDATE,
        actor=actor,
        object_type="staff_paging",
        object_id=actor.pk,
        detail={"sms": bool(mobile)},
    )
    return contact


# --- safety plans -------------------------------------------------------------------------------------------


@transaction.atomic
def safety_plan_save(*, actor: User, patient: Patient, sections: dict[str, str]) -> SafetyPlan:
    """A new version of the patient's safety plan; the earlier versions stay as they were."""
    names = [name for name, _ in SafetyPlan.SECTIONS]
    unknown = set(sections) - set(names)
    if unknown:
        raise SafetyPlanRefused(f"Unknown sections: {', '.join(sorted(unknown))}.")
    cleaned = {name: (sections.get(name) or "").strip() for name in names}
    if not any(cleaned.values()):
        raise SafetyPlanRefused("Write at least one section of the plan with the patient.")
    # Locks the patient's row, so two saves at once number their versions one after the other.
    Patient.objects.select_for_update().filter(pk=patient.pk).first()
    latest = SafetyPlan.objects.filter(patient=patient).order_by("-version").first()
    plan = SafetyPlan.objects.create(
        patient=patient, version=(latest.version + 1) if latest else 1, written_by=actor, **cleaned
    )
    audit.record(
        action=audit.Action.CREATE,
        actor=actor,
        patient=patient,
        object_type="safety_plan",
        object_id=plan.pk,
        detail={"version": plan.version, "sections_filled": [name for name, text in cleaned.items() if text]},
    )
    return plan
