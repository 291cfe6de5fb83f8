"""The rows of the clinician's creativity page's two tables (its tasks and the symptom totals), written out in Python.

Drawn by the page's template, each task row's twenty lookups, number and date filters and its reversed address were
most of the page's drawing (issue 19). The markup is exactly what the template drew, line breaks and indentation
included: tests/creativity/test_page_rows.py draws rows of every state both ways against the template this replaces
(page_rows_template.html beside it).
"""

from django.template.defaultfilters import floatformat
from django.utils.safestring import SafeString, mark_safe

from kapstone.creativity.models import CreativityAdministration, Task
from kapstone.creativity.selectors import SymptomPoint
from kapstone.formrender import shown
from kapstone.practice.templatetags.kapstone_tags import link_around_id, local_calendar_dates

Status = CreativityAdministration.Status


def _figure(value: float | None, places: int) -> str:
    """`{{ value|floatformat:places|default:"–" }}`: Django's own filter, whose output is marked safe."""
    return floatformat(value, places) or "–"


def _prompt(prompt: object) -> str:
    """`{{ p.prompt }}` of one of the prompts stored with the task: nothing where there is no prompt."""
    return shown(prompt["prompt"]) if isinstance(prompt, dict) and "prompt" in prompt else ""


def _scores(task: CreativityAdministration) -> str:
    if task.status == Status.COMPLETED and task.task == Task.AUT:
        return (
            f"\n          <td>{floatformat(task.fluency, 1)}</td><td>{floatformat(task.flexibility, 1)}</td>"
            f"<td>{_figure(task.originality_top2, 2)} / {_figure(task.originality_mean, 2)}</td>"
            f"<td>{_figure(task.elaboration_mean, 1)}</td><td></td>\n        "
        )
    if task.status == Status.COMPLETED:
        if task.dat_score is not None:
            dat = f"{floatformat(task.dat_score, 1)} ({floatformat(task.dat_percentile, 0)})"
        else:
            dat = '<span class="muted">under 7 valid words</span>'
        return f"\n          <td></td><td></td><td></td><td></td><td>{dat}</td>\n        "
    return "<td></td><td></td><td></td><td></td><td></td>"


def _labels(field_name: str) -> dict[str, str]:
    """What `get_<field>_display` shows for each stored value of a field with choices, worded once for a table:
    Django's method makes the choices hashable again for every row."""
    field = CreativityAdministration._meta.get_field(field_name)
    return {value: str(label) for value, label in field.flatchoices}  # type: ignore[union-attr]  # a concrete field, not a relation


def task_rows(patient_id: int, tasks: list[CreativityAdministration]) -> SafeString:
    """The tasks table's rows as the template's `{% for a in administrations %}` loop drew them."""
    before, after = link_around_id("creativity:administration", patient_id)
    occasions, kinds, statuses = _labels("occasion"), _labels("task"), _labels("status")
    due_day = local_calendar_dates("j M Y")
    rows = []
    for task in tasks:
        if task.task == Task.AUT:
            form = f"{shown(task.form_id)}: " + ", ".join(_prompt(prompt) for prompt in task.prompts)
        else:
            form = "–"
        timer = ' <span class="badge">time ran out</span>' if task.closed_by_timer else ""
        link = f'<a href="{before}{task.pk}{after}">Responses</a>' if task.status == Status.COMPLETED else ""
        rows.append(
            f"\n      <tr><td>{shown(due_day(task.due_at))}</td>"
            f"<td>{shown(occasions.get(task.occasion, task.occasion))}</td>"
            f"<td>{shown(kinds.get(task.task, task.task))}</td>\n"
            f"        <td>{form}</td>\n"
            f"        <td>{shown(statuses.get(task.status, task.status))}{timer}</td>\n"
            f"        {_scores(task)}\n"
            f"        <td>{link}</td></tr>\n    "
        )
    return mark_safe("".join(rows))  # noqa: S308 - every value is escaped above (shown) or a filter's safe output


def symptom_rows(symptoms: list[SymptomPoint]) -> SafeString:
    """The symptom totals table's rows as the template's `{% for point in symptoms %}` loop drew them."""
    completed_day = local_calendar_dates("j M Y")
    return mark_safe(  # noqa: S308 - every value is escaped (shown) or a filter's safe output
        "".join(
            f"<tr><td>{shown(completed_day(point.completed_at))}</td>"
            f"<td>{shown(point.instrument_id)}</td><td>{floatformat(point.total, '-1')}</td></tr>"
            for point in symptoms
        )
    )
