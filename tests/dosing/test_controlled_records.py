"""Controlled substances ready for an inspection: registrations and locations, receipts with two staff, units,
inventories, waste against a dose, disposal, loss reports, the ledger as an exportable record, verify_ledger."""

import csv
import datetime
import functools
import io
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from kapstone.audit.models import AuditEvent
from kapstone.dosing import ledger_rules, selectors, services
from kapstone.dosing.models import (
    Disposal,
    Inventory,
    LedgerEntry,
    Location,
    LossReport,
    LotBalance,
    Receipt,
    Registration,
    SubstanceLot,
)
from tests.concurrency import all_at_once, meeting_of_two
from tests.dosing.helpers import (
    DISTRIBUTOR_DEA_NUMBER,
    SUPPLIER_DEA_NUMBER,
    a_loss_report,
    receive_stock,
    registered_location,
    signed,
)


def receipt_kwargs(cast, **overrides) -> dict:
    registered_location("Main safe")
    return {
        "actor": cast.nurse,
        "checked_by": signed(cast.bob),
        "drug": "ketamine",
        "form": "lozenge",
        "strength": Decimal("100"),
        "lot_number": "R-1",
        "expires_on": datetime.date(2030, 1, 1),
        "location": "Main safe",
        "containers": 2,
        "units_per_container": 10,
        "supplier_name": "Synthetic Wholesale",
        "supplier_dea_number": SUPPLIER_DEA_NUMBER,
        "invoice_number": "INV-1",
        **overrides,
    }


# Registrations -------------------------------------------------------------------------------------------------


def test_dea_numbers_are_checked_by_format_and_check_digit():
    assert ledger_rules.dea_number_problem("BK1234563") == ""
    assert "check digit" in ledger_rules.dea_number_problem("BK1234564")
    assert "two letters and seven digits" in ledger_rules.dea_number_problem("12345")


def test_form_106_is_due_one_business_day_after_discovery():
    friday = datetime.date(2026, 1, 2)
    assert ledger_rules.form106_due_on(friday) == datetime.date(2026, 1, 5)


def test_only_the_admin_records_a_registration_and_a_bad_number_names_the_field(cast):
    common = {"registrant": "P", "schedules": ["III"], "expires_on": datetime.date(2030, 1, 1), "responsible": cast.bob}
    with pytest.raises(services.DosingError, match="Only the practice admin"):
        services.registration_save(actor=cast.nurse, dea_number="BK1234563", **common)
    with pytest.raises(services.DosingError, match="^dea_number: "):
        services.registration_save(actor=cast.admin, dea_number="BK1234560", **common)
    assert services.registration_save(actor=cast.admin, dea_number="bk1234563", **common).dea_number == "BK1234563"


def test_an_expired_registration_stops_receipts_and_doses_at_its_location(cast, stock, ready_record):
    Registration.objects.update(expires_on=timezone.localdate() - datetime.timedelta(days=1))
    with pytest.raises(services.DosingError, match="^registration: DEA registration BK1234563 .* expired"):
        services.lot_receive(**receipt_kwargs(cast, lot_number="R-2"))
    with pytest.raises(services.DosingError, match="expired on"):
        services.dose_administer(actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob))
    # Counting the stock on hand goes on.
    where = {"actor": cast.nurse, "lot": stock.lot, "location": stock.location, "witness": signed(cast.bob)}
    services.ledger_post(kind="count", change_mg=Decimal("0"), counted_mg=stock.balance_mg, **where)


def test_an_unregistered_location_is_refused(cast):
    with pytest.raises(services.DosingError, match="^location: 'Back office' is not a registered location"):
        services.lot_receive(**receipt_kwargs(cast, location="Back office"))


