import datetime
import threading
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kapstone.dosing import selectors, services
from kapstone.dosing.models import LedgerEntry, LotBalance
from tests.dosing.helpers import SUPPLIER_DEA_NUMBER, receive_stock, registered_location, signed, signing

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("900"), places=2)
counted = st.decimals(min_value=Decimal("0"), max_value=Decimal("5000"), places=2)
operations = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["receipt", "waste", "administration", "correction_up", "correction_down"]), amounts),
        st.tuples(st.just("count"), counted),
    ),
    max_size=12,
)


def post(cast, stock, kind: str, amount: Decimal) -> LedgerEntry:
    where = {"actor": cast.nurse, "lot": stock.lot, "location": stock.location}
    if kind == "receipt":
        return services.ledger_post(kind=kind, change_mg=amount, witness=signed(cast.bob), **where)
    if kind == "count":
        return services.ledger_post(
            kind=kind, change_mg=Decimal("0"), counted_mg=amount, witness=signed(cast.bob), **where
        )
    if kind == "administration":
        return services.ledger_post(kind=kind, change_mg=-amount, witness=signed(cast.bob), **where)
    if kind == "waste":
        return services.ledger_post(kind=kind, change_mg=-amount, witness=signed(cast.bob), reason="spilt", **where)
    latest = LedgerEntry.objects.filter(lot=stock.lot, location=stock.location).latest("id")
    return services.ledger_post(
        kind="correction",
        change_mg=amount if kind == "correction_up" else -amount,
        witness=signed(cast.bob),
        corrects=latest,
        reason="miscounted",
        **where,
    )


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations)
def test_the_balance_is_the_sum_of_entries_and_never_negative(cast, stock, ops):
    for kind, amount in ops:
        stock.refresh_from_db()
        before = stock.balance_mg
        try:
            entry = post(cast, stock, kind, amount)
        except services.DosingError:
            entry = None
        stock.refresh_from_db()
        entries = list(LedgerEntry.objects.filter(lot=stock.lot, location=stock.location).order_by("id"))
        assert stock.balance_mg >= 0
        assert stock.balance_mg == sum(e.change_mg for e in entries)
        running = Decimal("0")
        for each in entries:
            running += each.change_mg
            assert each.balance_after_mg == running >= 0
        if entry is None:
            assert kind in ("waste", "administration", "correction_down") and amount > before
            assert stock.balance_mg == before
        elif kind == "count":
            assert entry.change_mg == 0 and entry.discrepancy_mg == amount - before
        else:
            assert entry.balance_after_mg == stock.balance_mg


def test_entries_cannot_be_changed_or_deleted(cast, stock):
    entry = LedgerEntry.objects.first()
    entry.reason = "edited"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()


@pytest.fixture
def other_stock(cast):
    return receive_stock(
        actor=cast.nurse,
        drug="ketamine",
        form="injection",
        strength=Decimal("50"),
        lot_number="INJ-2",
        expires_on=datetime.date(2030, 1, 1),
        location="Clinic fridge",
        amount_mg=Decimal("500"),
    ).lot.balances.get()


def test_a_correction_must_name_an_entry_of_its_own_lot_and_location(cast, stock, other_stock):
    where = {
        "actor": cast.nurse,
        "lot": stock.lot,
        "location": stock.location,
        "witness": signed(cast.bob),
        "reason": "typo",
    }
    with pytest.raises(services.DosingError, match="choose the entry this correction corrects"):
        services.ledger_post(kind="correction", change_mg=Decimal("-5"), **where)
    elsewhere = LedgerEntry.objects.get(lot=other_stock.lot)
    with pytest.raises(services.DosingError, match="must be one of .*L-001 at Main safe"):
        services.ledger_post(kind="correction", change_mg=Decimal("-5"), corrects=elsewhere, **where)
    receipt = LedgerEntry.objects.get(lot=stock.lot)
    with pytest.raises(services.DosingError, match="Only a correction corrects"):
        services.ledger_post(kind="waste", change_mg=Decimal("-5"), corrects=receipt, **where)
    correction = services.ledger_post(kind="correction", change_mg=Decimal("-5"), corrects=receipt, **where)
    assert correction.corrects == receipt


def correction_data(cast, stock, corrects):
    return {
        "correction-balance": stock.pk,
        "correction-corrects": corrects.pk,
        "correction-change_mg": "-20",
        **signing("correction-witness", cast.bob),
        "correction-reason": "receipt keyed as 2000, invoice says 1980",
    }


