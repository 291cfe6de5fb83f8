"""Writes for integration: the window, the journal, therapist notes and notifications. Each is atomic and writes
its audit row in the same transaction. Audit details name fields and ids, never what a patient wrote."""

import datetime
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from kapstone.accounts.models import User
from kapstone.accounts.roles import Role
from kapstone.audit import services as audit
from kapstone.dosing.models import DoseRecord
from kapstone.integration import crypto, selectors, tasks
from kapstone.integration.models import (
    IntegrationNote,
    IntegrationWindow,
    JournalEntry,
    Notification,
    NotificationPreference,
    PsychotherapyNote,
)
from kapstone.integration.notifications import channel as channel_named
from kapstone.integration.window import after_quiet_hours, reminder_times, window_bounds
from kapstone.measures.crisis import crisis_announce_on_commit, crisis_phrases_in
from kapstone.patients.models import Patient
from kapstone.practice.signals import safety_event
from kapstone.practice.storage import removed_if_not_saved
from kapstone.program.models import GroupSession

logger = logging.getLogger(__name__)

WINDOW_PROMPT = "integration_prompt"

# Operational, not clinical: how many times a message is tried before staff are told it could not be delivered,
# and the pause after the first failed try, doubling after each (5, 10, 20, 40 min): a mail or SMS outage of over
# an hour is ridden out, and an address that never works is reported within about two hours.
DELIVERY_ATTEMPTS = 5
FIRST_RETRY_AFTER = datetime.timedelta(minutes=5)
# Operational: a send still marked 'sending' this long after it was claimed has lost its worker (a send gives up
# after delivery.SEND_TIMEOUT_SECONDS), so the sweep takes it back and tries again under the same key.
SEND_LEASE = datetime.timedelta(minutes=15)


class IntegrationError(ValueError):
    """A request the service refuses, with a message for the person who made it."""


@dataclass(frozen=True)
class CleanImage:
    """An upload that passed validation, re-encoded without its metadata (see forms.clean_image_upload)."""

    content: bytes
    extension: str
    content_type: str


