"""The group list's rows drawn in Python (program_tags.group_list_rows) say what the template's loop said."""

import datetime
import itertools
from pathlib import Path

from django.template import engines

from kapstone.program.models import Group
from kapstone.program.selectors import GroupListRow
from kapstone.program.templatetags.program_tags import group_list_rows
from tests.parity import between_tags

OLD_ROWS = (Path(__file__).parent / "group_list_row_template.html").read_text()


def _rows() -> list[GroupListRow]:
    rows = []
    cases = itertools.product(
        ["Tuesday group", '<b>"Wed"</b> & Thu\'s'],
        Group.Status.values,
        [[], ["Okafor"], ["Tran", 'O"Neil & <Sons>']],
        [(0, 0, 0), (4, 3, 0), (0, 0, 4), (1, 0, 2)],
    )
    for number, (name, status, facilitators, (enrolled, waiting, completed)) in enumerate(cases, start=1):
        group = Group(
            pk=number, name=name, status=status, max_size=4, start_date=datetime.date(2026, 1, 1 + number % 28)
        )
        group.enrolled_count = enrolled  # type: ignore[attr-defined]
        group.waitlist_count = waiting  # type: ignore[attr-defined]
        group.completed_count = completed  # type: ignore[attr-defined]
        rows.append(GroupListRow(group, facilitators))
    return rows


def test_the_rows_drawn_in_python_are_the_templates_rows():
    rows = _rows()
    old = engines["django"].from_string(OLD_ROWS).render({"rows": rows})
    new = group_list_rows(rows)
    assert between_tags(new) == between_tags(old)
    assert "O&quot;Neil &amp; &lt;Sons&gt;" in new and "4 of 4" in new
    assert "4 of 4 (4 completed)" in new and "3 of 4 (2 completed)" in new