def test_the_ledger_page_links_a_correction_to_the_entry_it_corrects(cast, stock, client_for):
    receipt = LedgerEntry.objects.get(lot=stock.lot)
    data = correction_data(cast, stock, receipt)
    response = client_for(cast.nurse).post(reverse("dosing:ledger_action", args=["correction"]), data, follow=True)
    page = response.content.decode()
    correction = LedgerEntry.objects.get(kind="correction")
    assert correction.corrects == receipt and correction.change_mg == Decimal("-20")
    assert f'<tr id="entry-{receipt.pk}">' in page
    assert f'<a href="#entry-{receipt.pk}">corrects #{receipt.pk}</a>' in page


def test_a_correction_naming_an_entry_of_another_lot_is_refused_with_a_message(cast, stock, other_stock, client_for):
    elsewhere = LedgerEntry.objects.get(lot=other_stock.lot)
    data = correction_data(cast, stock, elsewhere)
    response = client_for(cast.nurse).post(reverse("dosing:ledger_action", args=["correction"]), data)
    assert response.status_code == 400
    assert "Choose an entry of ketamine 100 mg lozenge lot L-001 at Main safe." in response.content.decode()
    assert not LedgerEntry.objects.filter(kind="correction").exists()


@pytest.mark.parametrize("number", ["999999", "abc", "-3"])
def test_a_correction_naming_no_entry_by_its_number_is_refused_with_a_message(cast, stock, client_for, number):
    receipt = LedgerEntry.objects.get(lot=stock.lot)
    data = {**correction_data(cast, stock, receipt), "correction-corrects": number}
    response = client_for(cast.nurse).post(reverse("dosing:ledger_action", args=["correction"]), data)
    assert response.status_code == 400 and "There is no ledger entry with that number." in response.content.decode()
    assert not LedgerEntry.objects.filter(kind="correction").exists()


def test_the_ledger_page_asks_for_the_corrected_entry_by_number_instead_of_listing_every_entry(cast, stock, client_for):
    page = client_for(cast.nurse).get(reverse("dosing:ledger")).content.decode()
    assert '<input type="number" name="correction-corrects"' in page
    assert '<select name="correction-corrects"' not in page


def test_a_ledger_with_no_entries_says_what_will_be_listed(cast, client_for):
    page = client_for(cast.nurse).get(reverse("dosing:ledger")).content.decode()
    assert "No entries yet: receipts, doses, counts, waste and disposals are listed here as they are recorded." in page


def test_a_selection_with_no_entries_says_how_to_widen_it(cast, stock, client_for):
    future = (timezone.localdate() + datetime.timedelta(days=30)).isoformat()
    page = client_for(cast.nurse).get(reverse("dosing:ledger"), {"since": future}).content.decode()
    assert "No entries match this selection: widen the dates, or choose all lots and locations." in page


def test_a_correction_without_the_entry_it_corrects_is_refused_with_a_message(cast, stock, client_for):
    receipt = LedgerEntry.objects.get(lot=stock.lot)
    data = {**correction_data(cast, stock, receipt), "correction-corrects": ""}
    response = client_for(cast.nurse).post(reverse("dosing:ledger_action", args=["correction"]), data)
    assert (
        response.status_code == 400
        and "“Entry corrected (its number)” is required: fill it in." in response.content.decode()
    )
    assert not LedgerEntry.objects.filter(kind="correction").exists()


def test_the_ledger_page_uses_the_same_number_of_queries_as_corrections_accumulate(cast, stock, client_for):
    from django.test.utils import CaptureQueriesContext

    client = client_for(cast.nurse)
    url = reverse("dosing:ledger")
    receipt = LedgerEntry.objects.get(lot=stock.lot)

    def correct():
        services.ledger_post(
            actor=cast.nurse,
            lot=stock.lot,
            location=stock.location,
            kind="correction",
            change_mg=Decimal("-1"),
            witness=signed(cast.bob),
            corrects=receipt,
            reason="recount",
        )

    correct()
    with CaptureQueriesContext(connection) as first:
        client.get(url)
    for _ in range(4):
        correct()
    with CaptureQueriesContext(connection) as second:
        client.get(url)
    assert len(second) == len(first)


