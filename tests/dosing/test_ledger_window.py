"""The ledger page reads one window of entries from a position in the log and offers only the lots in stock (with
the lot it is filtered to): its queries do not grow with the log, every entry is reached once, and each shows the
running balance of its lot and location."""

import datetime
from collections import defaultdict
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kapstone.dosing import selectors, services
from kapstone.dosing.models import LedgerEntry, Location
from tests.dosing.helpers import receive_stock, signed, signing


def _used_up_lot(cast, number: int):
    entry = receive_stock(
        actor=cast.nurse,
        drug="ketamine",
        form="lozenge",
        strength=Decimal("100"),
        lot_number=f"USED-{number}",
        expires_on=datetime.date(2030, 1, 1),
        location="Main safe",
        amount_mg=Decimal("300"),
    )
    services.ledger_post(
        actor=cast.nurse,
        lot=entry.lot,
        location="Main safe",
        kind="administration",
        change_mg=Decimal("-300"),
        witness=signed(cast.bob),
    )
    return entry.lot.balances.get()


def _administer(cast, stock, amount="10"):
    return services.ledger_post(
        actor=cast.nurse,
        lot=stock.lot,
        location=stock.location,
        kind="administration",
        change_mg=-Decimal(amount),
        witness=signed(cast.bob),
    )


def test_the_ledger_page_uses_the_same_number_of_queries_as_lots_are_used_up_and_entries_accumulate(
    cast, stock, client_for
):
    client = client_for(cast.nurse)
    url = reverse("dosing:ledger")
    client.get(url)
    with CaptureQueriesContext(connection) as first:
        assert client.get(url).status_code == 200
    used_up = [_used_up_lot(cast, number) for number in range(3)]
    for _ in range(selectors.LEDGER_PAGE_SIZE + 5):
        _administer(cast, stock, "1")
    with CaptureQueriesContext(connection) as second:
        page = client.get(url).content.decode()
    assert len(second) == len(first)
    # A used-up lot is neither listed nor offered, but its entries link to it, and filtered to it the page offers it.
    assert "USED-0" not in page.split('id="entries"')[0]
    filtered = client.get(url, {"lot": used_up[0].lot_id}).content.decode()
    assert f'<option value="{used_up[0].pk}">' in filtered
    assert f'href="?lot={used_up[0].lot_id}#entries"' in filtered


def test_the_windows_reach_every_entry_once_each_with_its_running_balance(cast, stock, client_for, monkeypatch):
    monkeypatch.setattr(selectors, "LEDGER_PAGE_SIZE", 3)
    for amount in ("5", "7", "11", "13", "17", "19", "23"):
        _administer(cast, stock, amount)
    _used_up_lot(cast, 1)
    client = client_for(cast.nurse)
    url = reverse("dosing:ledger")
    seen, response = [], client.get(url)
    while True:
        seen += [row.entry for row in response.context["rows"]]
        older = response.context["older_url"]
        if not older:
            break
        assert response.context["newer_url"] or len(seen) == 3
        response = client.get(url + older.split("#")[0])
    newest_first = list(LedgerEntry.objects.order_by("-recorded_at", "-id"))
    assert [entry.pk for entry in seen] == [entry.pk for entry in newest_first]
    running = defaultdict(Decimal)
    for entry in reversed(newest_first):
        running[(entry.lot_id, entry.location)] += entry.change_mg
        shown = next(row for row in seen if row.pk == entry.pk)
        assert shown.balance_after_mg == running[(entry.lot_id, entry.location)]
    # Back through the newer windows to the newest page.
    while response.context["newer_url"]:
        response = client.get(url + response.context["newer_url"].split("#")[0])
    assert [row.entry.pk for row in response.context["rows"]] == [entry.pk for entry in newest_first[:3]]


def test_a_window_from_an_entry_that_does_not_exist_is_the_newest_page(cast, stock, client_for):
    client = client_for(cast.nurse)
    for position in ("older_than", "newer_than"):
        for value in ("999999999", "abc", "-1", "9" * 40):
            response = client.get(reverse("dosing:ledger"), {position: value})
            assert response.status_code == 200
            assert [row.entry.pk for row in response.context["rows"]] == [
                entry.pk for entry in LedgerEntry.objects.order_by("-recorded_at", "-id")[:50]
            ]


