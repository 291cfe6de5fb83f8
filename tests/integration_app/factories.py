"""Builders for integration tests: a given dose, journal entries and a small valid picture."""

import datetime
import io
from decimal import Decimal

from django.utils import timezone
from PIL import Image

from kapstone.dosing.models import DoseRecord
from kapstone.integration.models import JournalEntry


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
