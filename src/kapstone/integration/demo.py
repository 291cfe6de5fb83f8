"""Demo data for integration: notification choices for the portal patients, a few journal entries, and an
integration window for every dose the dosing demo gave (in bulk, so 10,000 patients stay fast)."""

import datetime

from django.utils import timezone

from kapstone.integration.models import IntegrationWindow, JournalEntry, NotificationPreference

ENTRIES = [
    (JournalEntry.Prompt.INTENTION, "I want to meet the part of me that is tired with kindness.", None, "", None),
    (JournalEntry.Prompt.INSIGHTS, "Felt very far away, then close to my grandmother's kitchen.", 6, "", None),
    (JournalEntry.Prompt.EMOTIONS, "Sad in a soft way. Relieved.", 5, "writing", 20),
    (JournalEntry.Prompt.CHANGED, "Walked without headphones. Noticed birds.", 7, "movement", 35),
    (JournalEntry.Prompt.FREE, "", 6, "drawing", 45),
]


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
    entries = []
    for patient in portal_patients:
        for days_ago, (prompt, text, mood, activity, minutes) in zip((9, 8, 7, 5, 2), ENTRIES, strict=True):
            entries.append(
                JournalEntry(
                    patient=patient,
                    prompt=prompt,
                    text=text,
                    mood=mood,
                    activity=activity,
                    activity_minutes=minutes,
                    shared_with_care_team=rng.random() < 0.5,
                    created_at=now - datetime.timedelta(days=days_ago, hours=rng.randint(0, 10)),
                )
            )
    JournalEntry.objects.bulk_create(entries)
    windows = _windows_for_given_doses()
    progress(f"integration: {len(entries)} journal entries, {windows} integration windows")


def _windows_for_given_doses() -> int:
    """Windows for doses the dosing demo recorded directly (it may not exist yet: then there are none)."""
    from kapstone.dosing.models import DoseRecord

    doses = DoseRecord.objects.filter(administered_at__isnull=False, integration_window__isnull=True).values_list(
        "pk", "patient_id", "session_id", "administered_at"
    )
    windows = [
        IntegrationWindow(dose_record_id=pk, patient_id=patient, dosing_session_id=session, dosed_at=at)
        for pk, patient, session, at in doses.iterator(chunk_size=2000)
    ]
    IntegrationWindow.objects.bulk_create(windows, batch_size=2000, ignore_conflicts=True)
    return len(windows)
