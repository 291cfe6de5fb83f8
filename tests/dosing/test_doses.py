"""Doses: ceilings on every route, the controlled-drug catalogue and lots that fit the route, respiratory rate, the
room's BP stop never looser than the screening's exclusion, recovery before discharge, and safety events."""

import datetime
import importlib
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from kapstone.dosing import safety, selectors, services
from kapstone.dosing.models import LotBalance
from kapstone.practice.settings_store import practice_value_set
from kapstone.practice.signals import safety_event
from tests.dosing.helpers import receive_stock, signed

migration = importlib.import_module("kapstone.dosing.migrations.0004_room_safety_gate_and_lot_catalogue")


def receive(cast, *, drug="ketamine", form="injection", strength="50", lot="INJ-1", expires=None, **extra):
    return receive_stock(
        actor=cast.nurse,
        drug=drug,
        form=form,
        strength=Decimal(strength),
        lot_number=lot,
        expires_on=expires or datetime.date(2030, 1, 1),
        location="Main safe",
        amount_mg=Decimal("1000"),
        **extra,
    ).lot.balances.get()


@pytest.fixture
def events():
    received = []
    safety_event.connect(lambda sender, **kw: received.append(kw), weak=False, dispatch_uid="doses-test")
    yield received
    safety_event.disconnect(dispatch_uid="doses-test")


# Ceilings -------------------------------------------------------------------------------------------------------


def test_an_order_on_a_route_without_a_ceiling_is_refused_naming_the_setting(cast, ready_record):
    with pytest.raises(services.DosingError, match="the practice setting “IM dose ceiling” on the Practice settings"):
        services.dose_order(actor=cast.bob, record=ready_record, route="im", dose_mg=Decimal("500"))
    practice_value_set(actor=cast.bob, key="dosing.ceiling_im_mg_per_kg", value=0.5, reason="[loo-2016]")
    with pytest.raises(services.DosingError, match="7.14 mg/kg is above the practice ceiling of 0.5"):
        services.dose_order(actor=cast.bob, record=ready_record, route="im", dose_mg=Decimal("500"))
    assert services.dose_order(actor=cast.bob, record=ready_record, route="im", dose_mg=Decimal("35")).within


def test_a_stored_ceiling_above_the_cited_maximum_is_held_at_it_when_a_dose_is_ordered(
    cast, ready_record, earlier_dose
):
    """Written past the hard bound (by hand, or before the bound existed: the low-level write does not check), a
    practice's ceiling or weekly maximum still reaches the room held at the cited limit."""
    practice_value_set(actor=cast.admin, key="dosing.ceiling_sublingual_mg", value=800, reason="set by hand")
    practice_value_set(actor=cast.admin, key="dosing.max_doses_per_7_days", value=5, reason="set by hand")
    with pytest.raises(services.DosingError, match="500 mg is above the practice ceiling of 400 mg"):
        services.dose_order(actor=cast.bob, record=ready_record, route="sublingual", dose_mg=Decimal("500"))
    for days in (2, 4):
        earlier_dose(cast.alice, timezone.now() - datetime.timedelta(days=days))
    with pytest.raises(services.DosingError, match="already had 2 doses in the 7 days before.*at most 2 a week"):
        services.dose_order(actor=cast.bob, record=ready_record, route="sublingual", dose_mg=Decimal("200"))


# The catalogue and lots ------------------------------------------------------------------------------------------


def test_the_log_accepts_only_catalogue_products(cast):
    with pytest.raises(services.DosingError, match="'paracetamol' is not in the practice's catalogue"):
        receive(cast, drug="paracetamol")
    with pytest.raises(services.DosingError, match="esketamine comes as nasal spray"):
        receive(cast, drug="esketamine", form="injection")
    assert not LotBalance.objects.exists()


def test_an_expired_lot_is_received_only_for_disposal_and_never_offered(cast, ready_record):
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    with pytest.raises(services.DosingError, match="received only for disposal"):
        receive(cast, form="lozenge", strength="100", expires=yesterday)
    disposal = receive(cast, form="lozenge", strength="100", expires=yesterday, for_disposal=True)
    assert disposal.lot.for_disposal
    with pytest.raises(services.DosingError, match="received for disposal; it is never given"):
        services.dose_administer(actor=cast.nurse, record=ready_record, balance=disposal, witness=signed(cast.bob))


@pytest.mark.parametrize("form,strength", [("injection", "50"), ("nasal_spray", "28")])
def test_a_lot_whose_form_does_not_fit_the_route_is_refused(cast, ready_record, form, strength):
    drug = "esketamine" if form == "nasal_spray" else "ketamine"
    balance = receive(cast, drug=drug, form=form, strength=strength)
    with pytest.raises(services.DosingError, match="lot does not fit a sublingual lozenge order"):
        services.dose_administer(actor=cast.nurse, record=ready_record, balance=balance, witness=signed(cast.bob))
    assert LotBalance.objects.get(pk=balance.pk).balance_mg == balance.balance_mg


