"""Clinical-case probes at the boundaries of the dosing room's and the controlled-substance log's rules: each
threshold just at and just past its value, absurd input through the service and the room, and the record kept."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from kapstone.alerts.models import CriticalAlert
from kapstone.dosing import ledger_rules, services
from kapstone.dosing.models import DoseRecord, LedgerEntry, VitalsReading
from kapstone.measures import services as measures
from kapstone.patients.models import Patient
from kapstone.practice.settings_store import practice_value_set
from kapstone.program.models import Enrolment, GroupSession
from tests.dosing.helpers import receive_stock, signed, signing


def reading(cast, record, *, systolic=120, diastolic=80, heart_rate=72, spo2=98, rr=None, phase="pre", taken_at=None):
    return services.vitals_record(
        actor=cast.nurse,
        record=record,
        phase=phase,
        systolic=systolic,
        diastolic=diastolic,
        heart_rate=heart_rate,
        spo2=spo2,
        respiratory_rate=rr,
        taken_at=taken_at,
    )


# Pre-dose vitals at each threshold --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "vitals,level",
    [
        ({"systolic": 140, "diastolic": 90}, ""),
        ({"systolic": 141, "diastolic": 90}, "review"),
        ({"systolic": 140, "diastolic": 91}, "review"),
        ({"systolic": 179, "diastolic": 99}, "review"),
        ({"systolic": 180, "diastolic": 99}, "stop"),
        ({"systolic": 179, "diastolic": 100}, "stop"),
        ({"heart_rate": 100}, ""),
        ({"heart_rate": 101}, "review"),
        ({"heart_rate": 110}, "review"),
        ({"heart_rate": 111}, "stop"),
        ({"heart_rate": 50}, ""),
        ({"heart_rate": 49}, "review"),
        ({"systolic": 90, "diastolic": 60}, ""),
        ({"systolic": 89, "diastolic": 60}, "review"),
        ({"spo2": 94}, ""),
        ({"spo2": 93}, "review"),
        ({"spo2": 90}, "review"),
        ({"spo2": 89}, "stop"),
        ({"rr": 12}, ""),
        ({"rr": 11}, "review"),
        ({"rr": 8}, "review"),
        ({"rr": 7}, "stop"),
        ({"rr": 20}, ""),
        ({"rr": 21}, "review"),
    ],
)
def test_pre_dose_readings_at_and_past_each_threshold(cast, checked_in, vitals, level):
    assert reading(cast, checked_in, **vitals).alert_level == level


def test_a_pre_dose_reading_at_140_90_orders_without_an_acknowledgement_and_141_needs_one(cast, checked_in):
    reading(cast, checked_in, systolic=140, diastolic=90)
    services.dose_order(actor=cast.bob, record=checked_in, route="sublingual", dose_mg=Decimal("200"))
    reading(cast, checked_in, systolic=141, diastolic=90)
    with pytest.raises(services.DosingError, match="review them before ordering"):
        services.dose_order(actor=cast.bob, record=checked_in, route="sublingual", dose_mg=Decimal("200"))


@pytest.mark.parametrize(
    "bad",
    [
        {"systolic": 0},
        {"systolic": 400},
        {"systolic": -5},
        {"heart_rate": 0},
        {"spo2": 101},
        {"rr": 0},
        {"diastolic": 130, "systolic": 120},
    ],
)
def test_absurd_vitals_through_the_service_are_refused_and_nothing_is_saved(cast, checked_in, bad):
    with pytest.raises((services.DosingError, ValidationError)):
        reading(cast, checked_in, **bad)
    assert not VitalsReading.objects.filter(record=checked_in).exists()


@pytest.mark.parametrize(
    "data",
    [
        {"systolic": "0"},
        {"systolic": "400"},
        {"systolic": "-5"},
        {"systolic": ""},
        {"systolic": "1e3"},
        {"heart_rate": "seventy"},
        {"spo2": ""},
        {"phase": "later"},
        {"respiratory_rate": "0"},
    ],
)
def test_absurd_vitals_through_the_room_are_refused_with_a_message_and_nothing_is_saved(
    cast, checked_in, client_for, data
):
    prefix = f"p{cast.alice.pk}-vitals-"
    fields = {"phase": "pre", "systolic": "120", "diastolic": "80", "heart_rate": "70", "spo2": "98", **data}
    response = client_for(cast.nurse).post(
        reverse("dosing:room_action", args=[checked_in.session_id, cast.alice.pk, "vitals"]),
        {prefix + k: v for k, v in fields.items()},
    )
    assert response.status_code == 400
    assert not VitalsReading.objects.filter(record=checked_in).exists()


def test_a_dose_is_not_given_without_pre_dose_vitals(cast, checked_in, stock):
    services.dose_order(actor=cast.bob, record=checked_in, route="sublingual", dose_mg=Decimal("200"))
    with pytest.raises(services.DosingError, match="no pre-dose vitals"):
        services.dose_administer(actor=cast.nurse, record=checked_in, balance=stock, witness=signed(cast.bob))


# Doses and ceilings ---------------------------------------------------------------------------------------------


def test_the_sublingual_ceiling_admits_400_mg_and_refuses_400_1(cast, checked_in):
    reading(cast, checked_in)
    with pytest.raises(services.DosingError, match="above the practice ceiling of 400"):
        services.dose_order(actor=cast.bob, record=checked_in, route="sublingual", dose_mg=Decimal("400.1"))
    assert services.dose_order(actor=cast.bob, record=checked_in, route="sublingual", dose_mg=Decimal("400")).within


def _check_in(cast, record, *, weight_kg):
    """The pre-dose checklist done but for the weight, which each test below sets (or leaves out) itself."""
    services.check_in(
        actor=cast.nurse,
        record=record,
        fasting_confirmed=True,
        escort_arranged=True,
        pregnancy_test="n/a",
        intention="",
        weight_kg=weight_kg,
        medication_changes="no",
    )


def test_an_iv_order_needs_todays_weight_and_stays_within_0_75_mg_per_kg(cast, session):
    record = services.dose_record_open(actor=cast.nurse, session=session, patient=cast.alice)
    _check_in(cast, record, weight_kg=None)
    with pytest.raises(services.DosingError, match="Record today's weight"):
        services.dose_order(actor=cast.bob, record=record, route="iv", dose_mg=Decimal("50"))
    record.weight_kg = Decimal("70")
    record.save()
    with pytest.raises(services.DosingError, match="above the practice ceiling"):
        services.dose_order(actor=cast.bob, record=record, route="iv", dose_mg=Decimal("52.6"))
    assert services.dose_order(actor=cast.bob, record=record, route="iv", dose_mg=Decimal("52.5")).within


@pytest.mark.parametrize("weight", [Decimal("0"), Decimal("-70"), Decimal("5000")])
def test_an_absurd_weight_is_refused_at_check_in_and_nothing_is_saved(cast, session, weight):
    record = services.dose_record_open(actor=cast.nurse, session=session, patient=cast.alice)
    with pytest.raises((services.DosingError, ValidationError)):
        _check_in(cast, record, weight_kg=weight)
    record.refresh_from_db()
    assert record.weight_kg is None and record.checked_in_at is None


@pytest.mark.parametrize("dose", [Decimal("0"), Decimal("-10"), Decimal("NaN"), Decimal("Infinity")])
def test_an_absurd_dose_is_refused_by_the_service(cast, checked_in, dose):
    reading(cast, checked_in)
    with pytest.raises(services.DosingError):
        services.dose_order(actor=cast.bob, record=checked_in, route="sublingual", dose_mg=dose)
    checked_in.refresh_from_db()
    assert checked_in.dose_mg is None


@pytest.mark.parametrize("dose", ["0", "-5", "abc", "", "400.15", "1e9"])
def test_an_absurd_dose_through_the_room_is_refused_and_nothing_is_saved(cast, checked_in, client_for, dose):
    reading(cast, checked_in)
    prefix = f"p{cast.alice.pk}-order-"
    response = client_for(cast.bob).post(
        reverse("dosing:room_action", args=[checked_in.session_id, cast.alice.pk, "order"]),
        {prefix + "route": "sublingual", prefix + "dose_mg": dose},
    )
    assert response.status_code == 400
    checked_in.refresh_from_db()
    assert checked_in.dose_mg is None


def test_a_lozenge_lot_is_refused_for_an_im_dose_and_the_stock_is_untouched(cast, checked_in, stock):
    practice_value_set(actor=cast.admin, key="dosing.ceiling_im_mg_per_kg", value=0.5, reason="our IM protocol")
    reading(cast, checked_in, rr=14)
    services.dose_order(actor=cast.bob, record=checked_in, route="im", dose_mg=Decimal("35"))
    with pytest.raises(services.DosingError, match="A lozenge lot does not fit an intramuscular order"):
        services.dose_administer(actor=cast.nurse, record=checked_in, balance=stock, witness=signed(cast.bob))
    checked_in.refresh_from_db()
    assert checked_in.administered_at is None
    assert not LedgerEntry.objects.filter(kind="administration").exists()
    stock.refresh_from_db()
    assert stock.balance_mg == Decimal("2000")


# The gate on the record's facts -------------------------------------------------------------------------------


def test_a_patient_under_18_on_the_corrected_record_is_not_checked_in(cast, session):
    today = timezone.localdate()
    Patient.objects.filter(pk=cast.alice.pk).update(date_of_birth=today.replace(year=today.year - 17))
    record = services.dose_record_open(actor=cast.nurse, session=session, patient=cast.alice)
    with pytest.raises(services.DosingError, match="the patient is 17"):
        _check_in(cast, record, weight_kg=None)


def test_a_patient_who_turned_65_today_is_held_until_a_screening_reviews_it(cast, ready_record):
    today = timezone.localdate()
    Patient.objects.filter(pk=cast.alice.pk).update(date_of_birth=today.replace(year=today.year - 65))
    with pytest.raises(services.DosingError, match="the patient is 65"):
        services.dose_order(actor=cast.bob, record=ready_record, route="sublingual", dose_mg=Decimal("200"))


def test_a_patient_who_turns_65_tomorrow_is_not_held(cast, ready_record):
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    Patient.objects.filter(pk=cast.alice.pk).update(date_of_birth=tomorrow.replace(year=tomorrow.year - 65))
    services.dose_order(actor=cast.bob, record=ready_record, route="sublingual", dose_mg=Decimal("200"))


# Discharge -------------------------------------------------------------------------------------------------------


@pytest.fixture
def given(cast, ready_record, stock):
    at = timezone.now() - datetime.timedelta(minutes=125)
    services.dose_administer(
        actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob), administered_at=at
    )
    return ready_record, at


def discharge(cast, record, now=None):
    return services.discharge(
        actor=cast.nurse, record=record, vitals_ok=True, alert_oriented=True, escort_present=True, now=now
    )


def test_discharge_at_119_minutes_is_refused_and_at_120_allowed(cast, given):
    record, at = given
    services.ratings_record(actor=cast.nurse, record=record, sedation_moaas=5, dissociation_cadss=0)
    reading(cast, record, phase="peak", taken_at=at + datetime.timedelta(minutes=40))
    reading(cast, record, phase="discharge")
    with pytest.raises(services.DosingError, match="observed 119 of the minimum 120"):
        discharge(cast, record, now=at + datetime.timedelta(minutes=119))
    assert discharge(cast, record, now=at + datetime.timedelta(minutes=120)).discharged_at


def test_discharge_with_moaas_below_baseline_is_refused(cast, given):
    record, at = given
    services.ratings_record(actor=cast.nurse, record=record, sedation_moaas=4, dissociation_cadss=0)
    reading(cast, record, phase="peak", taken_at=at + datetime.timedelta(minutes=40))
    reading(cast, record, phase="discharge")
    with pytest.raises(services.DosingError, match="MOAA/S 4, needs 5"):
        discharge(cast, record)


def test_discharge_with_the_last_vitals_at_review_level_is_refused(cast, given):
    record, at = given
    services.ratings_record(actor=cast.nurse, record=record, sedation_moaas=5, dissociation_cadss=0)
    reading(cast, record, phase="peak", taken_at=at + datetime.timedelta(minutes=40))
    reading(cast, record, phase="discharge", systolic=165, diastolic=85)
    with pytest.raises(services.DosingError, match="outside the practice's limits"):
        discharge(cast, record)


def test_a_stop_level_reading_after_the_dose_holds_the_discharge_until_its_alert_is_acknowledged(
    cast, given, django_capture_on_commit_callbacks
):
    record, at = given
    services.ratings_record(actor=cast.nurse, record=record, sedation_moaas=5, dissociation_cadss=0)
    with django_capture_on_commit_callbacks(execute=True):
        reading(cast, record, phase="peak", systolic=190, diastolic=112, taken_at=at + datetime.timedelta(minutes=40))
    reading(cast, record, phase="discharge")
    with pytest.raises(services.DosingError, match="stop-level vitals .* not yet acknowledged"):
        discharge(cast, record)
    record.refresh_from_db()
    assert record.discharged_at is None
    alert = CriticalAlert.objects.get(kind="vitals_stop", patient=cast.alice)
    measures.alert_acknowledge(actor=cast.bob, alert=alert, note="Treated; BP back to baseline, reviewed.")
    assert discharge(cast, record).discharged_at is not None


# The controlled-substance log ---------------------------------------------------------------------------------


def test_waste_signed_by_one_person_twice_is_refused(cast, given):
    record, _ = given
    with pytest.raises(services.DosingError, match="another person"):
        services.waste_record(
            actor=cast.nurse, witness=signed(cast.nurse), dose_record=record, amount_mg=Decimal("10"), method="sink"
        )


def test_on_site_destruction_needs_two_witnesses_other_than_the_recorder_and_each_other(cast, stock):
    from tests.dosing.helpers import registered_location

    location = registered_location("Main safe")
    common = {
        "actor": cast.nurse,
        "location": location,
        "method": "on_site",
        "disposed_on": timezone.localdate(),
        "items": [(stock, Decimal("100"))],
        "form41_details": "Form 41, rendered non-retrievable",
    }
    with pytest.raises(services.DosingError, match="two different staff"):
        services.disposal_record(witness=signed(cast.bob), second_witness=signed(cast.bob), **common)
    with pytest.raises(services.DosingError, match="another person"):
        services.disposal_record(witness=signed(cast.bob), second_witness=signed(cast.nurse), **common)
    stock.refresh_from_db()
    assert stock.balance_mg == Decimal("2000")


def test_a_dose_larger_than_the_lot_holds_is_refused_and_nothing_is_written(cast, ready_record):
    small = receive_stock(
        actor=cast.nurse,
        drug="ketamine",
        form="lozenge",
        strength=Decimal("100"),
        lot_number="SMALL",
        expires_on=datetime.date(2030, 1, 1),
        location="Main safe",
        amount_mg=Decimal("100"),
    ).lot.balances.get()
    with pytest.raises(services.DosingError, match="Only 100"):
        services.dose_administer(actor=cast.nurse, record=ready_record, balance=small, witness=signed(cast.bob))
    ready_record.refresh_from_db()
    assert ready_record.administered_at is None and ready_record.lot is None


@pytest.mark.parametrize(
    "discovered,due",
    [
        (datetime.date(2026, 12, 4), datetime.date(2026, 12, 7)),  # Friday -> Monday
        (datetime.date(2026, 12, 5), datetime.date(2026, 12, 7)),  # Saturday -> Monday
        (datetime.date(2026, 12, 7), datetime.date(2026, 12, 8)),  # Monday -> Tuesday
    ],
)
def test_the_loss_report_is_due_one_business_day_after_discovery(discovered, due):
    assert ledger_rules.form106_due_on(discovered) == due


def test_a_dose_record_with_a_ledger_entry_cannot_be_deleted(cast, given):
    record, _ = given
    with pytest.raises(Exception):  # noqa: B017, PT011 - PROTECT or the database's own refusal
        DoseRecord.objects.filter(pk=record.pk).delete()
    assert DoseRecord.objects.filter(pk=record.pk).exists()


# Who is in the session -----------------------------------------------------------------------------------------


def test_a_patient_not_enrolled_in_the_sessions_group_gets_no_dose_record(cast, session):
    with pytest.raises(services.DosingError, match="not enrolled"):
        services.dose_record_open(actor=cast.nurse, session=session, patient=cast.dana)
    assert not DoseRecord.objects.filter(patient=cast.dana).exists()


def test_a_session_that_is_not_a_dosing_session_gets_no_dose_record(cast, session):
    session.kind = GroupSession.Kind.PREPARATION
    session.save()
    with pytest.raises(services.DosingError, match="not a dosing session"):
        services.dose_record_open(actor=cast.nurse, session=session, patient=cast.alice)
    assert not DoseRecord.objects.exists()


def test_a_patient_withdrawn_from_the_group_after_check_in_is_neither_ordered_nor_dosed(cast, ready_record, stock):
    Enrolment.objects.filter(patient=cast.alice, group=ready_record.session.group).update(
        status=Enrolment.Status.WITHDRAWN
    )
    with pytest.raises(services.DosingError, match="not enrolled"):
        services.dose_order(actor=cast.bob, record=ready_record, route="sublingual", dose_mg=Decimal("200"))
    with pytest.raises(services.DosingError, match="not enrolled"):
        services.dose_administer(actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob))
    stock.refresh_from_db()
    assert stock.balance_mg == Decimal("2000")


# The log through its page -------------------------------------------------------------------------------------


def test_waste_through_the_page_signed_twice_by_one_nurse_is_refused_and_nothing_is_written(cast, given, client_for):
    record, _ = given
    response = client_for(cast.nurse).post(
        reverse("dosing:ledger_action", args=["waste"]),
        {
            "waste-dose_record": record.pk,
            "waste-amount_mg": "10",
            "waste-method": "sink",
            **signing("waste-witness", cast.nurse),
        },
    )
    assert response.status_code == 400 and "another person" in response.content.decode()
    assert not LedgerEntry.objects.filter(kind="waste").exists()


@pytest.mark.parametrize("counted", ["-1", "abc", "", "1e30"])
def test_a_count_through_the_page_that_is_not_an_amount_is_refused(cast, stock, client_for, counted):
    response = client_for(cast.nurse).post(
        reverse("dosing:ledger_action", args=["count"]),
        {"count-balance": stock.pk, "count-counted_mg": counted, **signing("count-witness", cast.bob)},
    )
    assert response.status_code == 400
    assert not LedgerEntry.objects.filter(kind="count").exists()


def test_an_unknown_ledger_action_is_not_found(cast, client_for):
    assert client_for(cast.nurse).post(reverse("dosing:ledger_action", args=["theft"]), {}).status_code == 404


def test_discharge_through_the_room_with_a_stop_alert_open_is_refused_with_the_reason(
    cast, given, client_for, django_capture_on_commit_callbacks
):
    record, at = given
    services.ratings_record(actor=cast.nurse, record=record, sedation_moaas=5, dissociation_cadss=0)
    with django_capture_on_commit_callbacks(execute=True):
        reading(cast, record, phase="peak", spo2=86, taken_at=at + datetime.timedelta(minutes=40))
    reading(cast, record, phase="discharge")
    prefix = f"p{cast.alice.pk}-discharge-"
    response = client_for(cast.nurse).post(
        reverse("dosing:room_action", args=[record.session_id, cast.alice.pk, "discharge"]),
        {prefix + "vitals_ok": "on", prefix + "alert_oriented": "on", prefix + "escort_present": "on"},
    )
    assert response.status_code == 400 and "stop-level vitals" in response.content.decode()
    record.refresh_from_db()
    assert record.discharged_at is None
