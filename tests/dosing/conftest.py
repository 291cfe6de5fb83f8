import datetime
from decimal import Decimal

import pytest

from kapstone.dosing import services


@pytest.fixture
def session(cast):
    return cast.dosing_session()


@pytest.fixture
def stock(cast):
    entry = services.lot_receive(
        actor=cast.nurse,
        drug="ketamine",
        form="100 mg lozenge",
        lot_number="L-001",
        expires_on=datetime.date(2030, 1, 1),
        location="Main safe",
        amount_mg=Decimal("2000"),
    )
    return entry.lot.balances.get()


@pytest.fixture
def ready_record(cast, session):
    """Alice checked in with pre-dose vitals and a 200 mg sublingual order."""
    record = services.dose_record_open(actor=cast.nurse, session=session, patient=cast.alice)
    services.check_in(
        actor=cast.nurse,
        record=record,
        fasting_confirmed=True,
        escort_arranged=True,
        pregnancy_test="n/a",
        intention="to be kinder to myself",
        weight_kg=Decimal("70"),
    )
    services.vitals_record(
        actor=cast.nurse, record=record, phase="pre", systolic=122, diastolic=78, heart_rate=70, spo2=98
    )
    services.dose_order(actor=cast.bob, record=record, route="sublingual", dose_mg=Decimal("200"))
    return record