def test_the_receipt_form_refuses_a_product_outside_the_catalogue(cast, client_for):
    data = {
        "receipt-drug": "esketamine",
        "receipt-form": "lozenge",
        "receipt-strength": "100",
        "receipt-lot_number": "X-1",
        "receipt-expires_on": "2020-01-01",
        "receipt-location": "Main safe",
        "receipt-amount_mg": "100",
    }
    response = client_for(cast.nurse).post(reverse("dosing:ledger_action", args=["receipt"]), data)
    page = response.content.decode()
    assert response.status_code == 400 and "comes as nasal spray" in page and "received only for disposal" in page
    assert not LotBalance.objects.exists()


@pytest.mark.parametrize(
    "text,parsed",
    [
        ("50 mg/mL injection, 10 mL vial", ("injection", Decimal("50"))),
        ("100 mg sublingual lozenge", ("lozenge", Decimal("100"))),
        ("100 mg lozenge", ("lozenge", Decimal("100"))),
        ("500 mg vial", ("injection", None)),
        ("paracetamol 500 mg tablet", ("", None)),
    ],
)
def test_the_migration_reads_old_free_text_forms(text, parsed):
    assert migration.parse_form(text) == parsed


# Vitals -------------------------------------------------------------------------------------------------------


def test_the_respiratory_rate_is_required_once_an_im_or_iv_dose_is_ordered(cast, ready_record):
    practice_value_set(actor=cast.bob, key="dosing.ceiling_im_mg_per_kg", value=0.5, reason="[loo-2016]")
    services.dose_order(actor=cast.bob, record=ready_record, route="im", dose_mg=Decimal("35"))
    with pytest.raises(services.DosingError, match="Record the respiratory rate"):
        services.vitals_record(
            actor=cast.nurse, record=ready_record, phase="pre", systolic=120, diastolic=75, heart_rate=70, spo2=98
        )
    assert "no respiratory rate on the pre-dose vitals" in "; ".join(selectors.checklist_missing(record=ready_record))


def test_a_stop_level_reading_is_announced_and_a_screening_threshold_below_the_room_stop_wins(
    cast, checked_in, events, django_capture_on_commit_callbacks
):
    practice_value_set(actor=cast.bob, key="screening.bp_exclude_systolic_mmhg", value=170, reason="our protocol")
    assert selectors.room_thresholds()["stop_systolic"] == 170
    with django_capture_on_commit_callbacks(execute=True):
        reading = services.vitals_record(
            actor=cast.nurse, record=checked_in, phase="peak", systolic=172, diastolic=80, heart_rate=70, spo2=98
        )
    assert reading.alert_level == "stop"
    assert [(e["kind"], e["level"], e["patient_id"]) for e in events] == [("vitals_stop", "urgent", cast.alice.pk)]


def test_a_screening_review_threshold_below_the_rooms_makes_the_room_review_from_it(cast, checked_in):
    """A practice that asks the screening to review from 130/85 reviews a pre-dose reading of 135/80 in the room too."""
    practice_value_set(actor=cast.bob, key="screening.bp_review_systolic_mmhg", value=130, reason="our protocol")
    practice_value_set(actor=cast.bob, key="screening.bp_review_diastolic_mmhg", value=85, reason="our protocol")
    thresholds = selectors.room_thresholds()
    assert (thresholds["predose_systolic_review"], thresholds["predose_diastolic_review"]) == (130, 85)
    reading = services.vitals_record(
        actor=cast.nurse, record=checked_in, phase="pre", systolic=135, diastolic=80, heart_rate=70, spo2=98
    )
    assert reading.alert_level == "review"
    assert selectors.dose_readiness(record=checked_in, at=timezone.now()).vitals_review


def test_a_severe_adverse_event_is_announced(cast, checked_in, events, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.adverse_event_record(
            actor=cast.nurse, record=checked_in, kind="laryngospasm", severity="severe", description="", action_taken=""
        )
        services.adverse_event_record(
            actor=cast.nurse, record=checked_in, kind="nausea", severity="mild", description="", action_taken=""
        )
    assert [e["kind"] for e in events] == ["adverse_event_serious"]


# Discharge ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def observed(cast, ready_record, stock):
    given = timezone.now() - datetime.timedelta(minutes=130)
    services.dose_administer(
        actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob), administered_at=given
    )
    for phase, taken_at in (("peak", given + datetime.timedelta(minutes=45)), ("discharge", timezone.now())):
        services.vitals_record(
            actor=cast.nurse,
            record=ready_record,
            phase=phase,
            systolic=128,
            diastolic=80,
            heart_rate=72,
            spo2=98,
            taken_at=taken_at,
        )
    return ready_record


def discharge(cast, record, **extra):
    return services.discharge(
        actor=cast.nurse, record=record, vitals_ok=True, alert_oriented=True, escort_present=True, **extra
    )


def test_discharge_needs_ratings_after_the_dose(cast, observed):
    with pytest.raises(services.DosingError, match="rate sedation .* after the dose"):
        discharge(cast, observed)


