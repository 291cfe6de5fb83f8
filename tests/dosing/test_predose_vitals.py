"""The latest pre-dose vitals reading: at a stop level it stops the order and the dose until a later reading is
within limits; at review level (above 140/90, Spravato REMS "consider delaying") the prescriber acknowledges it on
the order, and the acknowledgement is kept on the record and in the trail."""

import datetime
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from kapstone.audit.models import AuditEvent
from kapstone.dosing import services
from kapstone.dosing.models import DoseRecord, LedgerEntry
from tests.conftest import signed_in_client
from tests.dosing.helpers import signed

STOP_WARNING = "Cannot be dosed now: pre-dose vitals at a stop level"
REVIEW_WARNING = "Pre-dose BP to review before the dose"


def predose(cast, record, systolic, diastolic, *, heart_rate=72, spo2=98, minutes_ago=0):
    return services.vitals_record(
        actor=cast.nurse,
        record=record,
        phase="pre",
        systolic=systolic,
        diastolic=diastolic,
        heart_rate=heart_rate,
        spo2=spo2,
        taken_at=timezone.now() - datetime.timedelta(minutes=minutes_ago),
    )


def order(cast, record, **extra):
    return services.dose_order(actor=cast.bob, record=record, route="sublingual", dose_mg=Decimal("200"), **extra)


def give(cast, record, stock):
    return services.dose_administer(actor=cast.nurse, record=record, balance=stock, witness=signed(cast.bob))


def alice_card(cast, session) -> str:
    page = signed_in_client(cast.bob).get(reverse("dosing:room", args=[session.pk])).content.decode()
    return re.search(rf'<section [^>]*id="patient-{cast.alice.pk}".*?</section>', page, re.S).group(0)


def post_order(cast, session, **fields):
    prefix = f"p{cast.alice.pk}-order-"
    return signed_in_client(cast.bob).post(
        reverse("dosing:room_action", args=[session.pk, cast.alice.pk, "order"]),
        {prefix + "route": "sublingual", prefix + "dose_mg": "200", **{prefix + k: v for k, v in fields.items()}},
    )


# A stop level ----------------------------------------------------------------------------------------------


def test_a_stop_level_pre_dose_reading_refuses_the_order_naming_the_reading(cast, checked_in):
    predose(cast, checked_in, 200, 120)
    with pytest.raises(
        services.DosingError,
        match=r"Pre-dose vitals at \d\d:\d\d \(BP 200/120 at or above the stop threshold 180/100\) are at a stop "
        r"level: do not dose; re-check vitals\.",
    ):
        order(cast, checked_in)
    checked_in.refresh_from_db()
    assert checked_in.dose_mg is None and checked_in.ordered_at is None


def test_a_stop_level_pre_dose_reading_after_the_order_refuses_the_dose(cast, checked_in, stock):
    predose(cast, checked_in, 124, 80, minutes_ago=10)
    order(cast, checked_in)
    predose(cast, checked_in, 124, 80, heart_rate=130)
    with pytest.raises(services.DosingError, match=r"Heart rate 130 above 110\) are at a stop level: do not dose"):
        give(cast, checked_in, stock)
    checked_in.refresh_from_db()
    stock.refresh_from_db()
    assert checked_in.administered_at is None and stock.balance_mg == Decimal("2000")
    assert not LedgerEntry.objects.filter(kind="administration").exists()


def test_a_later_pre_dose_reading_within_limits_clears_the_stop(cast, checked_in, stock):
    predose(cast, checked_in, 200, 120, minutes_ago=15)
    predose(cast, checked_in, 128, 82)
    order(cast, checked_in)
    give(cast, checked_in, stock)
    assert DoseRecord.objects.get(pk=checked_in.pk).administered_at is not None


def test_the_room_shows_the_stop_before_anyone_acts_in_the_words_of_the_refusal(cast, checked_in):
    predose(cast, checked_in, 200, 120)
    alice = alice_card(cast, checked_in.session)
    with pytest.raises(services.DosingError) as refusal:
        order(cast, checked_in)
    assert f'<h3 id="vitals-{cast.alice.pk}">⚠ {STOP_WARNING}</h3>' in alice
    assert str(refusal.value) in alice


