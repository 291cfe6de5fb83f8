"""Today's weight in kg or pounds, and a weight that reads like the last one in the other unit: a per-kg ceiling on
a weight taken in pounds would allow over twice the dose ([nist-sp-811] for the factor)."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from kapstone.dosing import safety, services
from kapstone.dosing.forms import CheckInForm
from kapstone.dosing.models import DoseRecord
from kapstone.screening import services as screening
from tests.dosing.helpers import checked_in
from tests.screening.helpers import intake


def check_in(cast, record, weight_kg, **extra):
    return checked_in(cast, record, weight_kg=weight_kg, **extra)


@pytest.fixture
def weighed_before(cast, earlier_dose):
    """Alice weighed 80 kg at the check-in of a dose three days ago."""
    earlier = earlier_dose(cast.alice, timezone.now() - datetime.timedelta(days=3))
    DoseRecord.objects.filter(pk=earlier.pk).update(weight_kg=Decimal("80"), checked_in_at=earlier.administered_at)
    return earlier


def test_the_factor_converts_both_ways():
    assert safety.kg_from_pounds(Decimal("176.4")) == Decimal("80.0")
    assert safety.pounds_from_kg(Decimal("80")) == Decimal("176.4")


@pytest.mark.parametrize(
    ("today", "last", "mixed_up"),
    [
        ("176.4", "80", True),  # today's in pounds
        ("80", "176.4", True),  # the last one was in pounds
        ("170", "80", True),  # in pounds, after losing some weight
        ("84", "80", False),
        ("120", "80", False),  # a large change, but no unit explains it
        ("250", "80", False),
    ],
)
def test_a_pounds_mix_up_is_told_by_the_ratio_either_way(today, last, mixed_up):
    assert safety.looks_like_a_pounds_mix_up(Decimal(today), Decimal(last)) is mixed_up


def test_a_weight_in_pounds_read_as_kg_is_refused_until_the_unit_is_checked(cast, session, weighed_before):
    record = services.dose_record_open(actor=cast.nurse, session=session, patient=cast.alice)
    with pytest.raises(services.DosingError, match=r"176\.4 kg \(388\.9 lb\), reads like the last one recorded \(80"):
        check_in(cast, record, Decimal("176.4"))
    record.refresh_from_db()
    assert record.weight_kg is None and record.checked_in_at is None
    check_in(cast, record, Decimal("80.5"))
    assert DoseRecord.objects.get(pk=record.pk).weight_kg == Decimal("80.5")


def test_a_clinician_who_checked_the_unit_may_record_the_weight(cast, session, weighed_before):
    record = services.dose_record_open(actor=cast.nurse, session=session, patient=cast.alice)
    check_in(cast, record, Decimal("176.4"), weight_confirmed=True)
    assert DoseRecord.objects.get(pk=record.pk).weight_kg == Decimal("176.4")
    # Checking in again with the same weight does not ask again.
    check_in(cast, record, Decimal("176.4"))


def test_without_an_earlier_check_in_the_screening_intake_s_weight_is_the_last_one(cast, session):
    data = intake()
    data["vitals"] = {**data.get("vitals", {}), "weight_kg": 80}
    screening.intake_save(actor=cast.bob, patient=cast.alice, data=data)
    record = services.dose_record_open(actor=cast.nurse, session=session, patient=cast.alice)
    with pytest.raises(services.DosingError, match="at the screening intake on"):
        check_in(cast, record, Decimal("176.4"))


def test_a_first_weight_is_taken_as_given(cast, session):
    record = services.dose_record_open(actor=cast.nurse, session=session, patient=cast.alice)
    check_in(cast, record, Decimal("176.4"))
    assert DoseRecord.objects.get(pk=record.pk).weight_kg == Decimal("176.4")


def form(**data):
    return CheckInForm({"pregnancy_test": "n/a", "medication_changes": "no", **data})


def test_the_form_stores_a_weight_in_pounds_as_kg():
    checked = form(weight="176.4", weight_unit="lb")
    assert checked.is_valid(), checked.errors
    assert checked.cleaned_data["weight_kg"] == Decimal("80.0")
    assert "weight" not in checked.cleaned_data and "weight_unit" not in checked.cleaned_data
    in_kg = form(weight="70")  # a form posted without a unit, as before there was one, is in kg
    assert in_kg.is_valid() and in_kg.cleaned_data["weight_kg"] == Decimal("70")


@pytest.mark.parametrize(("weight", "unit"), [("20", "kg"), ("400", "kg"), ("50", "lb"), ("800", "lb"), ("0", "kg")])
def test_a_weight_no_adult_has_in_its_unit_is_refused_naming_both(weight, unit):
    checked = form(weight=weight, weight_unit=unit)
    assert not checked.is_valid()
    assert checked.errors["weight"]


def test_the_room_takes_a_weight_in_pounds_and_says_when_one_reads_like_pounds(
    cast, checked_in, weighed_before, client_for
):
    prefix = f"p{cast.alice.pk}-checkin-"
    url = reverse("dosing:room_action", args=[checked_in.session.pk, cast.alice.pk, "checkin"])
    fields = {prefix + "pregnancy_test": "n/a", prefix + "medication_changes": "no"}
    # 80 kg three days ago; 176.4 "kg" today reads like it in pounds, and the room says so without saving it.
    response = client_for(cast.nurse).post(url, {**fields, prefix + "weight": "176.4"})
    assert response.status_code == 400 and "probably taken in pounds" in response.content.decode()
    assert DoseRecord.objects.get(pk=checked_in.pk).weight_kg == Decimal("70")
    response = client_for(cast.nurse).post(url, {**fields, prefix + "weight": "176.4", prefix + "weight_unit": "lb"})
    assert response.status_code == 302
    assert DoseRecord.objects.get(pk=checked_in.pk).weight_kg == Decimal("80.0")