def test_the_staff_home_warns_60_days_before_a_registration_expires(cast, client_for):
    registered_location(expires_on=timezone.localdate() + datetime.timedelta(days=59))
    page = client_for(cast.nurse).get(reverse("home:home")).content.decode()
    assert "Registration BK1234563" in page and "expires on" in page
    Registration.objects.update(expires_on=timezone.localdate() + datetime.timedelta(days=61))
    assert "Registration BK1234563" not in client_for(cast.nurse).get(reverse("home:home")).content.decode()


# Receipts and units ------------------------------------------------------------------------------------------


def test_a_receipt_records_supplier_invoice_units_and_two_staff(cast):
    entry = services.lot_receive(**receipt_kwargs(cast))
    receipt = Receipt.objects.get(entry=entry)
    assert (receipt.supplier_dea_number, receipt.invoice_number, receipt.units) == (SUPPLIER_DEA_NUMBER, "INV-1", 20)
    assert entry.change_mg == Decimal("2000") and entry.lot.in_units(entry.change_mg) == Decimal("20")


def test_a_vial_is_a_unit_and_a_partial_vial_is_kept_in_mg(cast):
    entry = services.lot_receive(
        **receipt_kwargs(cast, form="injection", strength=Decimal("50"), unit_volume_ml=Decimal("10"), containers=1)
    )
    assert entry.lot.unit_mg == Decimal("500") and entry.change_mg == Decimal("5000")
    assert entry.lot.in_units(Decimal("4750")) == Decimal("9.50")


@pytest.mark.parametrize(
    "overrides,field",
    [
        ({"checked_by": "nurse"}, "checked_by"),
        ({"checked_by": "alice_user"}, "checked_by"),
        ({"supplier_dea_number": "XX0000001"}, "supplier_dea_number"),
        ({"invoice_number": " "}, "invoice_number"),
        ({"containers": 0}, "containers"),
        ({"strength": Decimal("-1")}, "strength"),
        ({"drug": "paracetamol"}, "form"),
        ({"expires_on": datetime.date(2020, 1, 1)}, "expires_on"),
    ],
)
def test_a_bad_receipt_is_refused_naming_the_field_and_nothing_is_saved(cast, overrides, field):
    values = {k: (signed(cast.user(v)) if k == "checked_by" else v) for k, v in overrides.items()}
    with pytest.raises(services.DosingError, match=f"^{field}: "):
        services.lot_receive(**receipt_kwargs(cast, **values))
    assert not LedgerEntry.objects.exists() and not SubstanceLot.objects.exists()


# Inventories ----------------------------------------------------------------------------------------------------


def test_an_inventory_counts_units_and_opened_mg_and_a_mismatch_opens_a_discrepancy(cast, stock):
    location = registered_location()
    inventory = services.inventory_take(
        actor=cast.nurse,
        witness=signed(cast.bob),
        location=location,
        kind=Inventory.Kind.BIENNIAL,
        taken_on=timezone.localdate(),
        timing=Inventory.Timing.CLOSE,
        counts={stock.pk: (19, Decimal("50"))},
    )
    [line] = inventory.lines.all()
    assert line.entry.counted_mg == Decimal("1950") and line.entry.discrepancy_mg == Decimal("-50")
    assert selectors.open_discrepancies() == [line.entry]


def test_an_inventory_must_count_every_lot_and_the_initial_one_is_taken_once(cast, stock):
    location = registered_location()
    common = {"actor": cast.nurse, "witness": signed(cast.bob), "location": location, "taken_on": timezone.localdate()}
    with pytest.raises(services.DosingError, match="^counts: count every lot"):
        services.inventory_take(kind="biennial", timing="opening", counts={}, **common)
    services.inventory_take(kind="initial", timing="opening", counts={stock.pk: (20, Decimal("0"))}, **common)
    with pytest.raises(services.DosingError, match="already has its initial inventory"):
        services.inventory_take(kind="initial", timing="opening", counts={stock.pk: (20, Decimal("0"))}, **common)