def _site_link(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


@transaction.atomic
def window_open(*, dose_record: DoseRecord) -> IntegrationWindow:
    """Opens the window after an administered dose and schedules the patient's prompts. Safe to call twice."""
    if dose_record.administered_at is None:
        raise IntegrationError("The dose has not been given; there is no integration window yet.")
    window, created = IntegrationWindow.objects.get_or_create(
        dose_record=dose_record,
        defaults={
            "patient_id": dose_record.patient_id,
            "dosing_session_id": dose_record.session_id,
            "dosed_at": dose_record.administered_at,
        },
    )
    if not created:
        return window
    audit.record(
        action=audit.Action.CREATE,
        patient_id=window.patient_id,
        object_type="integration_window",
        object_id=window.pk,
        detail={"dose_record_id": dose_record.pk},
    )
    window_settings = selectors.practice_window_settings()
    bounds = window_bounds(window.dosed_at, window_settings)
    now = timezone.now()
    link = _site_link(reverse("integration:journal_new"))
    for index, at in enumerate(reminder_times(bounds, window_settings)):
        # A window opened late (a worker was down) skips the prompts whose time has passed rather than
        # sending them all at once.
        if at <= now or at > bounds.outer_end:
            continue
        notify(
            patient=window.patient,
            kind=WINDOW_PROMPT,
            dedupe_key=f"integration-window:{window.pk}:prompt:{index}",
            subject="A journaling prompt from your care team",
            body=(
                "The days after your session are a good time to reflect. Take a few minutes to write in your "
                f"journal or log a creative activity: {link}"
            ),
            not_before=at,
            window=window,
        )
    return window


# Not atomic as a whole: each window opens in its own transaction (window_open), so one that fails holds up none.
def missing_windows_open(*, limit: int) -> int:
    """Opens the window of every administered dose that has none, newest dose first, at most `limit` a call;
    returns how many it opened.

    The window is normally opened by a task sent when the dose is recorded; if that task failed or the broker was
    down, only this sweep opens it. Each window is its own transaction (window_open): one that cannot be opened
    does not hold up the rest, and is reported once they are done, so the sweep shows as failed until it opens.
    A window opened meanwhile by the task is found, not duplicated; a window opened late skips the prompts whose
    time has passed (window_open), so a long-lost window sends nothing stale.
    """
    doses = DoseRecord.objects.filter(administered_at__isnull=False, integration_window__isnull=True).order_by(
        "-administered_at", "-pk"
    )
    opened, failed = 0, []
    for dose_record in doses[:limit]:
        try:
            window_open(dose_record=dose_record)
        except Exception:
            logger.exception("could not open the integration window for dose record %s", dose_record.pk)
            failed.append(dose_record.pk)
        else:
            opened += 1
    if failed:
        raise IntegrationError(f"Could not open the integration window for dose records {failed} ({opened} opened).")
    return opened


@transaction.atomic
def notify(
    *,
    patient: Patient,
    kind: str,
    dedupe_key: str,
    subject: str,
    body: str,
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
    window: IntegrationWindow | None = None,
) -> list[Notification]:
    """Queues one message per channel the patient chose, once: the same dedupe key never sends twice.

    The send time is `not_before` (or now), moved past the patient's quiet hours. A message that would then go
    after `not_after` is not queued (nothing is, and the caller may try again later): a reminder that arrives
    after its session has started only misleads. The task is enqueued after commit so a worker always finds the
    row.
    """
    preference = selectors.notification_preference_of(patient)
    when = after_quiet_hours(
        max(not_before or timezone.now(), timezone.now()),
        time_zone=preference.time_zone,
        start=preference.quiet_start,
        end=preference.quiet_end,
    )
    if not_after is not None and when >= not_after:
        return []
    queued = []
    for name in preference.channels:
        address = channel_named(name).address_for(patient)
        if not address:
            continue
        notification, created = Notification.objects.get_or_create(
            dedupe_key=f"{dedupe_key}:{name}",
            defaults={
                "patient": patient,
                "window": window,
                "kind": kind,
                "channel": name,
                "subject": subject,
                "body": body,
                "scheduled_for": when,
            },
        )
        if created:
            audit.record(
                action=audit.Action.CREATE,
                patient=patient,
                object_type="notification",
                object_id=notification.pk,
                detail={"kind": kind, "channel": name, "scheduled_for": when.isoformat()},
            )
            transaction.on_commit(functools.partial(_enqueue, notification.pk, when))
        queued.append(notification)
    return queued


@transaction.atomic
def notifications_withdraw(*, dedupe_prefix: str, keep_prefix: str, note: str) -> int:
    """Marks the messages still waiting under dedupe_prefix, except those under keep_prefix, as not needed any more
    (a reminder that a newer one replaces). One already sent or being sent is left as it is. Returns how many."""
    waiting = (
        Notification.objects.select_for_update()
        .filter(status=Notification.Status.PENDING, dedupe_key__startswith=dedupe_prefix)
        .exclude(dedupe_key__startswith=keep_prefix)
    )
    stale = list(waiting)
    for notification in stale:
        _settle(notification, Notification.Status.SKIPPED, note)
    return len(stale)


@transaction.atomic
def patient_notifications_withdraw(*, patient_id: int, dedupe_prefixes: list[str], note: str) -> int:
    """Marks the patient's messages still waiting under any of dedupe_prefixes as not needed any more (a reminder of
    a session they no longer attend). One already sent or being sent is left as it is. Returns how many."""
    if not dedupe_prefixes:
        return 0
    under_a_prefix = Q()
    for prefix in dedupe_prefixes:
        under_a_prefix |= Q(dedupe_key__startswith=prefix)
    waiting = Notification.objects.select_for_update().filter(
        under_a_prefix, patient_id=patient_id, status=Notification.Status.PENDING
    )
    stale = list(waiting)
    for notification in stale:
        _settle(notification, Notification.Status.SKIPPED, note)
    return len(stale)


def _enqueue(notification_id: int, eta: datetime.datetime) -> None:
    """Hands the send to a worker. Runs after commit, so the row is there whatever happens here: if the broker
    cannot be reached the message stays pending and the beat sweep (send_due_notifications) sends it, so the
    request that queued it is neither failed nor held (the publish timeouts are in kapstone/celery.py)."""
    try:
        if eta > timezone.now():
            tasks.send_notification.apply_async(args=[notification_id], eta=eta)
        else:
            tasks.send_notification.delay(notification_id)
    except Exception:
        logger.warning("could not queue notification %s; the sweep will send it", notification_id, exc_info=True)


def _settle(notification: Notification, status: str, note: str = "") -> str:
    with transaction.atomic():
        Notification.objects.filter(pk=notification.pk).update(
            status=status, note=note, sent_at=timezone.now() if status == Notification.Status.SENT else None
        )
        audit.record(
            action=audit.Action.UPDATE,
            patient_id=notification.patient_id,
            object_type="notification",
            object_id=notification.pk,
            detail={"status": status, "channel": notification.channel},
        )
    if status == Notification.Status.FAILED:
        _announce_undelivered(notification, note)
    return status


def _announce_undelivered(notification: Notification, note: str) -> None:
    # The care team must learn the patient could not be reached (issue 14); the summary names no address.
    patient_id, notification_id = notification.patient_id, notification.pk
    transaction.on_commit(
        lambda: safety_event.send(
            sender=Notification,
            kind="patient_notification_failed",
            level="review",
            patient_id=patient_id,
            summary=f"A {notification.channel} message to the patient could not be delivered: {note}",
            object_type="notification",
            object_id=notification_id,
        )
    )


def notification_deliver(*, notification_id: int) -> str:
    """Sends one queued message if it is due and still needed; returns what happened.

    Not one transaction on purpose: the message leaves the building between claiming the row and marking it
    sent. The claim is a conditional UPDATE, so two workers (or a redelivered task) cannot both send it. A worker
    that dies mid-send leaves the row 'sending'; once its lease runs out the sweep reclaims it
    (notifications_reclaim_stuck) and it is sent again under the same idempotency key, or marked failed after
    the last attempt. A failed send is retried through the row's own schedule, not the task's retries, so
    attempts stay bounded (_send_failed).
    """
    notification = Notification.objects.select_related("patient", "window").filter(pk=notification_id).first()
    if notification is None:
        # Deleted with its patient's record or window between queueing and now: nothing to send.
        logger.warning("notification %s no longer exists; nothing sent", notification_id)
        return "missing"
    if notification.status != Notification.Status.PENDING:
        return notification.status
    now = timezone.now()
    if notification.scheduled_for > now:
        return "not_due"
    if notification.window is not None:
        status = selectors.window_status(notification.window, now=now)
        if status.done_at is not None:
            return _settle(notification, Notification.Status.SKIPPED, "the integration work is already done")
        if now > status.bounds.outer_end:
            return _settle(notification, Notification.Status.SKIPPED, "the integration window has closed")
    preference = selectors.notification_preference_of(notification.patient)
    later = after_quiet_hours(
        now, time_zone=preference.time_zone, start=preference.quiet_start, end=preference.quiet_end
    )
    if later > now:
        Notification.objects.filter(pk=notification.pk, status=Notification.Status.PENDING).update(scheduled_for=later)
        transaction.on_commit(lambda: _enqueue(notification.pk, later))
        return "deferred"
    claimed = Notification.objects.filter(pk=notification.pk, status=Notification.Status.PENDING).update(
        status=Notification.Status.SENDING, attempts=F("attempts") + 1, claimed_at=now
    )
    if not claimed:
        return "claimed_elsewhere"
    target = channel_named(notification.channel)
    try:
        target.send(
            to=target.address_for(notification.patient),
            subject=notification.subject,
            body=notification.body,
            idempotency_key=notification.dedupe_key,
        )
    except Exception as error:
        return _send_failed(notification, error)
    return _settle(notification, Notification.Status.SENT)


def _send_failed(notification: Notification, error: Exception) -> str:
    """Nothing was delivered: the message is tried again after a pause that doubles each time, until the last
    attempt, after which it is marked failed so staff see it could not be delivered."""
    attempts = Notification.objects.values_list("attempts", flat=True).get(pk=notification.pk)
    # The error's type only: its text may hold the patient's address.
    reason = type(error).__name__
    logger.warning(
        "notification %s by %s failed, attempt %s of %s: %s",
        notification.pk,
        notification.channel,
        attempts,
        DELIVERY_ATTEMPTS,
        reason,
    )
    if attempts >= DELIVERY_ATTEMPTS:
        return _settle(
            notification, Notification.Status.FAILED, f"could not be delivered after {attempts} attempts ({reason})"
        )
    retry_at = timezone.now() + FIRST_RETRY_AFTER * 2 ** (attempts - 1)
    Notification.objects.filter(pk=notification.pk, status=Notification.Status.SENDING).update(
        status=Notification.Status.PENDING, scheduled_for=retry_at
    )
    transaction.on_commit(lambda: _enqueue(notification.pk, retry_at))
    return "retry_later"


# Not atomic as a whole: each send is reclaimed in its own transaction, so its retry is queued as soon as it commits.
def notifications_reclaim_stuck(*, now: datetime.datetime | None = None) -> int:
    """Takes back every send whose worker died mid-send (still 'sending' a SEND_LEASE after its claim): it is due
    again at once, to be sent under the same idempotency key, or, if that was its last attempt, marked failed so
    staff see it. Each reclaim is a conditional UPDATE, so two sweeps never both take the same send. Returns how
    many were taken back."""
    now = now or timezone.now()
    stuck = Notification.objects.filter(status=Notification.Status.SENDING).filter(
        Q(claimed_at__lte=now - SEND_LEASE) | Q(claimed_at__isnull=True)
    )
    reclaimed = 0
    for notification in stuck.order_by("pk"):
        with transaction.atomic():
            if notification.attempts >= DELIVERY_ATTEMPTS:
                note = f"could not be delivered after {notification.attempts} attempts (the last did not finish)"
                taken = Notification.objects.filter(
                    pk=notification.pk, status=Notification.Status.SENDING, claimed_at=notification.claimed_at
                ).update(status=Notification.Status.FAILED, note=note)
                outcome = Notification.Status.FAILED
                if taken:
                    _announce_undelivered(notification, note)
            else:
                taken = Notification.objects.filter(
                    pk=notification.pk, status=Notification.Status.SENDING, claimed_at=notification.claimed_at
                ).update(status=Notification.Status.PENDING, scheduled_for=now)
                outcome = Notification.Status.PENDING
                if taken:
                    transaction.on_commit(functools.partial(_enqueue, notification.pk, now))
            if taken:
                logger.warning("notification %s was stuck mid-send; now %s", notification.pk, outcome)
                audit.record(
                    action=audit.Action.UPDATE,
                    patient_id=notification.patient_id,
                    object_type="notification",
                    object_id=notification.pk,
                    detail={"status": outcome, "channel": notification.channel, "reclaimed": True},
                )
                reclaimed += 1
    return reclaimed


# How a shared entry that the crisis screen flags is announced to the alert queue (practice.signals.SAFETY_EVENT_KINDS).
JOURNAL_CRISIS_KIND = "journal_crisis_keyword"


def _screen_shared(entry: JournalEntry) -> None:
    """A shared entry is the patient writing to the care team, as a secure message is: it passes the same crisis screen
    (measures.crisis) and raises the same review alert, which holds a dose, a course and discharge until a clinician
    acknowledges it (dosing/data/safety.yaml review_before_dosing). A private entry is read by no one, so it is not
    screened; it is when the patient shares it."""
    if not crisis_phrases_in(entry.text):
        return
    crisis_announce_on_commit(
        sender=JournalEntry,
        kind=JOURNAL_CRISIS_KIND,
        patient_id=entry.patient_id,
        summary="A journal entry the patient shared mentions a crisis; read it and reach out.",
        object_type="journal_entry",
        object_id=entry.pk,
    )


@transaction.atomic
def journal_entry_create(
    *,
    actor: User,
    patient: Patient,
    prompt: str,
    text: str,
    mood: int | None,
    activity: str,
    activity_minutes: int | None,
    image: CleanImage | None = None,
    share: bool = False,
) -> JournalEntry:
    if actor.role != Role.PATIENT or patient.user_id != actor.pk:
        raise IntegrationError("Only the patient writes in their journal.")
    now = timezone.now()
    entry = JournalEntry(
        patient=patient,
        window=selectors.open_window_for(patient, now=now),
        prompt=prompt,
        text=text,
        mood=mood,
        activity=activity,
        activity_minutes=activity_minutes,
        shared_with_care_team=share,
        shared_at=now if share else None,
        created_at=now,
    )
    entry.full_clean(exclude=["image"])
    if image is not None:
        entry._image_extension = image.extension
        entry.image_content_type = image.content_type
        try:
            entry.image.save("upload", ContentFile(image.content), save=False)
        except OSError:
            # A full disk or an unreachable bucket: nothing is saved, and the patient keeps what they wrote.
            logger.exception("could not store a journal picture for patient %s", patient.pk)
            raise IntegrationError(
                "Your picture could not be stored just now, so nothing was saved. Please try again later, or "
                "save the entry without the picture."
            ) from None
    with removed_if_not_saved(entry.image):
        entry.save()
        audit.record(
            action=audit.Action.CREATE,
            patient=patient,
            object_type="journal_entry",
            object_id=entry.pk,
            detail={"prompt": prompt, "shared": share, "image": image is not None, "activity": activity},
        )
    if share:
        _screen_shared(entry)
    return entry


@transaction.atomic
def journal_entry_share(*, actor: User, entry: JournalEntry, shared: bool) -> JournalEntry:
    if entry.patient.user_id != actor.pk:
        raise IntegrationError("Only the patient decides who sees their journal.")
    newly_shared = shared and not entry.shared_with_care_team
    entry.shared_with_care_team = shared
    entry.shared_at = timezone.now() if shared else None
    entry.save(update_fields=["shared_with_care_team", "shared_at", "updated_at"])
    audit.record(
        action=audit.Action.UPDATE,
        patient_id=entry.patient_id,
        object_type="journal_entry.sharing",
        object_id=entry.pk,
        detail={"shared": shared},
    )
    if newly_shared:
        _screen_shared(entry)
    return entry


@transaction.atomic
def integration_note_add(*, actor: User, patient: Patient, session: GroupSession, text: str) -> IntegrationNote:
    if not actor.is_clinician:
        raise IntegrationError("Only clinicians write integration notes.")
    if not text.strip():
        raise IntegrationError("The note is empty.")
    if not selectors.integration_sessions_for(patient).filter(pk=session.pk).exists():
        # The form offers only these; the rule is the service's, so no other caller files a note under a session of
        # a group the patient was never in (or a dosing session), where the timeline would show it as attended.
        raise IntegrationError(f"{session} is not an integration session of a group {patient.full_name} is in.")
    note = IntegrationNote.objects.create(patient=patient, session=session, author=actor, text=text.strip())
    audit.record(
        action=audit.Action.CREATE,
        patient=patient,
        object_type="integration_note",
        object_id=note.pk,
        detail={"session_id": session.pk},
    )
    return note


@transaction.atomic
def psychotherapy_note_add(*, actor: User, patient: Patient, text: str) -> PsychotherapyNote:
    if actor.role != Role.THERAPIST:
        raise IntegrationError("Only therapists keep psychotherapy notes.")
    if not text.strip():
        raise IntegrationError("The note is empty.")
    try:
        ciphertext = crypto.encrypt(text.strip())
    except crypto.NotesKeyError:
        raise IntegrationError(
            "The note cannot be saved: the practice's notes key is not set up correctly. Tell your administrator "
            "(`kapstone check` names the problem)."
        ) from None
    note = PsychotherapyNote.objects.create(patient=patient, author=actor, ciphertext=ciphertext)
    audit.record(action=audit.Action.CREATE, patient=patient, object_type="psychotherapy_note", object_id=note.pk)
    return note


@transaction.atomic
def notification_preference_set(*, actor: User, patient: Patient, fields: dict[str, Any]) -> NotificationPreference:
    if patient.user_id != actor.pk:
        raise IntegrationError("Only the patient sets how they are contacted.")
    preference, _ = NotificationPreference.objects.get_or_create(patient=patient)
    for name, value in fields.items():
        setattr(preference, name, value)
    preference.full_clean()
    preference.save()
    audit.record(
        action=audit.Action.UPDATE,
        patient=patient,
        object_type="notification_preference",
        object_id=preference.pk,
        detail={"changed": sorted(fields)},
    )
    return preference


@dataclass(frozen=True)
class NotesRotation:
    reencrypted: int
    unreadable: list[int]


NOTES_ROTATION_BATCH = 200


# Not atomic as a whole: one transaction per batch, so the notes are locked only a batch at a time, never all at once.
def psychotherapy_notes_reencrypt(
    *, batch_size: int = NOTES_ROTATION_BATCH, progress: Callable[[str], None] | None = None
) -> NotesRotation:
    """Re-encrypts every psychotherapy note under the current (first) notes key, a batch per transaction, so
    therapists keep reading and writing notes while it runs (every configured key still opens them). A note no
    key opens is left as it is and named. Each batch is audited by note ids, never by content; `progress` is told
    the count after each batch."""
    crypto.configured_keys()  # a bad key setting stops here, before any note is touched
    total = PsychotherapyNote.objects.count() if progress else 0
    reencrypted, after = 0, 0
    unreadable: list[int] = []
    while True:
        with transaction.atomic():
            batch = list(PsychotherapyNote.objects.select_for_update().filter(pk__gt=after).order_by("pk")[:batch_size])
            if not batch:
                return NotesRotation(reencrypted, unreadable)
            changed = []
            for note in batch:
                try:
                    note.ciphertext = crypto.reencrypt(note.ciphertext)
                except crypto.UnreadableNote:
                    unreadable.append(note.pk)
                else:
                    changed.append(note)
            PsychotherapyNote.objects.bulk_update(changed, ["ciphertext"])
            if changed:
                audit.record(
                    action=audit.Action.UPDATE,
                    object_type="psychotherapy_note.key_rotation",
                    detail={"note_ids": [note.pk for note in changed]},
                )
            reencrypted += len(changed)
            after = batch[-1].pk
        if progress:
            progress(f"{reencrypted + len(unreadable):,} of about {total:,} notes")


# Not atomic: what it removes are files in storage, which no transaction can bring back; its one write to the
# database is the audit row naming them, made after they are gone.
def journal_orphan_uploads_remove(*, now: datetime.datetime | None = None) -> list[str]:
    """The sweep behind removed_if_not_saved: deletes the pictures a crash left without their row (see
    selectors.ORPHAN_UPLOAD_GRACE), and audits which, by file name only."""
    orphans = selectors.journal_uploads_check(now=now).orphans
    storage = JournalEntry._meta.get_field("image").storage
    for name in orphans:
        storage.delete(name)
    if orphans:
        audit.record(action=audit.Action.DELETE, object_type="journal_image.orphan", detail={"files": orphans})
    return orphans
