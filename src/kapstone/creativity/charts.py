"""Creativity over time beside the symptom scores: one SVG (matplotlib, Agg) with panels sharing a date axis,
symptom totals on top, AUT originality and DAT score below.

Returned as a base64 data URI for an <img>, like the measures charts: the Content-Security-Policy forbids the
inline styles matplotlib writes into SVG, and an image is its own document. Every text drawn comes from
Kapstone's own labels and dates, never from what a patient typed.
"""

from __future__ import annotations

import base64
import io
from collections import defaultdict

from kapstone.creativity.models import CreativityAdministration, Task
from kapstone.creativity.selectors import SymptomPoint

# Colour-blind-safe (Okabe-Ito).
COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"]
SYMPTOM_LABELS = {"phq9": "PHQ-9", "gad7": "GAD-7", "pcl5": "PCL-5", "oci-r": "OCI-R", "ede-q": "EDE-Q"}


def _date_axis(axes) -> None:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter  # deferred: heavy library

    locator = AutoDateLocator()
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))


def history_svg(history: list[CreativityAdministration], symptoms: list[SymptomPoint]) -> str:
    # deferred: heavy library (matplotlib), loaded by the worker that first draws a chart, not at start-up.
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    aut = [a for a in history if a.task == Task.AUT and a.originality_top2 is not None]
    dat = [a for a in history if a.task == Task.DAT and a.dat_score is not None]
    by_instrument: dict[str, list[SymptomPoint]] = defaultdict(list)
    for point in symptoms:
        by_instrument[point.instrument_id].append(point)
    panels = (["symptoms"] if by_instrument else []) + ["aut", "dat"]
    figure = Figure(figsize=(6.4, 1.0 + 2.0 * len(panels)), dpi=100)
    axes_list = figure.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    for axes, panel in zip(axes_list, panels, strict=True):
        if panel == "symptoms":
            for colour, (instrument, points) in zip(COLOURS, sorted(by_instrument.items()), strict=False):
                label = SYMPTOM_LABELS.get(instrument, instrument.upper())
                axes.plot(
                    [p.completed_at for p in points],
                    [p.total for p in points],
                    marker="o",
                    color=colour,
                    linewidth=1.8,
                    label=label,
                )
            axes.set_ylabel("Symptom total")
            axes.set_title("Symptoms (lower is better)", fontsize=9, loc="left")
            axes.legend(loc="upper right", fontsize=7, framealpha=0.8)
        elif panel == "aut":
            dates = [a.submitted_at for a in aut]
            axes.plot(
                dates,
                [a.originality_top2 for a in aut],
                marker="o",
                color=COLOURS[2],
                linewidth=1.8,
                label="top-2 originality",
            )
            axes.plot(
                dates,
                [a.originality_mean for a in aut],
                marker="s",
                color=COLOURS[3],
                linewidth=1,
                linestyle="--",
                label="mean originality",
            )
            axes.set_ylim(1, 5)
            axes.set_ylabel("Originality (1-5)")
            axes.set_title("Alternative uses (higher is more original)", fontsize=9, loc="left")
            if aut:
                axes.legend(loc="upper right", fontsize=7, framealpha=0.8)
        else:
            axes.plot(
                [a.submitted_at for a in dat], [a.dat_score for a in dat], marker="o", color=COLOURS[4], linewidth=1.8
            )
            axes.set_ylabel("DAT score")
            axes.set_title("Unrelated words (higher is more divergent)", fontsize=9, loc="left")
        if (panel == "aut" and not aut) or (panel == "dat" and not dat):
            axes.text(0.5, 0.5, "no scores yet", transform=axes.transAxes, ha="center", va="center", color="#4d5b63")
        axes.grid(axis="y", color="#d9d6cc", linewidth=0.6)
    if history or symptoms:
        _date_axis(axes_list[-1])
    figure.subplots_adjust(left=0.12, right=0.97, top=0.95, bottom=0.08, hspace=0.45)
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None}, facecolor="white")
    return buffer.getvalue()


def history_data_uri(history: list[CreativityAdministration], symptoms: list[SymptomPoint]) -> str:
    encoded = base64.b64encode(history_svg(history, symptoms).encode()).decode()
    return f"data:image/svg+xml;base64,{encoded}"
