"""The rows of a patient's results table on the measures page (one row per completed questionnaire), written out in
Python.

Drawn by the page's template, each row's dozen lookups, conditions and escapes made the tables the largest loop
of the page (issue 19). The markup is exactly what the template drew, line breaks and indentation included:
tests/measures/test_result_rows.py draws rows of every state both ways against the template this replaces
(result_rows_template.html beside it).
"""

from collections.abc import Callable
from typing import Any

from django.utils.safestring import SafeString, mark_safe

from kapstone.formrender import shown
from kapstone.measures.models import Assessment
from kapstone.measures.selectors import Trajectory
from kapstone.practice.templatetags.kapstone_tags import local_calendar_dates

# The plan occasion a course's first questionnaires are scheduled at (plans/default.yaml).
BASELINE_OCCASION = "baseline"
# Who entered a result no one on staff entered, as the triage table beside these says it.
PATIENT_IN_THE_PORTAL = "The patient, in the portal"


def _signed(value: Any) -> str:
    """`{{ value|stringformat:"+g" }}`: the number with its sign, nothing for what is not a number."""
    try:
        # The %-formatting stringformat does: a Decimal formats otherwise through str.format.
        return shown("%+g" % value)  # noqa: UP031
    except (ValueError, TypeError):
        return ""


def _reliable_change(change: dict[str, Any]) -> str:
    """The reliable change cell of a follow-up: the method's figure, then what it found."""
    method = change.get("reliable_change_method")
    if method == "jacobson_truax":
        figure = f"RCI {shown(change.get('rci', ''))}"
    elif method == "fixed_threshold":
        figure = f"≥ {shown(change.get('reliable_change_threshold', ''))} points"
    else:
        figure = "not defined"
    if change.get("reliable_improvement"):
        found = "improved"
    elif change.get("reliable_deterioration"):
        found = "deteriorated"
    else:
        found = "no reliable change"
    return f"{figure}:\n              {found}"


def _row(point: Assessment, change: dict[str, Any] | None, *, first: bool, day: Callable[[Any], str]) -> str:
    markers = (
        ('<span class="badge ok">response</span> ' if change and change.get("response") else "")
        + ('<span class="badge ok">remission</span>' if change and change.get("remission") else "")
        + (' <span class="badge danger">critical item</span>' if point.critical else "")
        + (f'<p class="help">In the patient\'s words: {shown(point.free_text)}</p>' if point.free_text else "")
    )
    critical = ' class="critical"' if point.critical else ""
    # The first result is what every change in the table is counted from: named by its own occasion, and said to be
    # the baseline where it is not the plan's baseline itself (a course's first questionnaire may be a later one).
    occasion = shown(point.occasion_display)
    if first and point.occasion != BASELINE_OCCASION:
        occasion += ' <span class="muted">(changes are counted from here)</span>'
    return (
        f"\n      <tr{critical}>\n"
        f"        <td>{shown(day(point.completed_at))}</td>\n"
        f"        <td>{occasion}</td>\n"
        f"        <td>{shown(point.total_display)}</td><td>{shown(point.severity or '—')}</td>\n"
        f"        <td>{_signed(change.get('change', '')) if change else '—'}</td>\n"
        f"        <td>{_reliable_change(change) if change else '—'}</td>\n"
        f"        <td>{markers}</td>\n"
        f'        <td class="hide-narrow">{shown(point.entered_by) if point.entered_by else PATIENT_IN_THE_PORTAL}</td>\n'
        "      </tr>\n    "
    )


def result_rows(trajectory: Trajectory) -> SafeString:
    """The table body's rows as the template's `{% for point, change in trajectory.rows %}` loop drew them."""
    day = local_calendar_dates("j M Y")  # the time zone and language looked up once for the table
    return mark_safe(  # noqa: S308 - every value is escaped above (shown), as the template's autoescaping did
        "".join(
            _row(point, change, first=index == 0, day=day)
            for index, (point, change) in enumerate(zip(trajectory.points, trajectory.changes, strict=True))
        )
    )
