"""`make bench` figures for the outcomes app: the report and the research export on the bench practice.

The report is timed three ways: built from the database (what the first view after a change pays, once per version of
its inputs), built again in the same process (libraries and instrument definitions already loaded), and stored then read
back as a page view does when nothing has changed (snapshots.py).
"""

import tempfile
import time
from pathlib import Path

from kapstone.audit import context
from kapstone.outcomes import services, snapshots
from kapstone.outcomes.render import report_html
from kapstone.outcomes.report import build_report
from kapstone.outcomes.selectors import ReportFilters
from kapstone.outcomes.services import research_export_write

REPORT_BUDGET_S = 5
EXPORT_BUDGET_S = 10
STORED_READS = 20


def figures(*, out) -> dict[str, float]:
    """Prints the figures and returns them (seconds; the stored read in milliseconds) for `bench.py --sizes`."""
    out("Outcomes report and research export")
    token = context.set_current(context.for_command("bench"))
    try:
        started, cpu = time.perf_counter(), time.process_time()
        report = build_report()
        first, first_cpu = time.perf_counter() - started, time.process_time() - cpu
        started, cpu = time.perf_counter(), time.process_time()
        build_report()
        again, again_cpu = time.perf_counter() - started, time.process_time() - cpu
        started = time.perf_counter()
        html = report_html(report)
        rendered = time.perf_counter() - started
        out(
            f"  report: {report.cohort:,} patients, built in {first:.2f} s ({first_cpu:.2f} s of this process's CPU; "
            f"again {again:.2f} s, {again_cpu:.2f} s CPU; budget {REPORT_BUDGET_S} s), "
            f"HTML ({len(html) // 1024:,} KiB) in {rendered:.2f} s"
        )
        filters = ReportFilters()
        services.report_snapshot_build(filters=filters, facilitator_label="", min_cell=0)
        key = snapshots.report_key(filters.as_plain(), "", 0)
        started = time.perf_counter()
        for _ in range(STORED_READS):
            assert snapshots.current_snapshot(key, snapshots.fingerprint()[0]) is not None
        stored_ms = (time.perf_counter() - started) / STORED_READS * 1000
        out(f"  stored report, as a page view reads it while nothing changed: {stored_ms:.1f} ms")
        with tempfile.TemporaryDirectory(prefix="kapstone-bench-export-") as folder:
            started, cpu = time.perf_counter(), time.process_time()
            result = research_export_write(actor_label="bench", out_dir=Path(folder))
            exported, exported_cpu = time.perf_counter() - started, time.process_time() - cpu
        rows = sum(result.rows.values())
        out(
            f"  research export: {result.patients:,} patients, {rows:,} rows in {len(result.files)} files, "
            f"{exported:.2f} s ({exported_cpu:.2f} s CPU; budget {EXPORT_BUDGET_S} s)"
        )
    finally:
        context.reset(token)
    return {
        "report_s": first,
        "report_cpu_s": first_cpu,
        "report_again_s": again,
        "stored_ms": stored_ms,
        "export_s": exported,
        "export_cpu_s": exported_cpu,
    }


def run(*, out) -> None:
    figures(out=out)
