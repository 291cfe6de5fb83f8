"""The controlled-substance log's pages write amounts as a clinician does ("12,000 mg", "lozenges of 100 mg",
"2.5 mg"), not as stored ("12000.00"); the CSV export keeps the stored, exact values."""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.urls import reverse

from kapstone.dosing import services
from kapstone.practice.templatetags.kapstone_tags import written_quantity
from tests.dosing.helpers import a_loss_report, receive_stock, signed


@pytest.mark.parametrize(
    ("stored", "written"),
    [
        ("12000.00", "12,000"),
        ("100.00", "100"),
        ("2.50", "2.5"),
        ("0.25", "0.25"),
        ("0.00", "0"),
        ("-0.00", "0"),
        ("-10.50", "-10.5"),
        ("1234567.25", "1,234,567.25"),
    ],
)
def test_an_amount_is_written_without_trailing_zeros_and_with_grouped_thousands(stored, written):
    assert written_quantity(Decimal(stored)) == written
    assert Template("{% load kapstone_tags %}{{ amount|quantity }}").render(Context({"amount": Decimal(stored)})) == (
        written
    )


def test_nothing_is_written_for_no_amount():
    assert written_quantity(None) == ""


def test_the_log_page_shows_amounts_as_a_clinician_writes_them(cast, client_for):
    receive_stock(
        actor=cast.nurse,
        drug="ketamine",
        form="lozenge",
        strength=Decimal("100"),
        lot_number="BIG-1",
        expires_on=datetime.date(2030, 1, 1),
        location="Main safe",
        amount_mg=Decimal("12000"),
    )
    page = client_for(cast.nurse).get(reverse("dosing:ledger")).content.decode()
    assert "<td>12,000</td>" in page  # the balance and the receipt's change
    assert "lozenges of 100 mg" in page
    assert "<td>120</td>" in page  # the receipt in lozenges
    assert "Main safe: 12,000 mg</option>" in page  # the lots offered to the log's forms
    assert "12000.00" not in page and "100.00 mg" not in page and "120.00" not in page


def test_a_part_of_a_unit_keeps_its_decimals_without_trailing_zeros(cast, stock, client_for):
    where = {"actor": cast.nurse, "lot": stock.lot, "location": stock.location, "witness": signed(cast.bob)}
    services.ledger_post(kind="waste", change_mg=Decimal("-2.50"), reason="spilt", **where)
    page = client_for(cast.nurse).get(reverse("dosing:ledger")).content.decode()
    assert "<td>-2.5</td>" in page and "<td>1,997.5</td>" in page
    assert "-2.50" not in page


def test_the_loss_report_and_the_log_show_the_loss_as_written(cast, client_for):
    report = a_loss_report(cast)
    client = client_for(cast.bob)
    assert "100 mg of" in client.get(reverse("dosing:loss_report", args=[report.pk])).content.decode()
    page = client.get(reverse("dosing:ledger")).content.decode()
    assert "100 mg of" in page and "100.00 mg" not in page


def test_a_count_discrepancy_is_shown_as_written(cast, stock, client_for):
    where = {"actor": cast.nurse, "lot": stock.lot, "location": stock.location, "witness": signed(cast.bob)}
    services.ledger_post(kind="count", change_mg=Decimal("0"), counted_mg=Decimal("1997.50"), **where)
    page = client_for(cast.nurse).get(reverse("dosing:ledger")).content.decode()
    assert "counted 1,997.5 mg, log said 2,000 mg (-2.5 mg)" in page


def test_the_csv_export_keeps_the_stored_values(cast, client_for):
    receive_stock(
        actor=cast.nurse,
        drug="ketamine",
        form="lozenge",
        strength=Decimal("100"),
        lot_number="BIG-1",
        expires_on=datetime.date(2030, 1, 1),
        location="Main safe",
        amount_mg=Decimal("12000"),
    )
    response = client_for(cast.nurse).get(reverse("dosing:ledger_export", args=["csv"]))
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert "12000.00" in rows[0].values()
