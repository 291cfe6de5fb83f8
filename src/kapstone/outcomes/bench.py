"""`make bench` figures for the outcomes app: the report and the research export on the bench practice."""

import tempfile
import time
from pathlib import Path

from kapstone.audit import context
from kapstone.outcomes.render import report_html
from kapstone.outcomes.report import build_report
from kapstone.outcomes.services import research_export_write

REPORT_BUDGET_S = 10
EXPORT_BUDGET_S = 30


def run(*, out) -> None:
    out("Outcomes report and research export")
    token = context.set_current(context.for_command("bench"))
    try:
        started = time.perf_counter()
        report = build_report()
        built = time.perf_counter() - started
        html = report_html(report)
        rendered = time.perf_counter() - started
        out(
            f"  report: {report.cohort:,} patients, built in {built:.2f} s, "
            f"with HTML ({len(html) // 1024:,} KiB) {rendered:.2f} s (budget {REPORT_BUDGET_S} s)"
        )
        with tempfile.TemporaryDirectory(prefix="kapstone-bench-export-") as folder:
            started = time.perf_counter()
            result = research_export_write(actor_label="bench", out_dir=Path(folder))
            elapsed = time.perf_counter() - started
        rows = sum(result.rows.values())
        out(
            f"  research export: {result.patients:,} patients, {rows:,} rows in {len(result.files)} files, "
            f"{elapsed:.2f} s (budget {EXPORT_BUDGET_S} s)"
        )
    finally:
        context.reset(token)