def test_a_second_location_of_the_same_name_is_refused_naming_the_field_and_nothing_is_saved(cast):
    location = registered_location()
    with pytest.raises(services.DosingError, match="^name: 'Main safe' is already a registered location"):
        services.location_add(actor=cast.admin, name="Main safe", registration=location.registration)
    assert Location.objects.count() == 1
    assert not AuditEvent.objects.filter(object_type="stock_location").exists()


@pytest.mark.django_db(transaction=True)
def test_two_staff_recording_a_location_s_initial_inventory_at_once_record_it_once(cast, stock):
    if connection.vendor != "postgresql":
        pytest.skip("row locks are exercised on PostgreSQL (CI runs the suite there too)")
    import threading

    from django.db import connections

    location = Location.objects.get(name=stock.location)
    barrier = threading.Barrier(2)
    outcomes = []

    def take(actor, witness):
        try:
            barrier.wait()
            services.inventory_take(
                actor=actor,
                witness=witness,
                location=location,
                kind="initial",
                taken_on=timezone.localdate(),
                timing="opening",
                counts={stock.pk: (20, Decimal("0"))},
            )
            outcomes.append("done")
        except services.DosingError as refusal:
            outcomes.append(str(refusal))
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=take, args=pair)
        for pair in ((cast.nurse, signed(cast.bob)), (cast.bob, signed(cast.nurse)))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes)[0] == "done" and "already has its initial inventory" in sorted(outcomes)[1]
    assert location.inventories.filter(kind=Inventory.Kind.INITIAL).count() == 1


def _inventory_on(cast, location, kind: str, taken_on: datetime.date) -> Inventory:
    return Inventory.objects.create(
        location=location,
        kind=kind,
        taken_on=taken_on,
        timing=Inventory.Timing.CLOSE,
        taken_by=cast.nurse,
        witness=cast.bob,
        recorded_at=timezone.now(),
    )


def test_the_next_biennial_inventory_is_due_two_years_after_the_last_initial_or_biennial_one():
    assert ledger_rules.next_inventory_due_on(datetime.date(2025, 3, 14)) == datetime.date(2027, 3, 14)
    assert ledger_rules.next_inventory_due_on(datetime.date(2024, 2, 29)) == datetime.date(2026, 2, 28)


def test_locations_without_an_initial_inventory_or_near_their_biennial_one_are_named_soonest_first(cast):
    today = timezone.localdate()
    new_safe, due_safe, overdue_safe, fine_safe = (
        registered_location(name) for name in ("New safe", "Due safe", "Overdue safe", "Fine safe")
    )
    _inventory_on(
        cast, due_safe, Inventory.Kind.INITIAL, today - datetime.timedelta(days=2 * 365 - 30)
    )  # due in ~30 days
    _inventory_on(cast, overdue_safe, Inventory.Kind.INITIAL, today - datetime.timedelta(days=3 * 365))
    # An ad-hoc count does not start the two years again (21 CFR 1304.11(c) asks for a biennial inventory).
    _inventory_on(cast, overdue_safe, Inventory.Kind.AD_HOC, today - datetime.timedelta(days=10))
    _inventory_on(cast, fine_safe, Inventory.Kind.INITIAL, today - datetime.timedelta(days=3 * 365))
    _inventory_on(cast, fine_safe, Inventory.Kind.BIENNIAL, today - datetime.timedelta(days=100))
    due = selectors.inventories_due(today=today)
    assert [item.location for item in due] == [new_safe, overdue_safe, due_safe]
    assert due[0].due_on is None and due[1].overdue and not due[2].overdue


def test_the_staff_home_and_the_log_warn_of_an_inventory_to_take_to_ledger_staff_only(cast, client_for):
    today = timezone.localdate()
    _inventory_on(cast, registered_location("Main safe"), Inventory.Kind.INITIAL, today - datetime.timedelta(days=800))
    registered_location("Annex safe")
    for user in (cast.nurse, cast.bob):
        home = client_for(user).get(reverse("home:home")).content.decode()
        assert "Annex safe</a> has no initial inventory" in home
        assert "Main safe</a>: the biennial inventory was due by" in home and "is overdue" in home
    log = client_for(cast.nurse).get(reverse("dosing:ledger")).content.decode()
    assert "Inventories to take" in log and "Annex safe</a> has no initial inventory" in log
    assert "has no initial inventory" not in client_for(cast.therapist).get(reverse("home:home")).content.decode()