def test_the_log_reads_its_entries_joined_only_to_their_lots_and_corrections_and_names_their_signers(
    cast, stock, client_for
):
    """PostgreSQL takes longer to plan a query with each table it joins: the window of entries joined to its
    signers, its doses' records and patients as well took about 20 ms to plan on every page of the log. The signers
    are read apart, once for the window, and a dose's patient by a subquery on the dose's key."""
    services.ledger_post(
        actor=cast.nurse,
        lot=stock.lot,
        location=stock.location,
        kind="correction",
        change_mg=Decimal("-1"),
        witness=signed(cast.bob),
        corrects=LedgerEntry.objects.get(lot=stock.lot),
        reason="recount",
    )
    with CaptureQueriesContext(connection) as queries:
        page = client_for(cast.nurse).get(reverse("dosing:ledger")).content.decode()
    window = [
        q["sql"] for q in queries if q["sql"].startswith('SELECT "dosing_ledgerentry"."id"') and " LIMIT 51" in q["sql"]
    ]
    assert len(window) == 1 and window[0].count(" JOIN ") == 2
    assert 'FROM "dosing_doserecord" U0 WHERE U0."id" = ("dosing_ledgerentry"."dose_record_id")' in window[0]
    assert "<td>nina / bob</td>" in page


def test_the_ledger_page_reads_the_signers_and_the_balances_it_offers_once_for_all_its_forms(cast, stock, client_for):
    with CaptureQueriesContext(connection) as queries:
        page = client_for(cast.nurse).get(reverse("dosing:ledger")).content.decode()
    signers = [
        q for q in queries if q["sql"].startswith('SELECT "accounts_user"') and '"accounts_user"."role" IN' in q["sql"]
    ]
    offered = [
        q
        for q in queries
        if 'FROM "dosing_lotbalance"' in q["sql"] and 'ORDER BY "dosing_substancelot"."lot_number"' in q["sql"]
    ]
    assert len(signers) == 1 and len(offered) == 1
    for kind in ("count", "disposal", "correction"):
        assert (
            # The balance as a clinician writes it, not as stored ("2000.00 mg").
            f'<option value="{stock.pk}">{stock.lot} @ {stock.location}: 2,000 mg</option>'
            in page.split(f'name="{kind}-balance"')[1].split("</select>")[0]
        )
    for name in ("receipt-checked_by", "count-witness", "disposal-second_witness", "correction-witness"):
        assert f'<option value="{cast.bob.pk}">' in page.split(f'name="{name}"')[1].split("</select>")[0]


def test_the_database_refuses_a_raw_update_of_an_entry(cast, stock):
    with pytest.raises(IntegrityError, match="ledger entries are immutable"), transaction.atomic():
        LedgerEntry.objects.filter(lot=stock.lot).update(change_mg=Decimal("1"))
    assert LedgerEntry.objects.get(lot=stock.lot).change_mg == Decimal("2000")


