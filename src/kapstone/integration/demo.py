"""Demo data for integration: notification choices for the portal patients, an integration window for every dose
the dosing demo gave, and the integration work done in each, so the adherence figures look like a practice's.

Integration work counts the way the integration selectors count it: a clinician's note for the patient at the
integration session that follows the dosing session (the record that they attended), or the patient's first
journal entry after the dose. Each window draws, from the demo's seeded random numbers, whether its work came
within the preferred window (mostly: at the group's integration session, or in the journal when the course
has no session after that dose), within the outer bound only (a journal entry after the session was missed),
or late (a journal entry days later, or none). The mix is invented, not drawn from any study; the hours are
the practice's window settings (window.yaml). The portal patients' own entries follow their latest dose.
Everything is written in bulk, so 10,000 patients stay fast.
"""

import datetime

from django.db.models import F, OuterRef, Subquery
from django.utils import timezone

from kapstone.dosing.models import DoseRecord
from kapstone.integration.models import IntegrationNote, IntegrationWindow, JournalEntry, NotificationPreference
from kapstone.integration.selectors import practice_window_settings
from kapstone.program.models import GroupSession

SEEDS_AFTER = ("kapstone.dosing",)
BATCH = 5000
# The synthetic mix of windows by how their work went: within the preferred window, within the outer bound, late.
MIX = {"preferred": 0.8, "outer": 0.13, "late": 0.07}
LATE_WITH_AN_ENTRY = 0.5  # of the late windows, those where the patient wrote at all
ALSO_JOURNALLED = 0.3  # of the windows with a session note, those where the patient also wrote within a day

PORTAL_ENTRIES = [
    # hours after the latest dose, prompt, text, mood, activity, minutes
    (20, JournalEntry.Prompt.INSIGHTS, "Felt very far away, then close to my grandmother's kitchen.", 6, "", None),
    (30, JournalEntry.Prompt.EMOTIONS, "Sad in a soft way. Relieved.", 5, "writing", 20),
    (100, JournalEntry.Prompt.CHANGED, "Walked without headphones. Noticed birds.", 7, "movement", 35),
    (200, JournalEntry.Prompt.FREE, "", 6, "drawing", 45),
]
PORTAL_INTENTION = "I want to meet the part of me that is tired with kindness."
ENTRY_TEXTS = [
    (JournalEntry.Prompt.INSIGHTS, "Noticed how much I hold my breath when I am worried."),
    (JournalEntry.Prompt.INSIGHTS, "A memory of the lake came back, and it was not frightening."),
    (JournalEntry.Prompt.EMOTIONS, "Tender and tired. Some relief underneath."),
    (JournalEntry.Prompt.EMOTIONS, "Restless in the morning, calmer after a walk."),
    (JournalEntry.Prompt.CHANGED, "Called my sister for the first time in months."),
    (JournalEntry.Prompt.FREE, "Sat in the garden and did not check my phone."),
]
NOTE_TEXTS = [
    "Attended the integration group; shared imagery from the session and linked it to grief.",
    "Attended; described the session as calm. Discussed sleep and a walking routine.",
    "Attended; found the session hard to put into words. Agreed to journal before the next dose.",
    "Attended; spoke about feeling less critical of themself this week.",
]


def _entry(rng, patient_id: int, at: datetime.datetime, window_id: int | None) -> JournalEntry:
    prompt, text = rng.choice(ENTRY_TEXTS)
    shared = rng.random() < 0.5
    return JournalEntry(
        patient_id=patient_id,
        window_id=window_id,
        prompt=prompt,
        text=text,
        mood=rng.randint(3, 9),
        shared_with_care_team=shared,
        shared_at=at if shared else None,
        created_at=at,
    )