# Waste, disposal, corrections ------------------------------------------------------------------------------------


def test_waste_of_a_partial_dose_is_recorded_against_the_dose_by_two_licensed_staff(cast, stock, ready_record):
    services.dose_administer(actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob))
    common = {"dose_record": ready_record, "amount_mg": Decimal("50"), "method": "drug-disposal container"}
    with pytest.raises(services.DosingError, match="^witness: .* cannot sign"):
        services.waste_record(actor=cast.nurse, witness=signed(cast.admin), **common)
    with pytest.raises(services.DosingError, match="^witness: the second signature must be another person"):
        services.waste_record(actor=cast.nurse, witness=signed(cast.nurse), **common)
    with pytest.raises(services.DosingError, match="^witness: .* cannot sign"):
        services.waste_record(actor=cast.nurse, witness=signed(cast.alice_user), **common)
    waste = services.waste_record(actor=cast.nurse, witness=signed(cast.bob), **common)
    assert waste.entry.dose_record == ready_record and waste.entry.change_mg == Decimal("-50")
    stock.refresh_from_db()
    assert stock.balance_mg == Decimal("1750")


def test_disposal_through_a_reverse_distributor_or_on_site_with_two_witnesses(cast, stock):
    location = registered_location()
    common = {
        "actor": cast.nurse,
        "witness": signed(cast.bob),
        "location": location,
        "disposed_on": timezone.localdate(),
    }
    with pytest.raises(services.DosingError, match="^distributor_dea_number: "):
        services.disposal_record(
            method="reverse_distributor", distributor_name="R", items=[(stock, Decimal("100"))], **common
        )
    disposal = services.disposal_record(
        method=Disposal.Method.REVERSE_DISTRIBUTOR,
        distributor_name="Synthetic Returns",
        distributor_dea_number=DISTRIBUTOR_DEA_NUMBER,
        items=[(stock, Decimal("100"))],
        **common,
    )
    assert disposal.items.get().entry.kind == LedgerEntry.Kind.DISPOSAL
    with pytest.raises(services.DosingError, match="^second_witness: "):
        services.disposal_record(
            method="on_site", form41_details="denatured", items=[(stock, Decimal("100"))], **common
        )
    services.disposal_record(
        method=Disposal.Method.ON_SITE,
        form41_details="Rendered non-retrievable in a denaturing kit",
        second_witness=signed(cast.admin),
        items=[(stock, Decimal("100"))],
        **common,
    )
    stock.refresh_from_db()
    assert stock.balance_mg == Decimal("1800")


def test_a_found_correction_needs_a_second_staff_signature(cast, stock):
    where = {"actor": cast.nurse, "lot": stock.lot, "location": stock.location, "reason": "found in the fridge"}
    corrects = LedgerEntry.objects.get(lot=stock.lot)
    with pytest.raises(services.DosingError, match="^witness: a second member of staff must sign"):
        services.ledger_post(kind="correction", change_mg=Decimal("900"), corrects=corrects, **where)
    with pytest.raises(services.DosingError, match="^witness: .* cannot sign"):
        services.ledger_post(
            kind="correction", change_mg=Decimal("900"), corrects=corrects, witness=signed(cast.alice_user), **where
        )


# Loss reports ---------------------------------------------------------------------------------------------------


