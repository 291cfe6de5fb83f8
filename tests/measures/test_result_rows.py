"""The results table's rows, written out in Python (measures/result_rows.py), come out exactly as the template they
replace (result_rows_template.html beside this file) drew them: a baseline alone, no rows, a long list, each way
reliable change is judged and found, response, remission, critical items, the patient's words, staff and patient
entries, odd totals, dates either side of midnight, and awkward text everywhere text is shown."""

import datetime
import itertools
from pathlib import Path

import pytest
from django.template import Context, Template
from django.utils import timezone

from kapstone.accounts.models import User
from kapstone.measures.models import Assessment
from kapstone.measures.result_rows import result_rows
from kapstone.measures.scoring import get_instrument
from kapstone.measures.selectors import Trajectory

TEMPLATE = Template(Path(__file__).with_name("result_rows_template.html").read_text())
AWKWARD = '<b>"O\'Brien" & co</b>'
UTC = datetime.UTC

CHANGES = [
    None,
    {},
    {"change": -7, "reliable_change_method": "jacobson_truax", "rci": -2.345, "reliable_improvement": True}
    | {"response": True, "remission": True},
    {"change": 3.5, "reliable_change_method": "jacobson_truax", "rci": 1.5, "reliable_deterioration": False},
    {"change": 6, "reliable_change_method": "fixed_threshold", "reliable_change_threshold": 5.0}
    | {"reliable_deterioration": True},
    {"change": 0, "reliable_change_method": "fixed_threshold", "reliable_change_threshold": 6}
    | {"response": True, "remission": False},
    {"change": -12.25, "reliable_change_method": None, "remission": True},
    {"change": AWKWARD, "reliable_change_method": "jacobson_truax", "rci": AWKWARD},
    {"reliable_change_method": "fixed_threshold", "reliable_improvement": True},
]
ENTERED_BY = [None, User(first_name="Ada", last_name="Okafor"), User(first_name=AWKWARD, last_name=AWKWARD)]
# Either side of midnight in the practice's time zone and of UTC, the first day a result may carry, and none.
COMPLETED_AT = [
    datetime.datetime(2026, 3, 1, 3, 30, tzinfo=UTC),
    datetime.datetime(2026, 3, 1, 23, 59, tzinfo=UTC),
    datetime.datetime(1900, 1, 1, 12, tzinfo=UTC),
    None,
]
TOTALS = [12, 12.0, 12.5, 0, None]
OCCASIONS = [("baseline", ""), (Assessment.AD_HOC, "Unscheduled"), ("pre_dosing_2", ""), ("follow_up", AWKWARD)]


def _point(index: int) -> Assessment:
    occasion, label = OCCASIONS[index % len(OCCASIONS)]
    return Assessment(
        instrument_id="phq9",
        occasion=occasion,
        occasion_label=label,
        total=TOTALS[index % len(TOTALS)],
        severity=["", "moderate", AWKWARD][index % 3],
        critical=index % 4 == 1,
        free_text=["", AWKWARD, "slept better"][index % 3 - 1],
        entered_by=ENTERED_BY[index % len(ENTERED_BY)],
        completed_at=COMPLETED_AT[index % len(COMPLETED_AT)],
    )


def _drawn_both_ways(points: list[Assessment], changes: list) -> tuple[str, str]:
    trajectory = Trajectory(instrument=get_instrument("phq9"), points=points, changes=changes)
    return TEMPLATE.render(Context({"trajectory": trajectory})), result_rows(trajectory)


@pytest.mark.parametrize("zone", ["America/New_York", "Pacific/Auckland", "UTC"])
def test_every_state_of_a_row_comes_out_as_the_template_drew_it(settings, zone):
    settings.TIME_ZONE = zone
    with timezone.override(zone):
        for count in (0, 1, 2, 45):
            # Every change beside every point shape, shifted so each point meets each change.
            for shift in range(len(CHANGES)):
                points = [_point(index + shift) for index in range(count)]
                changes = [CHANGES[(index + shift) % len(CHANGES)] for index in range(count)]
                expected, drawn = _drawn_both_ways(points, changes)
                assert drawn == expected


def test_each_pairing_of_change_and_point_comes_out_as_the_template_drew_it():
    for index, change in itertools.product(range(12), CHANGES):
        expected, drawn = _drawn_both_ways([_point(index), _point(index + 1)], [None, change])
        assert drawn == expected


def test_awkward_text_is_escaped_as_the_template_escapes_it():
    point = _point(2)
    point.entered_by, point.free_text = ENTERED_BY[2], AWKWARD
    _, drawn = _drawn_both_ways([_point(0), point], [None, CHANGES[7]])
    assert "<b>" not in drawn and "&lt;b&gt;&quot;O&#x27;Brien&quot; &amp; co&lt;/b&gt;" in drawn


def test_the_first_result_keeps_its_occasion_and_the_patients_own_say_who_entered_them():
    """The first row read "baseline" whatever its occasion, and a result the patient gave read a bare "patient"."""
    _, drawn = _drawn_both_ways([_point(0), _point(1)], [None, CHANGES[2]])
    assert "<td>Baseline</td>" in drawn and "<td>baseline</td>" not in drawn
    assert '<td class="hide-narrow">The patient, in the portal</td>' in drawn
    _, drawn = _drawn_both_ways([_point(2), _point(1)], [None, CHANGES[2]])
    assert '<td>Pre dosing 2 <span class="muted">(changes are counted from here)</span></td>' in drawn
