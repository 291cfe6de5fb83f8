"""The rota's slot rows, written out in Python (alerts/rota_rows.py), come out exactly as the template loop they
replace (rota_rows_template.html beside this file) drew them: each weekday, daytime and overnight slots, times on
and off the hour and at midnight, with and without the remove buttons, and awkward names escaped as the template
escapes them."""

import datetime
import itertools
from pathlib import Path

from django.template import Context, Template

from kapstone.accounts.models import User
from kapstone.alerts.models import OnCallSlot
from kapstone.alerts.rota_rows import slot_rows

TEMPLATE = Template(Path(__file__).with_name("rota_rows_template.html").read_text())
AWKWARD = '<b>"O\'Brien" & co</b>'
TOKEN = "aBc123tokenXyz"
TIMES = [datetime.time(0), datetime.time(8), datetime.time(9, 5), datetime.time(18, 30), datetime.time(23, 59)]
PEOPLE = [
    User(username="ada", first_name="Ada", last_name="Okafor", credentials="MD"),
    User(username="plain"),
    User(username="x", first_name=AWKWARD, last_name=AWKWARD, credentials=AWKWARD),
]


def _slots(count: int) -> list[OnCallSlot]:
    pairs = list(itertools.product(TIMES, TIMES))
    return [
        OnCallSlot(
            pk=index + 1,
            prescriber=PEOPLE[index % len(PEOPLE)],
            weekday=index % 7,
            starts=pairs[index % len(pairs)][0],
            ends=pairs[index % len(pairs)][1],
        )
        for index in range(count)
    ]


def _drawn_both_ways(slots: list[OnCallSlot], *, can_edit: bool) -> tuple[str, str]:
    context = Context({"slots": slots, "can_edit": can_edit, "csrf_token": TOKEN})
    # The template file holds the loop on a line of its own.
    return TEMPLATE.render(context), slot_rows(slots, can_edit=can_edit, csrf_token=TOKEN) + "\n"


def test_every_kind_of_slot_comes_out_as_the_template_drew_it():
    for count, can_edit in itertools.product((0, 1, 2, 60), (True, False)):
        expected, drawn = _drawn_both_ways(_slots(count), can_edit=can_edit)
        assert drawn == expected


def test_awkward_names_are_escaped_as_the_template_escapes_them():
    _, drawn = _drawn_both_ways(_slots(3), can_edit=True)
    assert "<b>" not in drawn and "&lt;b&gt;&quot;O&#x27;Brien&quot; &amp; co&lt;/b&gt;" in drawn
    assert f'value="{TOKEN}"' in drawn and "(next day)" in drawn
