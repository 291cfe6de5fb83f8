"""The controlled-substance log's entries as the ledger page's table rows, written out in Python.

The page shows a window of 50 entries. Drawn by the template, each row's fifteen values (each looked up, localized
and escaped by the template engine) took about 8 ms of the page's 45 ms of CPU time; written out here, about 2 ms.
The markup is exactly what the template drew: tests/dosing/test_ledger_rows.py draws rows of every kind both ways.
"""

import datetime
from decimal import Decimal

from django.utils.encoding import force_str
from django.utils.formats import get_format
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import get_current_timezone, localtime
from django.utils.translation import get_language

from kapstone.dosing.models import LedgerEntry
from kapstone.dosing.selectors import LedgerRow
from kapstone.formrender import shown
from kapstone.practice.templatetags.kapstone_tags import worded_day_and_time, written_quantity


def _when(value: datetime.datetime, language: str | None, zone: datetime.tzinfo) -> str:
    """`{{ value|date:"D j M Y, H:i" }}` ("Tue 3 Mar 2026, 09:05", the product's style, with the year: the log
    spans years): in the practice's time zone (`zone`, looked up once for the page's rows: looked up for each time,
    it cost more than the conversion), as the filter takes a time, the day worded once per day
    (worded_day_and_time)."""
    return shown(worded_day_and_time(localtime(value, zone), "D j M Y", language))


# The kinds' labels (lazy, so each is worded in the language of the request that shows it), by kind.
_KIND_LABELS = dict(LedgerEntry._meta.get_field("kind").flatchoices)


def _kind(entry: LedgerEntry) -> str:
    """`{{ entry.get_kind_display }}` without working out the field's choices again for each entry, which took
    longer than writing the row's other values."""
    return force_str(_KIND_LABELS.get(entry.kind, entry.kind), strings_only=True)


def _signer(user) -> str:
    """`{{ user.last_name|default:user.username }}`."""
    return shown(user.last_name or user.username)


def _row(row: LedgerRow, separators: tuple[str, str], language: str | None, zone: datetime.tzinfo) -> str:
    e = row.entry

    def amount(value: Decimal) -> str:
        return shown(written_quantity(value, *separators))

    discrepancy = f' <span class="badge danger">{amount(e.discrepancy_mg)}</span>' if e.discrepancy_mg else ""
    units = amount(row.units) if row.units is not None else ""
    signers = _signer(e.recorded_by) + (f" / {_signer(e.witness)}" if e.witness else "")
    corrects = ""
    if e.corrects:
        corrected = e.corrects
        corrects = (
            f'<a href="#entry-{shown(e.corrects_id)}">corrects #{shown(e.corrects_id)}</a> '
            f"({shown(_kind(corrected).lower())} of {_when(corrected.recorded_at, language, zone)}, "
            f"{amount(corrected.change_mg)} mg): "
        )
    return (
        f'<tr id="entry-{shown(e.pk)}"><td>{shown(e.pk)}</td><td>{_when(e.recorded_at, language, zone)}</td>'
        f"<td>{shown(_kind(e))}{discrepancy}</td>"
        f'<td><a href="?lot={shown(e.lot_id)}#entries">{shown(e.lot.lot_number)}</a></td><td>{shown(e.location)}</td>\n'
        f"<td>{amount(e.change_mg)}</td><td>{units}</td><td>{amount(e.balance_after_mg)}</td>"
        f"<td>{signers}</td>"
        f"<td>{shown(row.patient_label)}</td><td>{corrects}{shown(e.reason)}</td></tr>"
    )


def entry_rows(rows: list[LedgerRow]) -> SafeString:
    """The rows of the ledger page's table of entries, each followed by a line break as the template wrote it. The
    language's decimal and thousands separators are looked up once for the page's amounts: looked up for each amount,
    they took longer than writing the amount. Each amount is written as a clinician writes it ("12,000", "2.5":
    the `quantity` filter); the exports keep the stored values."""
    separators = (get_format("DECIMAL_SEPARATOR"), get_format("THOUSAND_SEPARATOR"))
    language, zone = get_language(), get_current_timezone()
    return mark_safe("".join(_row(row, separators, language, zone) + "\n" for row in rows))  # noqa: S308 - every value is escaped by shown()