def _work(rng, *, therapist, now) -> tuple[int, int]:
    """Notes and journal entries for every closed window; returns how many of each it wrote."""
    settings = practice_window_settings()
    preferred = datetime.timedelta(hours=settings["preferred_hours"])
    outer = datetime.timedelta(hours=settings["outer_hours"])
    hour = datetime.timedelta(hours=1)
    following = {
        dosing_id: (session_id, starts_at)
        for session_id, dosing_id, starts_at in GroupSession.objects.filter(
            kind=GroupSession.Kind.INTEGRATION, follows_dosing__isnull=False
        )
        .order_by("-starts_at")
        .values_list("pk", "follows_dosing_id", "starts_at")
    }
    notes, entries = [], []
    windows = IntegrationWindow.objects.order_by("dosed_at", "pk").values_list(
        "pk", "patient_id", "dosing_session_id", "dosed_at"
    )
    for window_id, patient_id, dosing_id, dosed_at in windows.iterator(chunk_size=BATCH):
        if dosed_at + outer > now:
            continue  # still open: nothing is due yet
        kind = rng.choices(list(MIX), weights=list(MIX.values()))[0]
        session = following.get(dosing_id)  # the integration session after the dose and its start, if any
        if kind == "preferred" and session is not None and dosed_at <= session[1] <= dosed_at + preferred:
            notes.append(
                IntegrationNote(
                    patient_id=patient_id, session_id=session[0], author=therapist, text=rng.choice(NOTE_TEXTS)
                )
            )
            if rng.random() < ALSO_JOURNALLED:
                entries.append(_entry(rng, patient_id, dosed_at + rng.uniform(4, 24) * hour, window_id))
        elif kind == "preferred":
            entries.append(_entry(rng, patient_id, dosed_at + rng.uniform(4, 46) * hour, window_id))
        elif kind == "outer":
            entries.append(_entry(rng, patient_id, dosed_at + preferred + rng.uniform(1, 23) * hour, window_id))
        elif rng.random() < LATE_WITH_AN_ENTRY:
            entries.append(_entry(rng, patient_id, dosed_at + outer + rng.uniform(6, 72) * hour, None))
    IntegrationNote.objects.bulk_create(notes, batch_size=BATCH)
    JournalEntry.objects.bulk_create(entries, batch_size=BATCH)
    # A note is written as the session ends; created_at stamps "now" on insert, so it is set from the session
    # (the demo builds on an empty practice, so every note is the demo's).
    IntegrationNote.objects.update(
        created_at=Subquery(GroupSession.objects.filter(pk=OuterRef("session_id")).values("ends_at")[:1])
    )
    return len(notes), len(entries)


def _portal_entries(rng, portal_patients, now) -> int:
    """The portal patients' handwritten entries, after their latest dose, and an intention before the next one."""
    outer_hours = practice_window_settings()["outer_hours"]
    entries = []
    for patient in portal_patients:
        latest = IntegrationWindow.objects.filter(patient=patient, dosed_at__lte=now).order_by("-dosed_at").first()
        if latest is None:
            continue
        for hours, prompt, text, mood, activity, minutes in PORTAL_ENTRIES:
            at = latest.dosed_at + datetime.timedelta(hours=hours, minutes=rng.randint(0, 50))
            if at >= now:
                continue
            entries.append(
                JournalEntry(
                    patient=patient,
                    window=latest if hours <= outer_hours else None,
                    prompt=prompt,
                    text=text,
                    mood=mood,
                    activity=activity,
                    activity_minutes=minutes,
                    created_at=at,
                )
            )
        entries.append(
            JournalEntry(
                patient=patient,
                prompt=JournalEntry.Prompt.INTENTION,
                text=PORTAL_INTENTION,
                created_at=now - datetime.timedelta(hours=rng.randint(12, 20)),
            )
        )
    JournalEntry.objects.bulk_create(entries)
    return len(entries)


def seed(*, practice, rng, progress) -> None:
    now = timezone.now()
    portal_patients = [patient for patient in practice.patients if patient.user_id][:4]
    NotificationPreference.objects.bulk_create(
        [
            # One patient chose text messages, so the demo shows the console SMS provider at work.
            NotificationPreference(patient=patient, by_sms=index == 0, by_email=index != 0)
            for index, patient in enumerate(portal_patients)
        ],
        ignore_conflicts=True,
    )
    windows = _windows_for_given_doses()
    notes, entries = _work(rng, therapist=practice.staff["dr.lindqvist"], now=now)
    entries += _portal_entries(rng, portal_patients, now)
    progress(f"integration: {windows} windows, {notes} session notes, {entries} journal entries")


def _windows_for_given_doses() -> int:
    """Windows for doses the dosing demo recorded directly, opened when the dose was given (window_open opens
    them then; opened_at stamps "now" on insert, so it is set from the dose)."""
    doses = DoseRecord.objects.filter(administered_at__isnull=False, integration_window__isnull=True).values_list(
        "pk", "patient_id", "session_id", "administered_at"
    )
    windows = [
        IntegrationWindow(dose_record_id=pk, patient_id=patient, dosing_session_id=session, dosed_at=at)
        for pk, patient, session, at in doses.iterator(chunk_size=BATCH)
        if at is not None  # always: the query reads only doses given
    ]
    IntegrationWindow.objects.bulk_create(windows, batch_size=BATCH, ignore_conflicts=True)
    IntegrationWindow.objects.update(opened_at=F("dosed_at"))  # an empty practice: every window is the demo's
    return len(windows)