def test_ratings_with_neither_scale_are_refused_and_keep_the_ratings_taken(cast, observed):
    """Sent empty, they cleared the ratings already taken and the room said "ratings saved"."""
    services.ratings_record(actor=cast.nurse, record=observed, sedation_moaas=5, dissociation_cadss=2)
    with pytest.raises(services.DosingError, match=r"Enter the sedation \(MOAA/S\) rating, the dissociation"):
        services.ratings_record(actor=cast.nurse, record=observed, sedation_moaas=None, dissociation_cadss=None)
    observed.refresh_from_db()
    assert (observed.sedation_moaas, observed.dissociation_cadss) == (5, 2)


def test_a_scale_not_rated_is_said_in_words_when_discharge_waits_for_it(cast, observed):
    services.ratings_record(actor=cast.nurse, record=observed, sedation_moaas=None, dissociation_cadss=2)
    with pytest.raises(services.DosingError, match=r"MOAA/S not rated, needs 5") as refused:
        discharge(cast, observed)
    assert "None" not in str(refused.value)


def test_discharge_needs_moaas_back_to_5_and_cadss_resolved_or_attested(cast, observed):
    services.ratings_record(actor=cast.nurse, record=observed, sedation_moaas=1, dissociation_cadss=70)
    with pytest.raises(services.DosingError, match=r"MOAA/S 1, needs 5.*CADSS 70, needs 4 or less"):
        discharge(cast, observed)
    services.ratings_record(actor=cast.nurse, record=observed, sedation_moaas=5, dissociation_cadss=12)
    with pytest.raises(services.DosingError, match="write a note with the attestation"):
        discharge(cast, observed, dissociation_attested=True)
    record = discharge(cast, observed, dissociation_attested=True, attestation_note="Oriented, no derealisation.")
    assert record.dissociation_attested_by == cast.nurse and record.discharged_at


def test_a_patient_rated_sedated_before_the_dose_is_not_dosed_until_rated_alert(cast, ready_record, stock):
    """A MOAA/S below 5 before the dose holds the order and the administration, so discharge's MOAA/S 5
    (test_discharge_needs_moaas_back_to_5_and_cadss_resolved_or_attested) is every dosed patient's baseline."""
    services.ratings_record(actor=cast.nurse, record=ready_record, sedation_moaas=4, dissociation_cadss=0)
    ready_record.refresh_from_db()
    assert ready_record.predose_moaas == 4
    readiness = selectors.dose_readiness(record=ready_record, at=timezone.now())
    assert "Sedated before the dose (MOAA/S 4" in " ".join(readiness.blockers)
    with pytest.raises(services.DosingError, match="Sedated before the dose"):
        services.dose_administer(actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob))
    with pytest.raises(services.DosingError, match="Sedated before the dose"):
        services.dose_order(actor=cast.bob, record=ready_record, route="sublingual", dose_mg=Decimal("200"))
    services.ratings_record(actor=cast.nurse, record=ready_record, sedation_moaas=5, dissociation_cadss=0)
    services.dose_administer(actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob))
    services.ratings_record(actor=cast.nurse, record=ready_record, sedation_moaas=4, dissociation_cadss=0)
    ready_record.refresh_from_db()
    assert ready_record.predose_moaas == 5  # a rating after the dose is not the one before it


# An older adult's first esketamine dose ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "dose", "first", "refused"),
    [
        (65, "56", True, True),
        (65, "28", True, False),
        (64, "56", True, False),
        (65, "56", False, False),  # after the first dose the label's usual 56 or 84 mg apply
    ],
)
def test_an_older_adults_first_intranasal_dose_starts_at_28_mg(age, dose, first, refused):
    refusal = safety.older_adult_starting_dose_refusal(
        route="intranasal", dose_mg=Decimal(dose), age_years=age, first_on_route=first
    )
    assert bool(refusal) is refused
    if refused:
        assert "first intranasal dose: it starts at no more than 28 mg" in refusal and "[spravato-pi]" in refusal


def test_the_starting_dose_rule_is_for_intranasal_esketamine_only():
    assert not safety.older_adult_starting_dose_refusal(
        route="sublingual", dose_mg=Decimal("200"), age_years=80, first_on_route=True
    )


def test_an_intranasal_order_reads_the_age_on_the_record(cast, ready_record):
    """The record's date of birth on the day decides, as the gate's age checks do: a patient 65 today whose first
    intranasal order is 56 mg is refused, before the room's other checks."""
    today = timezone.localdate()
    # 65 years ago today, or earlier this month (a 29 February birthday has no 65th anniversary every year).
    cast.alice.date_of_birth = datetime.date(today.year - 65, today.month, min(today.day, 28))
    cast.alice.save()
    ready_record.refresh_from_db()
    with pytest.raises(services.DosingError, match="The patient is 65 and this is their first intranasal dose"):
        services.dose_order(actor=cast.bob, record=ready_record, route="intranasal", dose_mg=Decimal("56"))