def test_writing_off_a_count_opens_a_loss_report_on_the_alert_queue(cast, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        report = a_loss_report(cast)
    assert report.amount_mg == Decimal("100") and report.responsible == cast.bob
    assert report.form106_due_on == ledger_rules.form106_due_on(timezone.localdate(report.discovered_at))
    from kapstone.measures.models import CriticalAlert

    assert CriticalAlert.objects.filter(kind="ledger_loss_report").exists()


def test_a_loss_report_page_naming_no_report_is_not_found(cast, client_for):
    report = a_loss_report(cast)
    client = client_for(cast.bob)
    assert client.get(reverse("dosing:loss_report", args=[report.pk])).status_code == 200
    for missing in (report.pk + 1, 10**20):
        assert client.get(reverse("dosing:loss_report", args=[missing])).status_code == 404


def test_an_unresolved_discrepancy_becomes_a_loss_report_after_its_day(cast, stock):
    where = {"actor": cast.nurse, "lot": stock.lot, "location": stock.location, "witness": signed(cast.bob)}
    count = services.ledger_post(kind="count", change_mg=Decimal("0"), counted_mg=Decimal("500"), **where)
    assert services.loss_reports_open_due() == 0
    tomorrow = timezone.now() + datetime.timedelta(days=1)
    assert services.loss_reports_open_due(now=tomorrow) == 1
    assert services.loss_reports_open_due(now=tomorrow) == 0
    assert LossReport.objects.get().discrepancy == count


@pytest.mark.django_db(transaction=True)
def test_the_sweep_and_a_write_off_of_the_same_count_at_once_open_one_loss_report(cast, stock, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("row locks are exercised on PostgreSQL (CI runs the suite there too)")
    where = {"actor": cast.nurse, "lot": stock.lot, "location": stock.location, "witness": signed(cast.bob)}
    count = services.ledger_post(kind="count", change_mg=Decimal("0"), counted_mg=Decimal("1900"), **where)
    # Both writers meet between their check for a report and its insert, unless one is held before its check.
    meet, due_on = meeting_of_two(), ledger_rules.form106_due_on

    def meet_then_due_on(day):
        meet()
        return due_on(day)

    monkeypatch.setattr(ledger_rules, "form106_due_on", meet_then_due_on)
    failures = all_at_once(
        [
            lambda: services.loss_reports_open_due(now=timezone.now() + datetime.timedelta(days=1)),
            lambda: services.ledger_post(
                kind="correction", change_mg=Decimal("-100"), corrects=count, reason="not found", **where
            ),
        ]
    )
    assert failures == []
    assert LossReport.objects.filter(discrepancy=count).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_found_correction_made_while_the_sweep_runs_keeps_its_count_out_of_the_loss_reports(cast, stock, monkeypatch):
    """The sweep has read the count as open when a correction of it (stock found) is half-way through. The
    correction holds the count's row from before it moves the balance, as a write-off does, so the sweep waits for
    it and, reading again under that lock, sees the count corrected: no loss report for a discrepancy resolved."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks are exercised on PostgreSQL (CI runs the suite there too)")
    where = {"actor": cast.nurse, "lot": stock.lot, "location": stock.location, "witness": signed(cast.bob)}
    count = services.ledger_post(kind="count", change_mg=Decimal("0"), counted_mg=Decimal("1900"), **where)
    # The sweep, once it has read the open counts, meets the correction about to move the balance (its entry not yet
    # written). Then the correction waits for the sweep to be past its check for a report, which a sweep held by the
    # count's lock never is: the correction goes on when that wait times out, and commits.
    read, checked = meeting_of_two(), meeting_of_two()
    open_discrepancies, due_on, save = selectors.open_discrepancies, ledger_rules.form106_due_on, LotBalance.save

    def read_then_meet():
        found = open_discrepancies()
        read()
        return found

    def meet_then_due_on(day):
        checked()
        return due_on(day)

    def meet_then_save(balance, *args, **kwargs):
        read()
        checked()
        save(balance, *args, **kwargs)

    monkeypatch.setattr(selectors, "open_discrepancies", read_then_meet)
    monkeypatch.setattr(ledger_rules, "form106_due_on", meet_then_due_on)
    monkeypatch.setattr(LotBalance, "save", meet_then_save)
    failures = all_at_once(
        [
            lambda: services.loss_reports_open_due(now=timezone.now() + datetime.timedelta(days=1)),
            lambda: services.ledger_post(
                kind="correction", change_mg=Decimal("50"), corrects=count, reason="found in the fridge", **where
            ),
        ]
    )
    assert failures == []
    assert LedgerEntry.objects.filter(corrects=count).exists()
    assert not LossReport.objects.filter(discrepancy=count).exists()


def test_the_prescriber_is_reminded_daily_until_form_106_and_the_state_are_recorded(cast):
    from django.core import mail

    cast.bob.email = "bob@example.org"
    cast.bob.save(update_fields=["email"])
    report = a_loss_report(cast)
    assert services.loss_reports_remind() == 1
    assert services.loss_reports_remind() == 0  # once a day
    assert "Form 106 is due" in mail.outbox[0].body and "LOSS-1" not in mail.outbox[0].body
    services.loss_report_file(actor=cast.bob, report=report, form106_submitted_on=timezone.localdate())
    assert services.loss_reports_remind(now=timezone.now() + datetime.timedelta(days=1)) == 1
    services.loss_report_file(actor=cast.bob, report=report, state_notified_on=timezone.localdate())
    assert services.loss_reports_remind(now=timezone.now() + datetime.timedelta(days=2)) == 0


# The ledger as a record ------------------------------------------------------------------------------------------


def test_patients_outside_the_viewer_s_care_team_appear_without_identifiers(cast, stock, ready_record):
    services.dose_administer(actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob))
    rows = {
        row.entry.kind: row for row in selectors.ledger_export_rows(user=cast.charlie, filters=selectors.LedgerFilter())
    }
    assert rows["administration"].patient_label == selectors.OUTSIDE_CARE_TEAM
    rows = {
        row.entry.kind: row for row in selectors.ledger_export_rows(user=cast.bob, filters=selectors.LedgerFilter())
    }
    assert rows["administration"].patient_label == cast.alice.record_number
    page = cast_page(cast.charlie, {"lot": stock.lot_id})
    assert cast.alice.record_number not in page and selectors.OUTSIDE_CARE_TEAM in page


def cast_page(user, query) -> str:
    from tests.conftest import signed_in_client

    return signed_in_client(user).get(reverse("dosing:ledger"), query).content.decode()


def test_the_csv_export_filters_by_period_and_lot(cast, stock, other_lot, client_for):
    response = client_for(cast.nurse).get(reverse("dosing:ledger_export", args=["csv"]), {"lot": other_lot.lot_id})
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["lot"] for r in rows] == ["OTHER-1"] and rows[0]["supplier_dea_number"] == SUPPLIER_DEA_NUMBER


def test_a_bad_period_is_refused_with_a_message(cast, stock, client_for):
    response = client_for(cast.nurse).get(
        reverse("dosing:ledger_export", args=["csv"]), {"since": "2026-02-01", "until": "2026-01-01"}
    )
    assert response.status_code == 400 and "must not be before its start" in response.content.decode()


def test_the_pdf_export_is_a_pdf(cast, stock, client_for):
    response = client_for(cast.nurse).get(reverse("dosing:ledger_export", args=["pdf"]))
    assert response.status_code == 200 and response.content.startswith(b"%PDF")


@pytest.fixture
def other_lot(cast):
    return receive_stock(
        actor=cast.nurse,
        drug="ketamine",
        form="lozenge",
        strength=Decimal("100"),
        lot_number="OTHER-1",
        expires_on=datetime.date(2030, 1, 1),
        location="Main safe",
        amount_mg=Decimal("1000"),
    ).lot.balances.get()


def test_two_years_of_activity_export_reproduces_every_balance(cast, client_for, monkeypatch):
    """Weekly receipts, doses, waste and counts over two years: the CSV export's running sum per lot and location
    is every entry's recorded balance, and verify_ledger agrees."""
    start = timezone.now() - datetime.timedelta(days=730)
    monkeypatch.setattr(timezone, "now", lambda: start - datetime.timedelta(days=1))
    stock = receive_stock(
        actor=cast.nurse,
        drug="ketamine",
        form="lozenge",
        strength=Decimal("100"),
        lot_number="TWO-YEARS",
        expires_on=datetime.date(2030, 1, 1),
        location="Main safe",
        amount_mg=Decimal("2000"),
    ).lot.balances.get()
    where = {"actor": cast.nurse, "lot": stock.lot, "location": stock.location, "witness": signed(cast.bob)}
    for week in range(104):
        monkeypatch.setattr(timezone, "now", lambda week=week: start + datetime.timedelta(weeks=week))
        services.ledger_post(kind="receipt", change_mg=Decimal("300"), **where)
        services.ledger_post(kind="administration", change_mg=Decimal("-200"), **where)
        services.ledger_post(kind="waste", change_mg=Decimal("-12.5"), reason="rest of a dose", **where)
        if week % 13 == 0:
            balance = LotBalance.objects.get(pk=stock.pk).balance_mg
            services.ledger_post(kind="count", change_mg=Decimal("0"), counted_mg=balance, **where)
    monkeypatch.undo()
    response = client_for(cast.nurse).get(reverse("dosing:ledger_export", args=["csv"]))
    running = {}
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == LedgerEntry.objects.count()
    for row in rows:
        key = (row["lot"], row["location"])
        running[key] = running.get(key, Decimal("0")) + Decimal(row["change_mg"])
        assert running[key] == Decimal(row["balance_after_mg"])
    stock.refresh_from_db()
    assert running[(stock.lot.lot_number, stock.location)] == stock.balance_mg
    call_command("verify_ledger", stdout=io.StringIO())


def test_verify_ledger_exits_non_zero_on_a_difference(cast, stock):
    out = io.StringIO()
    call_command("verify_ledger", stdout=out)
    assert "Ledger verified" in out.getvalue()
    LotBalance.objects.filter(pk=stock.pk).update(balance_mg=Decimal("1"))
    with pytest.raises(CommandError) as failed:
        call_command("verify_ledger", stdout=io.StringIO(), stderr=io.StringIO())
    assert failed.value.returncode == 1


def test_the_database_refuses_to_change_a_receipt_record(cast, stock):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Receipt.objects.update(invoice_number="rewritten")
    if connection.vendor == "postgresql":
        with pytest.raises(IntegrityError), transaction.atomic():
            Receipt.objects.all().delete()


@pytest.mark.django_db(transaction=True)
def test_concurrent_receipts_waste_and_doses_keep_the_balance_exact(cast):
    if connection.vendor != "postgresql":
        pytest.skip("row locks are exercised on PostgreSQL (CI runs the suite there too)")

    stock = receive_stock(
        actor=cast.nurse,
        witness=signed(cast.bob),
        drug="ketamine",
        form="lozenge",
        strength=Decimal("100"),
        lot_number="PAR-1",
        expires_on=datetime.date(2030, 1, 1),
        location="Main safe",
        amount_mg=Decimal("1000"),
    ).lot.balances.get()
    moves = [("receipt", Decimal("100")), ("waste", Decimal("-30")), ("administration", Decimal("-50"))] * 4
    where = {"actor": cast.nurse, "lot": stock.lot, "location": stock.location, "witness": signed(cast.bob)}
    failures = all_at_once(
        [
            functools.partial(
                services.ledger_post,
                kind=kind,
                change_mg=change,
                reason="parallel writers" if kind == "waste" else "",
                **where,
            )
            for kind, change in moves
        ]
    )
    assert failures == []
    stock.refresh_from_db()
    assert stock.balance_mg == Decimal("1000") + sum(change for _, change in moves)
    assert selectors.ledger_differences() == []
