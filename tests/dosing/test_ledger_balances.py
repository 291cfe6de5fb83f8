"""The ledger page reads its balances once (selectors.ledger_balances) for its table, its forms' lots, the
inventory's counts and the filter's lots and locations, and reads the staff who may sign with the log's signers
(issue 19): each list comes out as its own query gave it (rows that query's order leaves tied, by id), and the page's
queries stay the same however many lots, locations, entries and signers it has."""

import datetime
import html
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from kapstone.accounts.roles import Role
from kapstone.dosing import selectors, services
from kapstone.dosing.models import LotBalance, SubstanceLot
from kapstone.dosing.selectors import LedgerFilter, in_stock_or
from tests.conftest import make_user
from tests.dosing.helpers import a_loss_report, receive_stock, signed


def _stock(cast, lot_number: str, location: str, expires_on: datetime.date, *, used_up: bool = False) -> LotBalance:
    balance = receive_stock(
        actor=cast.nurse,
        drug="ketamine",
        form="lozenge",
        strength=Decimal("100"),
        lot_number=lot_number,
        expires_on=expires_on,
        location=location,
        amount_mg=Decimal("300"),
    ).lot.balances.get()
    if used_up:
        services.ledger_post(
            actor=cast.nurse,
            lot=balance.lot,
            location=location,
            kind="administration",
            change_mg=Decimal("-300"),
            witness=signed(cast.bob),
        )
    return balance


def _practice_stock(cast) -> list[LotBalance]:
    """Lots whose lot numbers, expiries and locations each order them otherwise than their ids, with ties."""
    soon, later = datetime.date(2029, 1, 1), datetime.date(2030, 1, 1)
    return [
        _stock(cast, "Z-9", "Main safe", later),
        _stock(cast, "A-1", "Annex", later),
        _stock(cast, "M-5", "Main safe", soon),
        _stock(cast, "A-1-used", "Annex", soon, used_up=True),
        _stock(cast, "B-2", "Main safe", later),
        _stock(cast, "C-3", "Back room", soon, used_up=True),
    ]


def test_each_list_of_balances_comes_out_as_its_own_query_gave_it(cast):
    stock = _practice_stock(cast)
    lot_ids = [None, stock[0].lot_id, stock[3].lot_id, stock[5].lot_id]
    for lot_id in lot_ids:
        read = selectors.ledger_balances(lot_id=lot_id)
        assert read.locations == ["Annex", "Back room", "Main safe"]
        offered = LotBalance.objects.filter(in_stock_or(lot_id)).order_by("lot__lot_number", "pk")
        assert read.offered(lot_id) == list(offered)
        held = LotBalance.objects.filter(balance_mg__gt=0).order_by("location", "lot__lot_number", "pk")
        assert read.held() == list(held)
        in_stock = LotBalance.objects.filter(in_stock_or(lot_id)).values("lot")
        lots = SubstanceLot.objects.filter(pk__in=in_stock).order_by("expires_on", "lot_number", "pk")
        assert read.lots() == list(lots)
        for location in ("", "Main safe", "Annex", "Back room", "Nowhere"):
            for filtered_lot_id in {None, lot_id}:
                filters = LedgerFilter(location=location, lot_id=filtered_lot_id)
                listed = LotBalance.objects.filter(in_stock_or(filtered_lot_id))
                if location:
                    listed = listed.filter(location=location)
                if filtered_lot_id:
                    listed = listed.filter(lot_id=filtered_lot_id)
                assert read.listed(filters) == list(listed.order_by("lot__expires_on", "location", "pk")), filters
    # Each list holds the lots and amounts read, with their lots, whatever it shows of them.
    assert [balance.lot.lot_number for balance in selectors.ledger_balances().listed(LedgerFilter())] == [
        "M-5",
        "A-1",
        "Z-9",
        "B-2",
    ]


