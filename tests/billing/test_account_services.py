"""The patient account: charges at the practice's fees, payments, adjustments and refunds, each appended and
audited, never edited; the balance always the sum of the entries."""

import datetime
import threading
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, connections, transaction
from django.utils import timezone

from kapstone.audit.models import AuditEvent
from kapstone.billing import services
from kapstone.billing.models import AccountEntry, Fee, PatientAccount, npi_is_valid
from tests.billing.factories import fees, paid

TODAY = datetime.date.today()


def balance(patient) -> Decimal:
    return PatientAccount.objects.get(patient=patient).balance


@pytest.mark.parametrize("typed", ["0", "-5", "12.345", "100000.01", "ten", "NaN", "Infinity"])
def test_an_amount_that_is_not_positive_money_within_the_limit_is_refused(cast, typed):
    with pytest.raises(services.BillingError):
        services.payment_record(actor=cast.admin, patient=cast.alice, amount=typed, method="card", on_date=TODAY)
    assert not AccountEntry.objects.filter(account__patient=cast.alice).exists()


def test_the_npi_check_digit_is_checked():
    assert npi_is_valid("1234567893")
    assert not npi_is_valid("1234567890")
    assert not npi_is_valid("123456789")


def test_a_charge_is_the_fee_in_force_times_the_units_and_is_audited(priced):
    cast = priced
    fees(cast.admin, **{"96127": "12.50"})
    entry = services.charge_add(actor=cast.admin, patient=cast.alice, code="96127", units=2, on_date=TODAY)
    assert entry.amount == Decimal("25.00") and entry.balance_after == Decimal("25.00")
    assert entry.place_of_service == "11"
    assert AuditEvent.objects.filter(object_type="account_entry", object_id=str(entry.pk), patient_id=cast.alice.pk)


def test_a_code_without_a_fee_or_outside_the_code_set_or_with_an_unknown_modifier_is_refused(priced):
    cast = priced
    with pytest.raises(services.BillingError, match="no fee for 90837"):
        services.charge_add(actor=cast.admin, patient=cast.alice, code="90837", on_date=TODAY)
    with pytest.raises(services.BillingError, match="not in the practice's code set"):
        services.charge_add(actor=cast.admin, patient=cast.alice, code="12345", on_date=TODAY)
    with pytest.raises(services.BillingError, match="Unknown modifier"):
        services.charge_add(actor=cast.admin, patient=cast.alice, code="99213", modifiers="ZZ", on_date=TODAY)
    assert not AccountEntry.objects.exists()


def test_only_billing_staff_record_money(priced):
    with pytest.raises(services.BillingError, match="Only billing staff"):
        services.charge_add(actor=priced.bob, patient=priced.alice, code="99213", on_date=TODAY)


def test_payments_adjustments_and_refunds_keep_the_balance_the_sum_of_the_entries(priced):
    cast = priced
    services.charge_add(actor=cast.admin, patient=cast.alice, code="99213", on_date=TODAY)
    payment = paid(cast, "200.00")
    assert balance(cast.alice) == Decimal("-50.00")  # in credit: a course paid ahead
    services.refund_record(actor=cast.admin, payment=payment, amount="50.00", reason="overpaid", method="card")
    services.charge_add(actor=cast.admin, patient=cast.alice, code="90853", on_date=TODAY)
    services.adjustment_record(actor=cast.admin, patient=cast.alice, amount="30", reason="sliding scale", on_date=TODAY)
    account = PatientAccount.objects.get(patient=cast.alice)
    entries = list(account.entries.all())
    assert account.balance == sum(e.signed_amount for e in entries) == Decimal("50.00")
    assert [e.balance_after for e in entries] == [Decimal(x) for x in ("150.00", "-50.00", "0.00", "80.00", "50.00")]


def test_a_refund_never_exceeds_what_is_left_of_its_payment(priced):
    cast = priced
    payment = paid(cast, "100.00")
    services.refund_record(actor=cast.admin, payment=payment, amount="60", reason="part", method="card")
    with pytest.raises(services.BillingError, match="Only 40.00 of this 100.00 payment is left"):
        services.refund_record(actor=cast.admin, payment=payment, amount="40.01", reason="rest", method="card")
    charge = services.charge_add(actor=cast.admin, patient=cast.alice, code="99213", on_date=TODAY)
    with pytest.raises(services.BillingError, match="A refund returns a payment"):
        services.refund_record(actor=cast.admin, payment=charge, amount="1", reason="x", method="card")


def test_an_adjustment_cannot_take_off_more_than_is_owed(priced):
    cast = priced
    services.charge_add(actor=cast.admin, patient=cast.alice, code="90853", on_date=TODAY)
    with pytest.raises(services.BillingError, match="owes 80.00"):
        services.adjustment_record(actor=cast.admin, patient=cast.alice, amount="80.01", reason="x", on_date=TODAY)


def test_a_payment_dated_in_the_future_is_refused(priced):
    with pytest.raises(services.BillingError, match="future"):
        paid(priced, on_date=TODAY + datetime.timedelta(days=1))


def test_entries_and_fees_are_never_changed_in_place_not_even_by_raw_queries(priced):
    entry = paid(priced)
    entry.amount = Decimal("1.00")
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    for model in (AccountEntry, Fee):
        with pytest.raises(DatabaseError), transaction.atomic():
            model.objects.update(amount=Decimal("1.00"))
        with pytest.raises(DatabaseError), transaction.atomic():
            model.objects.all()._raw_delete(model.objects.db)


def test_a_new_fee_supersedes_the_old_one_which_is_kept(priced):
    cast = priced
    services.fee_set(actor=cast.admin, code="99213", amount="175", reason="2027 schedule")
    assert list(Fee.objects.filter(code="99213").values_list("amount", flat=True)) == [Decimal("175"), Decimal("150")]
    entry = services.charge_add(actor=cast.admin, patient=cast.alice, code="99213", on_date=TODAY)
    assert entry.amount == Decimal("175.00")
    with pytest.raises(services.BillingError, match="already 175"):
        services.fee_set(actor=cast.admin, code="99213", amount="175.00", reason="again")


def test_a_visit_is_charged_its_usual_services_once_with_the_facilitator_who_renders_each(priced):
    cast = priced
    session = cast.dosing_session()
    entries = services.visit_charges_add(actor=cast.admin, patient=cast.alice, session=session)
    assert [(e.code, e.rendering_clinician) for e in entries] == [("99213", cast.bob), ("90833", cast.bob)]
    assert all(e.session_id == session.pk and e.on_date == timezone.localdate(session.starts_at) for e in entries)
    with pytest.raises(services.BillingError, match="already charged"):
        services.visit_charges_add(actor=cast.admin, patient=cast.alice, session=session)
    with pytest.raises(services.BillingError, match="not in this session's group"):
        services.visit_charges_add(actor=cast.admin, patient=cast.dana, session=session)


@pytest.mark.django_db(transaction=True)
def test_two_refunds_of_one_payment_at_once_never_return_more_than_was_paid(cast):
    if connection.vendor != "postgresql":
        pytest.skip("the in-memory SQLite test database cannot be shared by threads; this runs on PostgreSQL (CI)")
    payment = paid(cast, "100.00")
    barrier = threading.Barrier(2)
    outcomes = []

    def refund():
        try:
            barrier.wait()
            services.refund_record(actor=cast.admin, payment=payment, amount="70", reason="race", method="card")
            outcomes.append("done")
        except services.BillingError:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=refund) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["done", "refused"]
    account = PatientAccount.objects.get(patient=cast.alice)
    assert account.balance == Decimal("-30.00") == sum(e.signed_amount for e in account.entries.all())
