"""Small-cell suppression of the outcomes report for researchers (issue 16: a researcher could filter down to one
patient). Every count of patients or events between 1 and the practice's minimum cell size minus one
(outcomes.minimum_cell_size, default 11 after the CMS cell-size suppression policy, data/privacy.yaml) is
withheld, with a second count in the same table when one withheld count could be worked out from the total; every
mean, rate, subgroup, trajectory point and score change over fewer patients is left out; ranges and medians,
which are one patient's value or near it, are never shown; and a report of fewer patients than the minimum shows
nothing at all. The page and the PDF render the same suppressed report; the filters a researcher gets are in
forms.ReportFilterForm.
"""

from __future__ import annotations

import dataclasses
import re

from kapstone.outcomes import charts, dore, selectors
from kapstone.outcomes.dore import DoreRow
from kapstone.outcomes.report import CountRow, OutcomesReport, SummaryRow, TableSection


def small(count: int | None, minimum: int) -> bool:
    """A count that would single someone out: at least one, fewer than the minimum."""
    return count is not None and 0 < count < minimum


def _counts(rows: list[CountRow], minimum: int) -> list[CountRow]:
    withheld = {index for index, row in enumerate(rows) if small(row.count, minimum)}
    # One withheld count in a table is the total minus the others: withhold the next smallest too.
    if len(withheld) == 1:
        others = sorted((row.count, index) for index, row in enumerate(rows) if index not in withheld and row.count)
        if others:
            withheld.add(others[0][1])
    return [dataclasses.replace(row, suppressed=True) if index in withheld else row for index, row in enumerate(rows)]


def _summary(row: SummaryRow, minimum: int) -> SummaryRow | None:
    if row.estimate.n < minimum:
        return None
    return dataclasses.replace(row, median=None, minimum=None, maximum=None)


def _section(section: TableSection, minimum: int) -> TableSection:
    summaries = [kept for row in section.summaries if (kept := _summary(row, minimum)) is not None]
    left_out = len(section.summaries) - len(summaries)
    note = section.note
    if left_out:
        note = f"{note} Means of fewer than {minimum} {section.unit} are not shown.".strip()
    return dataclasses.replace(section, counts=_counts(section.counts, minimum), summaries=summaries, note=note)


def _rate_shown(rate, minimum: int) -> bool:
    return (
        rate is not None
        and rate.n >= minimum
        and not small(rate.count, minimum)
        and not small(rate.n - rate.count, minimum)
    )


SMALL_NUMBER = re.compile(r"(?<![\w.-])(\d+)(?= )")


def _mask_statement(statement: str, minimum: int) -> str:
    return SMALL_NUMBER.sub(
        lambda m: f"fewer than {minimum}" if small(int(m.group(1)), minimum) else m.group(1), statement
    )


def _site_coded(row: DoreRow) -> DoreRow:
    """A site's row under its code, as the research export writes it (an admin may name a site after a person)."""
    if row.dimension != dore.SITE_DIMENSION or row.label == dore.NOT_RECORDED:
        return row
    return dataclasses.replace(row, label=selectors.site_for_research(row.label))


def _dore(table, minimum: int) -> None:
    """The Dore 2019 table for a researcher: an instrument with fewer paired patients than the minimum is left out
    (named), as is every subgroup row below it; the exclusions' counts are masked like any statement; sites are
    named by their codes."""
    kept = []
    for item in table.instruments:
        if item.overall.comparison.n < minimum:
            table.withheld.append(item.name)
            continue
        item.rows = [_site_coded(row) for row in item.rows if row.comparison.n >= minimum]
        if item.overall.reliable_improvement is not None and not _rate_shown(
            item.overall.reliable_improvement, minimum
        ):
            item.overall.reliable_improvement = None
        item.exclusions = [_mask_statement(text, minimum) for text in item.exclusions]
        kept.append(item)
    table.instruments = kept


def for_researcher(report: OutcomesReport, minimum: int) -> OutcomesReport:
    """The report as a researcher may see it (see the module docstring)."""
    report.min_cell = minimum
    report.filters = report.filters_for_research
    if report.cohort < minimum:
        report.withheld = True
        return report
    report.table1 = [_section(section, minimum) for section in report.table1]
    report.table2 = [_section(section, minimum) for section in report.table2]
    instruments, hidden = [], 0
    for outcome in report.instruments:
        if outcome.comparison.n < minimum:
            hidden += 1
            continue
        # A subgroup's response is a rate like any other: 20 of 30 responding names the 10 who did not.
        outcome.subgroups = [
            row
            if row.response is None or _rate_shown(row.response, minimum)
            else dataclasses.replace(row, response=None, response_withheld=True)
            for row in outcome.subgroups
            if row.comparison.n >= minimum
        ]
        # A withheld rate stays in its table as withheld (None): left out, a table of three withheld rates read
        # "No paired data." above thirty paired patients.
        outcome.rates = [(label, rate if _rate_shown(rate, minimum) else None) for label, rate in outcome.rates]
        outcome.trajectory_means = [(at, mean) for at, mean in outcome.trajectory_means if mean.n >= minimum]
        if outcome.trajectory is not None and outcome.trajectory.patients < minimum:
            outcome.trajectory = None
        outcome.trajectory_left_out = [_mask_statement(text, minimum) for text in outcome.trajectory_left_out]
        outcome.chart_svg = charts.trajectory_svg(outcome) if outcome.trajectory_means else ""
        instruments.append(outcome)
    report.instruments = instruments
    report.creativity = [change for change in report.creativity if change.comparison.n >= minimum]
    report.long_term_safety = [_section(section, minimum) for section in report.long_term_safety]
    if report.dore is not None:
        _dore(report.dore, minimum)
    report.adherence.counts = _counts(report.adherence.counts, minimum)
    if report.adherence.completed_in_window is not None and not _rate_shown(
        report.adherence.completed_in_window, minimum
    ):
        report.adherence.completed_in_window = None
    report.missing_data = [_mask_statement(statement, minimum) for statement in report.missing_data]
    report.notes.append(
        f"Small cells are suppressed for research use: no count, mean, rate or subgroup of fewer than {minimum} "
        "patients or events is shown (CMS cell-size suppression policy), nor any median or range"
        + (
            f"; {hidden} questionnaire{'s' if hidden != 1 else ''} with fewer paired patients left out."
            if hidden
            else "."
        )
    )
    report.overview_svg = charts.overview_svg(report)
    return report
