import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from kapstone.dosing import services
from kapstone.dosing.models import DoseRecord
from kapstone.patients.services import childbearing_record
from tests.dosing.helpers import NO_RISK_SCREEN, receive_stock, session_of_another_group
from tests.screening.helpers import ready_for_enrolment


@pytest.fixture(autouse=True)
def practice_at_midday(settings):
    """Puts the practice in the time zone where it is now about midday. The room gives doses only on the session's
    own day, and these tests give doses up to a few hours before now in a session starting now: run near the
    practice's midnight, "two hours ago" would be yesterday."""
    hours_ahead_of_utc = 12 - timezone.now().astimezone(datetime.UTC).hour
    # POSIX-style names: Etc/GMT-5 is five hours ahead of UTC.
    settings.TIME_ZONE = f"Etc/GMT{-hours_ahead_of_utc:+d}"


@pytest.fixture
def session(cast):
    """Today's dosing session, with alice through the enrolment gate (screened eligible, consulted, consented) and
    her record documenting no childbearing potential (so her pregnancy test may be marked not applicable)."""
    ready_for_enrolment(cast)
    childbearing_record(actor=cast.bob, patient=cast.alice, potential="no")
    cast.alice.refresh_from_db()
    return cast.dosing_session()


@pytest.fixture
def stock(cast):
    entry = receive_stock(
        actor=cast.nurse,
        drug="ketamine",
        form="lozenge",
        strength=Decimal("100"),
        lot_number="L-001",
        expires_on=datetime.date(2030, 1, 1),
        location="Main safe",
        amount_mg=Decimal("2000"),
    )
    return entry.lot.balances.get()


@pytest.fixture
def checked_in(cast, session):
    """Alice checked in (no medication changes, a same-day suicide screen with every answer no), without vitals
    yet."""
    record = services.dose_record_open(actor=cast.nurse, session=session, patient=cast.alice)
    services.check_in(
        actor=cast.nurse,
        record=record,
        fasting_confirmed=True,
        escort_arranged=True,
        pregnancy_test="n/a",
        intention="to be kinder to myself",
        weight_kg=Decimal("70"),
        medication_changes="no",
    )
    services.risk_assessment_record(actor=cast.nurse, record=record, answers=NO_RISK_SCREEN)
    return record


@pytest.fixture
def ready_record(cast, checked_in):
    """Alice checked in with pre-dose vitals and a 200 mg sublingual order."""
    record = checked_in
    services.vitals_record(
        actor=cast.nurse, record=record, phase="pre", systolic=122, diastolic=78, heart_rate=70, spo2=98
    )
    services.dose_order(actor=cast.bob, record=record, route="sublingual", dose_mg=Decimal("200"))
    return record


@pytest.fixture
def earlier_dose(cast):
    """Records a dose already given to a patient at `at`, in a session of another group."""

    def given(patient, at: datetime.datetime) -> DoseRecord:
        return DoseRecord.objects.create(
            session=session_of_another_group(at, name=f"Other group {at:%Y%m%d%H%M%S}"),
            patient=patient,
            route="sublingual",
            dose_mg=Decimal("200"),
            checked_in_at=at - datetime.timedelta(minutes=30),
            administered_at=at,
        )

    return given