def test_the_database_refuses_a_raw_delete_of_an_entry(cast, stock):
    # Raw SQL, past the ORM's own refusal and the receipt's protecting foreign key: the trigger is the last guard.
    with (
        pytest.raises(IntegrityError, match="ledger entries are immutable"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM dosing_ledgerentry WHERE lot_id = %s", [stock.lot.pk])
    assert LedgerEntry.objects.filter(lot=stock.lot).count() == 1


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
            witness=signed(cast.bob),
        )


def test_a_count_that_does_not_match_raises_a_discrepancy(cast, stock, client_for):
    response = client_for(cast.nurse).post(
        reverse("dosing:ledger_action", args=["count"]),
        {"count-balance": stock.pk, "count-counted_mg": "1900", **signing("count-witness", cast.bob)},
        follow=True,
    )
    page = response.content.decode()
    assert "discrepancy -100" in page and "Count discrepancies" in page
    stock.refresh_from_db()
    assert stock.balance_mg == Decimal("2000")


def test_only_each_lot_and_locations_latest_uncorrected_count_is_an_open_discrepancy(cast, stock):
    first = post(cast, stock, "count", Decimal("1900"))
    assert selectors.open_discrepancies() == [first]
    second = post(cast, stock, "count", Decimal("1950"))
    assert selectors.open_discrepancies() == [second]
    post(cast, stock, "count", Decimal("2000"))
    assert selectors.open_discrepancies() == []
    fourth = post(cast, stock, "count", Decimal("1900"))
    other = receive_stock(
        actor=cast.nurse,
        witness=signed(cast.bob),
        drug="ketamine",
        form="lozenge",
        strength=Decimal("100"),
        lot_number="L-002",
        expires_on=datetime.date(2030, 1, 1),
        location="Main safe",
        amount_mg=Decimal("500"),
    ).lot.balances.get()
    elsewhere = post(cast, other, "count", Decimal("400"))
    with CaptureQueriesContext(connection) as queries:
        assert selectors.open_discrepancies() == [fourth, elsewhere]
    assert len(queries) == 1
    post(cast, stock, "correction_down", Decimal("100"))
    assert selectors.open_discrepancies() == [elsewhere]


def test_removing_more_than_the_balance_is_refused_with_a_message(cast, stock, client_for):
    response = client_for(cast.nurse).post(
        reverse("dosing:ledger_action", args=["correction"]),
        {
            "correction-balance": stock.pk,
            "correction-corrects": LedgerEntry.objects.get(lot=stock.lot).pk,
            "correction-change_mg": "-2500",
            **signing("correction-witness", cast.bob),
            "correction-reason": "keyed twice",
        },
    )
    assert response.status_code == 400 and "Only 2,000 mg" in response.content.decode()


def test_a_receipt_adds_a_new_lot(cast, client_for):
    registered_location("Main safe")
    client_for(cast.nurse).post(
        reverse("dosing:ledger_action", args=["receipt"]),
        {
            "receipt-drug": "ketamine",
            "receipt-form": "injection",
            "receipt-strength": "50",
            "receipt-unit_volume_ml": "10",
            "receipt-lot_number": "INJ-9",
            "receipt-expires_on": "2029-05-01",
            "receipt-location": "Main safe",
            "receipt-containers": "1",
            "receipt-units_per_container": "2",
            "receipt-supplier_name": "Synthetic Wholesale",
            "receipt-supplier_dea_number": SUPPLIER_DEA_NUMBER,
            "receipt-invoice_number": "INV-9",
            "receipt-received_on": timezone.localdate().isoformat(),
            **signing("receipt-checked_by", cast.bob),
        },
    )
    balance = LotBalance.objects.get(lot__lot_number="INJ-9")
    assert balance.balance_mg == Decimal("1000") and balance.lot.unit_mg == Decimal("500")
    receipt = LedgerEntry.objects.get(lot=balance.lot).receipt
    assert (receipt.units, receipt.received_by, receipt.checked_by) == (2, cast.nurse, cast.bob)


@pytest.mark.django_db(transaction=True)
def test_concurrent_withdrawals_never_take_the_balance_below_zero(cast):
    if connection.vendor != "postgresql":
        pytest.skip("row locks are exercised on PostgreSQL (CI runs the suite there too)")
    stock = receive_stock(
        actor=cast.nurse,
        witness=signed(cast.bob),
        drug="ketamine",
        form="lozenge",
        strength=Decimal("100"),
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
                witness=signed(cast.bob),
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


def test_a_refusal_writes_amounts_as_the_log_shows_them_not_as_stored(cast, stock):
    """A refusal writes an amount as a clinician does and as the controlled-substance log shows it (written_quantity):
    "Only 2000.00 mg ... is left" was the stored decimal."""
    where = {"actor": cast.nurse, "lot": stock.lot, "location": stock.location, "witness": signed(cast.bob)}
    with pytest.raises(services.DosingError) as refused:
        services.ledger_post(kind="waste", change_mg=Decimal("-2500.50"), reason="spilt", **where)
    assert f"Only 2,000 mg of {stock.lot} is left at {stock.location}; this entry would take 2,500.5 mg." in str(
        refused.value
    )
    assert ".00" not in str(refused.value)


def test_a_receipt_the_balance_could_not_hold_is_refused_with_a_message_and_nothing_is_saved(cast, stock):
    where = {"actor": cast.nurse, "lot": stock.lot, "location": stock.location, "witness": signed(cast.bob)}
    services.ledger_post(kind="receipt", change_mg=Decimal("99997999.99"), **where)
    with pytest.raises(services.DosingError, match="would exceed the 99,999,999.99 mg a balance can record"):
        services.ledger_post(kind="receipt", change_mg=Decimal("0.01"), **where)
    stock.refresh_from_db()
    assert stock.balance_mg == Decimal("99999999.99")
    assert LedgerEntry.objects.filter(lot=stock.lot).count() == 2


def test_a_correction_the_balance_could_not_hold_is_refused_with_a_message(cast, stock, client_for):
    receipt = LedgerEntry.objects.get(lot=stock.lot)
    data = {**correction_data(cast, stock, receipt), "correction-change_mg": "99999000"}
    response = client_for(cast.nurse).post(reverse("dosing:ledger_action", args=["correction"]), data)
    assert response.status_code == 400 and "a balance can record" in response.content.decode()
    stock.refresh_from_db()
    assert stock.balance_mg == Decimal("2000")
    assert not LedgerEntry.objects.filter(kind="correction").exists()


def test_ledger_post_refuses_a_balance_that_would_not_fit(cast, stock):
    with pytest.raises(services.DosingError, match="would exceed the 99,999,999.99 mg"):
        services.ledger_post(
            actor=cast.nurse,
            lot=stock.lot,
            location=stock.location,
            kind="receipt",
            change_mg=Decimal("99998000"),
            witness=signed(cast.bob),
        )
    stock.refresh_from_db()
    assert stock.balance_mg == Decimal("2000")