def test_a_refused_order_through_the_room_is_explained_and_nothing_is_saved(cast, checked_in):
    predose(cast, checked_in, 200, 120)
    response = post_order(cast, checked_in.session)
    assert response.status_code == 400 and "do not dose; re-check vitals" in response.content.decode()
    assert DoseRecord.objects.get(pk=checked_in.pk).dose_mg is None
    assert not AuditEvent.objects.filter(object_type="dose_record.order").exists()


# A review level --------------------------------------------------------------------------------------------


def test_a_review_level_pre_dose_reading_needs_the_prescribers_acknowledgement_to_order(cast, checked_in):
    predose(cast, checked_in, 150, 92)
    with pytest.raises(services.DosingError, match=r'above 140/90: consider delaying.*Tick "I have reviewed the pre'):
        order(cast, checked_in)
    assert DoseRecord.objects.get(pk=checked_in.pk).dose_mg is None


def test_an_acknowledged_review_is_kept_on_the_record_and_in_the_trail(cast, checked_in, stock):
    reading = predose(cast, checked_in, 150, 92)
    order(cast, checked_in, predose_bp_reviewed=True)
    record = DoseRecord.objects.get(pk=checked_in.pk)
    assert record.predose_review_reading == reading and record.dose_mg == Decimal("200")
    detail = AuditEvent.objects.get(object_type="dose_record.order").detail_data
    assert detail["predose_bp_reviewed"] == {"reading_id": reading.pk, "alerts": reading.alert_messages}
    give(cast, record, stock)
    assert DoseRecord.objects.get(pk=record.pk).administered_at is not None


def test_no_acknowledgement_is_asked_or_recorded_when_the_pre_dose_reading_is_within_limits(cast, checked_in):
    predose(cast, checked_in, 150, 92, minutes_ago=10)
    predose(cast, checked_in, 128, 80)
    order(cast, checked_in)
    assert DoseRecord.objects.get(pk=checked_in.pk).predose_review_reading is None
    assert "predose_bp_reviewed" not in AuditEvent.objects.get(object_type="dose_record.order").detail_data


def test_a_review_level_reading_taken_after_the_order_holds_the_dose_until_it_is_acknowledged(cast, checked_in, stock):
    predose(cast, checked_in, 124, 80, minutes_ago=10)
    order(cast, checked_in)
    predose(cast, checked_in, 152, 94)
    with pytest.raises(services.DosingError, match="Order the dose again with the pre-dose BP marked as reviewed"):
        give(cast, checked_in, stock)
    order(cast, checked_in, predose_bp_reviewed=True)
    give(cast, checked_in, stock)


def test_the_order_form_offers_the_acknowledgement_only_at_review_level(cast, checked_in):
    predose(cast, checked_in, 124, 80, minutes_ago=10)
    assert "I have reviewed the pre-dose BP" not in alice_card(cast, checked_in.session)
    predose(cast, checked_in, 150, 92)
    alice = alice_card(cast, checked_in.session)
    assert f'<h3 id="review-{cast.alice.pk}">⚠ {REVIEW_WARNING}</h3>' in alice
    assert "Pre-dose BP 150/92 above 140/90: consider delaying the dose" in alice
    assert "I have reviewed the pre-dose BP" in alice


def test_an_order_through_the_room_without_the_acknowledgement_is_refused_and_with_it_is_saved(cast, checked_in):
    reading = predose(cast, checked_in, 150, 92)
    refused = post_order(cast, checked_in.session)
    assert refused.status_code == 400 and "I have reviewed the pre-dose BP" in refused.content.decode()
    assert DoseRecord.objects.get(pk=checked_in.pk).dose_mg is None
    assert post_order(cast, checked_in.session, predose_bp_reviewed="on").status_code == 302
    assert DoseRecord.objects.get(pk=checked_in.pk).predose_review_reading == reading
    assert "Pre-dose BP reviewed</strong> by Bob" in alice_card(cast, checked_in.session)
