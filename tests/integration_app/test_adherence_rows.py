"""The adherence table's rows and groups drawn in Python (integration_tags.adherence_row_writer and adherence_groups)
say what the template's loops said, in every state a row can be in."""

import datetime
import itertools
from pathlib import Path

import pytest
from django.template import engines
from django.utils import timezone
from django.utils.safestring import mark_safe

from kapstone.integration.models import IntegrationWindow
from kapstone.integration.selectors import GroupAdherence, WindowStatus
from kapstone.integration.templatetags.integration_tags import adherence_groups, adherence_row_writer
from kapstone.integration.window import Adherence, window_bounds
from kapstone.patients.models import Patient
from tests.parity import between_tags

OLD_ROWS = (Path(__file__).parent / "adherence_row_template.html").read_text()
OLD_GROUPS = (Path(__file__).parent / "adherence_group_template.html").read_text()
SETTINGS = {"preferred_hours": 48, "outer_hours": 72}
DOSED = datetime.datetime(2026, 3, 28, 23, 30, tzinfo=datetime.UTC)  # the night the clocks change in Europe


class RowAsTheTemplateRead(WindowStatus):
    """A row with the label the old template read from it (the page's writer takes it from ADHERENCE_BADGES)."""

    @property
    def adherence_label(self) -> str:
        return Adherence.LABELS[self.adherence]


def _rows() -> list[WindowStatus]:
    patients = [
        Patient(pk=7, given_name="Ann", family_name="Lee"),
        Patient(pk=8, given_name='<b>"Bo" & Co</b>', family_name="O'Neil", preferred_name="Bö"),
    ]
    rows = []
    states = itertools.product(
        patients,
        [None, DOSED + datetime.timedelta(hours=30), DOSED + datetime.timedelta(hours=90)],  # booked at
        [None, DOSED + datetime.timedelta(hours=20)],  # done at
        [False, True],  # a prompt undelivered
        list(Adherence.LABELS),
    )
    for patient, booked_at, done_at, undelivered, adherence in states:
        rows.append(
            RowAsTheTemplateRead(
                window=IntegrationWindow(patient=patient, dosed_at=DOSED),
                bounds=window_bounds(DOSED, SETTINGS),
                done_at=done_at,
                booked_at=booked_at,
                adherence=adherence,
                undelivered=undelivered,
            )
        )
    return rows


@pytest.mark.parametrize("zone", ["Europe/London", "America/Los_Angeles"])
def test_the_rows_drawn_in_python_are_the_templates_rows(zone):
    rows = _rows()
    with timezone.override(zone):
        old = engines["django"].from_string(OLD_ROWS).render({"group": {"rows": rows}, "window": SETTINGS})
        new = "\n".join(map(adherence_row_writer(SETTINGS), rows))
    assert between_tags(new) == between_tags(old)
    assert "&lt;b&gt;&quot;Bo&quot; &amp; Co&lt;/b&gt;" in new and "not booked" in new and "after 72 h" in new
    # The table may span more than a year: each day says which.
    assert "Sat 28 Mar 2026, " in new


@pytest.mark.parametrize("window", [SETTINGS, {"preferred_hours": 36.5, "outer_hours": 60}])
def test_the_groups_drawn_in_python_are_the_templates_groups(window):
    rows = _rows()
    groups = [
        GroupAdherence(group_id=3, name='Cedar <"spring"> & co', rows=rows[:5]),
        GroupAdherence(group_id=12, name="Willow", rows=rows[5:]),
    ]
    # The template's groups held the group itself (its pk and name) and the rows.
    row = adherence_row_writer(window)
    shaped = [
        {
            "group": {"pk": g.group_id, "name": g.name},
            "counts": g.counts,
            "drawn_rows": mark_safe("\n".join(map(row, g.rows))),  # noqa: S308 - the writer escapes every value
        }
        for g in groups
    ]
    old = engines["django"].from_string(OLD_GROUPS).render({"groups": shaped, "window": window})
    new = adherence_groups(groups, window)
    assert new == old
    assert "Cedar &lt;&quot;spring&quot;&gt; &amp; co" in new and f"within {window['preferred_hours']} h:" in new


def test_no_groups_draw_nothing():
    assert adherence_groups([], SETTINGS) == ""
