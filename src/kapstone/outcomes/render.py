"""The report as a document: HTML (a self-contained file) or PDF (WeasyPrint)."""

from __future__ import annotations

import os
from pathlib import Path

from django.template.loader import render_to_string

from kapstone.outcomes.report import OutcomesReport
from kapstone.pdf import pdf_from_html

FORMATS = ("html", "pdf")


def report_html(report: OutcomesReport) -> str:
    return render_to_string("outcomes/report_document.html", {"report": report})


def report_pdf(report: OutcomesReport) -> bytes:
    return pdf_from_html(report_html(report))


def format_for(path: Path, requested: str | None) -> str:
    """The format asked for, else the file's extension; ValueError when neither names html or pdf."""
    chosen = (requested or path.suffix.lstrip(".")).lower()
    if chosen == "htm":
        chosen = "html"
    if chosen not in FORMATS:
        raise ValueError(f"Cannot tell the format of {str(path)!r}: name it .html or .pdf, or pass --format html|pdf.")
    return chosen


def write_report(report: OutcomesReport, path: Path, fmt: str) -> int:
    """Writes the report; returns the bytes written. Only a complete report takes the name: one cut short (a full
    disk) leaves no half-written file, and an earlier report under that name as it was."""
    content = report_pdf(report) if fmt == "pdf" else report_html(report).encode()
    partial = path.with_name(f"{path.name}.partial")
    try:
        # Created readable by its owner only (a partial left by a killed run is narrowed first), before anything is
        # written; the name it takes then carries these permissions.
        partial.touch(mode=0o600)
        partial.chmod(0o600)
        partial.write_bytes(content)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return len(content)
