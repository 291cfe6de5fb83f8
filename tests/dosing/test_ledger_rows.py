"""The ledger page's rows of entries, written out in Python (dosing/ledger_rows.py), come out exactly as the page's
template drew them, for entries of every kind, in and outside the viewer's care team, and awkward text."""

from decimal import Decimal

from django.template import Context, Template
from django.utils import timezone

from kapstone.dosing import selectors, services
from kapstone.dosing.ledger_rows import entry_rows
from kapstone.dosing.models import LedgerEntry
from tests.dosing.helpers import receive_stock, signed

# The loop dosing/ledger.html drew its rows with, before they were written out in Python.
ROWS_TEMPLATE = (
    "{% load kapstone_tags %}"
    '{% for row in rows %}{% with e=row.entry %}<tr id="entry-{{ e.pk }}"><td>{{ e.pk }}</td><td>'
    '{{ e.recorded_at|date:"D j M Y, H:i" }}</td><td>{{ e.get_kind_display }}{% if e.discrepancy_mg %}'
    ' <span class="badge danger">{{ e.discrepancy_mg|quantity }}</span>{% endif %}</td><td>'
    '<a href="?lot={{ e.lot_id }}#entries">{{ e.lot.lot_number }}</a></td><td>{{ e.location }}</td>\n<td>'
    "{{ e.change_mg|quantity }}</td><td>{% if row.units is not None %}{{ row.units|quantity }}{% endif %}</td><td>"
    "{{ e.balance_after_mg|quantity }}</td><td>"
    "{{ e.recorded_by.last_name|default:e.recorded_by.username }}{% if e.witness %}"
    " / {{ e.witness.last_name|default:e.witness.username }}{% endif %}</td><td>"
    '{{ row.patient_label }}</td><td>{% if e.corrects %}<a href="#entry-{{ e.corrects_id }}">'
    "corrects #{{ e.corrects_id }}</a>"
    ' ({{ e.corrects.get_kind_display|lower }} of {{ e.corrects.recorded_at|date:"D j M Y, H:i" }}, {{ e.corrects.change_mg|quantity }} mg): {% endif %}'
    "{{ e.reason }}</td></tr>{% endwith %}\n{% endfor %}"
)


def test_the_rows_come_out_as_the_template_drew_them(cast, stock, ready_record):
    cast.nurse.last_name = "O'Brien & <Sons>"
    cast.nurse.save(update_fields=["last_name"])
    awkward = receive_stock(
        actor=cast.nurse,
        drug="ketamine",
        form="lozenge",
        strength=Decimal("100"),
        lot_number='L-"1" & <2>',
        expires_on=stock.lot.expires_on,
        location="Main safe",
        amount_mg=Decimal("1000.50"),
    ).lot.balances.get()
    services.dose_administer(actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob))
    where = {"actor": cast.nurse, "lot": awkward.lot, "location": awkward.location, "witness": signed(cast.bob)}
    count = services.ledger_post(kind="count", change_mg=Decimal("0"), counted_mg=Decimal("990"), **where)
    services.ledger_post(
        kind="correction", change_mg=Decimal("-10.50"), corrects=count, reason='keyed "twice" <b>&', **where
    )
    services.ledger_post(kind="waste", change_mg=Decimal("-0.25"), reason="spilt", **where)
    assert LedgerEntry.objects.filter(discrepancy_mg__isnull=False).exclude(discrepancy_mg=0).exists()
    for viewer in (cast.bob, cast.charlie):
        window = selectors.ledger(user=viewer)
        assert {row.entry.kind for row in window.rows} >= {"receipt", "administration", "count", "correction", "waste"}
        assert entry_rows(window.rows) == Template(ROWS_TEMPLATE).render(Context({"rows": window.rows}))
    # Each entry's time in the product's style ("Tue 3 Mar 2026, 09:05"), with the year, not ISO.
    when = timezone.localtime(count.recorded_at)
    assert f"<td>{when:%a} {when.day} {when:%b %Y, %H:%M}</td>" in entry_rows(window.rows)


def test_the_rows_write_each_time_in_the_zone_the_page_is_shown_in(cast, stock, ready_record):
    services.dose_administer(actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob))
    rows = selectors.ledger(user=cast.bob).rows
    for zone in ("UTC", "Pacific/Kiritimati", "America/Los_Angeles"):
        with timezone.override(zone):
            assert entry_rows(rows) == Template(ROWS_TEMPLATE).render(Context({"rows": rows}))
