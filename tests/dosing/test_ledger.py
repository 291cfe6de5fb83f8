import datetime
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kapstone.dosing import services
from kapstone.dosing.models import LedgerEntry, LotBalance

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("900"), places=2)
operations = st.lists(st.tuples(st.sampled_from(["receipt", "waste", "correction"]), amounts), max_size=12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations)
def test_the_balance_is_the_sum_of_entries_and_never_negative(cast, stock, ops):
    for kind, amount in ops:
        change = amount if kind == "receipt" else -amount
        try:
            if kind == "receipt":
                services.ledger_post(
                    actor=cast.nurse, lot=stock.lot, location=stock.location, kind=kind, change_mg=change
                )
            else:
                services.ledger_post(
                    actor=cast.nurse,
                    lot=stock.lot,
                    location=stock.location,
                    kind=kind,
                    change_mg=change,
                    witness=cast.bob,
                    reason="test",
                )
        except services.DosingError:
            pass
        stock.refresh_from_db()
        entries = LedgerEntry.objects.filter(lot=stock.lot, location=stock.location)
        assert stock.balance_mg >= 0
        assert stock.balance_mg == sum(e.change_mg for e in entries)
        assert entries.order_by("-id").first().balance_after_mg == stock.balance_mg


def test_entries_cannot_be_changed_or_deleted(cast, stock):
    entry = LedgerEntry.objects.first()
    entry.reason = "edited"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()


def test_waste_needs_a_witness_and_a_reason(cast, stock):
    with pytest.raises(services.DosingError, match="witness"):
        services.ledger_post(
            actor=cast.nurse,
            lot=stock.lot,
            location=stock.location,
            kind="waste",
            change_mg=Decimal("-10"),
            reason="dropped",
        )
    with pytest.raises(services.DosingError, match="reason"):
        services.ledger_post(
            actor=cast.nurse,
            lot=stock.lot,
            location=stock.location,
            kind="waste",
            change_mg=Decimal("-10"),
            witness=cast.bob,
        )


def test_a_count_that_does_not_match_raises_a_discrepancy(cast, stock, client_for):
    response = client_for(cast.nurse).post(
        reverse("dosing:ledger_action", args=["count"]),
        {"count-balance": stock.pk, "count-counted_mg": "1900"},
        follow=True,
    )
    page = response.content.decode()
    assert "discrepancy -100" in page and "Count discrepancies" in page
    stock.refresh_from_db()
    assert stock.balance_mg == Decimal("2000")


def test_removing_more_than_the_balance_is_refused_with_a_message(cast, stock, client_for):
    response = client_for(cast.nurse).post(
        reverse("dosing:ledger_action", args=["waste"]),
        {"waste-balance": stock.pk, "waste-amount_mg": "2500", "waste-witness": cast.bob.pk, "waste-reason": "spill"},
    )
    assert response.status_code == 400 and "Only 2000.00 mg" in response.content.decode()


def test_a_receipt_adds_a_new_lot(cast, client_for):
    client_for(cast.nurse).post(
        reverse("dosing:ledger_action", args=["receipt"]),
        {
            "receipt-drug": "ketamine",
            "receipt-form": "50 mg/mL injection",
            "receipt-lot_number": "INJ-9",
            "receipt-expires_on": "2029-05-01",
            "receipt-location": "Main safe",
            "receipt-amount_mg": "500",
        },
    )
    assert LotBalance.objects.get(lot__lot_number="INJ-9").balance_mg == Decimal("500")


@pytest.mark.django_db(transaction=True)
def test_concurrent_withdrawals_never_take_the_balance_below_zero(cast):
    if connection.vendor != "postgresql":
        pytest.skip("row locks are exercised on PostgreSQL (CI runs the suite there too)")
    stock = services.lot_receive(
        actor=cast.nurse,
        drug="ketamine",
        form="100 mg lozenge",
        lot_number="C-1",
        expires_on=datetime.date(2030, 1, 1),
        location="Main safe",
        amount_mg=Decimal("300"),
    ).lot.balances.get()
    barrier = threading.Barrier(4)
    outcomes = []

    def withdraw():
        from django.db import connections

        try:
            barrier.wait()
            services.ledger_post(
                actor=cast.nurse,
                lot=stock.lot,
                location=stock.location,
                kind="waste",
                change_mg=Decimal("-100"),
                witness=cast.bob,
                reason="concurrency test",
            )
            outcomes.append("ok")
        except services.DosingError:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=withdraw) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stock.refresh_from_db()
    assert sorted(outcomes) == ["ok", "ok", "ok", "refused"]
    assert stock.balance_mg == 0