def test_an_inventory_still_counts_a_used_up_lot_it_is_given(cast, stock, client_for):
    used_up = _used_up_lot(cast, 1)
    location = Location.objects.get(name="Main safe")
    data = {
        "inventory-location": location.pk,
        "inventory-kind": "ad_hoc",
        "inventory-taken_on": timezone.localdate().isoformat(),
        "inventory-timing": "close",
        **signing("inventory-witness", cast.bob),
        f"inventory-lot-{stock.pk}-units": "20",
        f"inventory-lot-{stock.pk}-opened_mg": "0",
        f"inventory-lot-{used_up.pk}-units": "0",
        f"inventory-lot-{used_up.pk}-opened_mg": "0",
    }
    response = client_for(cast.nurse).post(reverse("dosing:ledger_action", args=["inventory"]), data)
    assert response.status_code == 302
    assert LedgerEntry.objects.filter(lot=used_up.lot, kind="count", counted_mg=0).exists()


def test_the_date_filters_take_the_practices_whole_days(cast, stock):
    day = datetime.date(2026, 3, 10)
    late, next_midnight = (
        timezone.make_aware(datetime.datetime.combine(day, datetime.time(23, 59, 59))),
        timezone.make_aware(datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time.min)),
    )
    entries = [
        LedgerEntry.objects.create(
            lot=stock.lot,
            location=stock.location,
            kind="count",
            change_mg=Decimal("0"),
            balance_after_mg=stock.balance_mg,
            counted_mg=stock.balance_mg,
            discrepancy_mg=Decimal("0"),
            recorded_by=cast.nurse,
            witness=cast.bob,
            recorded_at=at,
        )
        for at in (late, next_midnight)
    ]
    on_the_day = selectors.LedgerFilter(since=day, until=day).entries()
    assert list(on_the_day) == entries[:1]
    assert (
        list(
            selectors.LedgerFilter(since=day + datetime.timedelta(days=1))
            .entries()
            .filter(pk__in=[e.pk for e in entries])
        )
        == entries[1:]
    )


def _window_as_the_orm_reads_it(filters, *, older_than=None, newer_than=None):
    """_entries_window's answer worked out in Python from every entry under the filters."""
    newest_first = list(filters.entries().order_by("-recorded_at", "-id"))
    size = selectors.LEDGER_PAGE_SIZE
    anchor = LedgerEntry.objects.filter(pk=older_than or newer_than).first() if older_than or newer_than else None
    if anchor is not None:
        position = (anchor.recorded_at, anchor.pk)
        if older_than:
            older = [entry for entry in newest_first if (entry.recorded_at, entry.pk) < position]
            return older[:size], True, len(older) > size
        newer = [entry for entry in reversed(newest_first) if (entry.recorded_at, entry.pk) > position]
        if len(newer) > size:
            return newer[:size][::-1], True, True
    return newest_first[:size], False, len(newest_first) > size


def test_each_window_under_each_filter_is_the_one_its_entries_give(cast, stock, monkeypatch):
    """The windows are compiled once for each set of filters given and each direction: every such read gives the
    entries the filters and the position give, entries recorded at the same moment in the order of their ids."""
    monkeypatch.setattr(selectors, "LEDGER_PAGE_SIZE", 3)
    day = datetime.date(2026, 3, 10)
    other = _used_up_lot(cast, 1)
    moments = [timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour))) for hour in (8, 8, 9, 23)]
    moments += [moment + datetime.timedelta(days=1) for moment in moments]
    for number, at in enumerate(moments * 2):
        balance = stock if number % 3 else other
        LedgerEntry.objects.create(
            lot=balance.lot,
            location=balance.location if number % 2 else "Back safe",
            kind="count",
            change_mg=Decimal("0"),
            balance_after_mg=balance.balance_mg,
            counted_mg=balance.balance_mg,
            discrepancy_mg=Decimal("0"),
            recorded_by=cast.nurse,
            witness=cast.bob,
            recorded_at=at,
        )
    every_filter = [
        selectors.LedgerFilter(),
        selectors.LedgerFilter(location="Back safe"),
        selectors.LedgerFilter(lot_id=stock.lot_id),
        selectors.LedgerFilter(since=day + datetime.timedelta(days=1)),
        selectors.LedgerFilter(until=day),
        selectors.LedgerFilter(location="Main safe", lot_id=stock.lot_id, since=day, until=day),
    ]
    entry_ids = [None, *LedgerEntry.objects.values_list("pk", flat=True), 999_999]
    for filters in every_filter:
        for entry_id in entry_ids:
            for position in ("older_than", "newer_than"):
                window, has_newer, has_older = selectors._entries_window(filters, **{position: entry_id})
                expected, expected_newer, expected_older = _window_as_the_orm_reads_it(filters, **{position: entry_id})
                assert ([entry.pk for entry in window], has_newer, has_older) == (
                    [entry.pk for entry in expected],
                    expected_newer,
                    expected_older,
                ), (filters, position, entry_id)
                assert [entry.lot.lot_number for entry in window] == [entry.lot.lot_number for entry in expected]
