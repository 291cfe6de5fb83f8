"""Builders for integration tests: a given dose, an integration session, journal entries and a small valid picture."""

import datetime
import io
from decimal import Decimal

from django.utils import timezone
from PIL import Image

from kapstone.dosing.models import DoseRecord
from kapstone.integration.models import JournalEntry
from kapstone.program.models import GroupSession


def png_bytes(size=(8, 8), color=(200, 120, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def given_dose(cast, *, at: datetime.datetime | None = None) -> DoseRecord:
    """Alice's dose at the cast's dosing session, recorded as given (without the room's checklist)."""
    session = cast.dosing_session()
    record, _ = DoseRecord.objects.get_or_create(session=session, patient=cast.alice)
    record.route, record.dose_mg = "sublingual", Decimal("200")
    record.administered_at = at or timezone.now()
    record.save()
    return record


def integration_session_after(dosing: GroupSession, *, hours: int) -> GroupSession:
    """The dosing session's group's first integration session, two hours long, `hours` after the dose."""
    starts_at = dosing.starts_at + datetime.timedelta(hours=hours)
    return GroupSession.objects.create(
        group=dosing.group,
        kind=GroupSession.Kind.INTEGRATION,
        number=1,
        starts_at=starts_at,
        ends_at=starts_at + datetime.timedelta(hours=2),
        follows_dosing=dosing,
    )


def journal_entry(patient, *, text="", shared=False, at=None, **fields) -> JournalEntry:
    at = at or timezone.now()
    return JournalEntry.objects.create(
        patient=patient,
        text=text,
        shared_with_care_team=shared,
        shared_at=at if shared else None,
        created_at=at,
        **fields,
    )