def test_the_ledger_page_reads_balances_and_staff_the_same_number_of_times_however_many_it_shows(
    cast, stock, client_for
):
    client = client_for(cast.nurse)
    url = reverse("dosing:ledger")
    client.get(url)
    with CaptureQueriesContext(connection) as first:
        client.get(url)
    _practice_stock(cast)
    former = make_user("former", Role.NURSE, last_name="Former")
    newcomer = make_user("newcomer", Role.NURSE, last_name="Newcomer")
    for signer in (former, newcomer, cast.admin):
        services.ledger_post(
            actor=signer,
            lot=stock.lot,
            location=stock.location,
            kind="administration",
            change_mg=Decimal("-1"),
            witness=signed(cast.bob),
        )
    former.is_active = False
    former.save()
    with CaptureQueriesContext(connection) as second:
        page = client.get(url).content.decode()
    assert len(second) == len(first)
    for queries in (first, second):
        balances = [q for q in queries if 'FROM "dosing_lotbalance"' in q["sql"]]
        assert len(balances) == 2  # the balances with their lots, and the locations
        staff = [q for q in queries if q["sql"].startswith('SELECT "accounts_user"') and '"role" IN' in q["sql"]]
        assert len(staff) == 1
    # The former nurse signed an entry the log shows, but is offered as a signer no more; the newcomer is.
    entries, witness = page.split('id="entries"')[1], page.split('name="count-witness"')[1].split("</select>")[0]
    assert "<td>Former / bob</td>" in entries and "<td>Newcomer / bob</td>" in entries
    assert f'<option value="{newcomer.pk}">' in witness and f'<option value="{former.pk}">' not in witness


def test_the_loss_reports_waiting_are_listed_as_the_template_draws_them_from_one_read(cast, stock, client_for):
    report = a_loss_report(cast)
    client = client_for(cast.nurse)
    url = reverse("dosing:ledger")
    client.get(url)
    with CaptureQueriesContext(connection) as first:
        page = client.get(url).content.decode()
    on = report.form106_due_on
    due = f"{on:%a} {on.day} {on:%b %Y}"
    assert (
        f'<li><a href="{reverse("dosing:loss_report", args=[report.pk])}">100 mg of {report.discrepancy.lot} at '
        f"Main safe</a>: DEA Form 106 due by {due} (not yet submitted); state not yet notified</li>"
    ) in html.unescape(page)
    # A second report waiting adds no read.
    lot = _stock(cast, "LOSS-2", "Main safe", datetime.date(2030, 1, 1)).lot
    where = {"actor": cast.nurse, "lot": lot, "location": "Main safe", "witness": signed(cast.bob)}
    count = services.ledger_post(kind="count", change_mg=Decimal("0"), counted_mg=Decimal("250"), **where)
    services.ledger_post(kind="correction", change_mg=Decimal("-50"), corrects=count, reason="not found", **where)
    with CaptureQueriesContext(connection) as more:
        page = client.get(url).content.decode()
    assert len(more) == len(first) and page.count("DEA Form 106 due by") == 2


def _listed_and_offered(page: str) -> tuple[str, str]:
    """The page's table of balances, and the lots and locations its count form offers."""
    return (
        page.split("<h2>Balances</h2>")[1].split('<div class="grid">')[0],
        page.split('name="count-balance"')[1].split("</select>")[0],
    )


def test_a_lot_asked_for_in_a_form_the_filter_reads_but_no_id_is_lists_that_lots_balances(cast, stock, client_for):
    used_up = _stock(cast, "USED-1", "Main safe", datetime.date(2030, 1, 1), used_up=True)
    client = client_for(cast.nurse)
    url = reverse("dosing:ledger")
    plain = _listed_and_offered(client.get(url, {"lot": str(used_up.lot_id)}).content.decode())
    assert f'<a href="?lot={used_up.lot_id}">' in plain[0] and f'<option value="{used_up.pk}">' in plain[1]
    for spelled in (f" {used_up.lot_id}", f"+{used_up.lot_id}"):
        response = client.get(url, {"lot": spelled})
        assert response.status_code == 200 and _listed_and_offered(response.content.decode()) == plain, spelled
