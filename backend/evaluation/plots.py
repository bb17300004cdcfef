"""PNG charts of an evaluation: DET curves and score histograms, for reports and the admin pages.

Built on matplotlib's object API (Figure + FigureCanvasAgg) and never pyplot: pyplot keeps global figure state
that leaks memory and is not thread-safe, and web and worker processes have no display.
DET axes are normal-deviate (probit) scaled, the convention of NIST and ISO/IEC 19795-1: on them the error
trade-off of a score distribution is close to a straight line, and the rare-error region (FAR 1e-4..1e-2) gets
as much room as the common one, which a linear ROC squeezes into a corner.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy.stats import norm

RATE_FLOOR = 1e-5  # rates of exactly 0 or 1 have no probit; clip them to the edge of the plot instead
TICKS = (1e-5, 1e-4, 1e-3, 1e-2, 0.05, 0.2, 0.4, 0.6, 0.8, 0.95, 0.99)
DET_UPPER = 0.6  # errors above this are of no operational interest, unless an operating point lies there
SIZE_IN = (9.0, 7.0)
DPI = 100  # SIZE_IN * DPI = 900 x 700 px


def _probit(rates: Sequence[float] | np.ndarray) -> np.ndarray:
    return np.asarray(norm.ppf(np.clip(np.asarray(rates, dtype=np.float64), RATE_FLOOR, 1 - RATE_FLOOR)))


def _percent(value: float) -> str:
    return f"{value * 100:g}%"


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()


def _det_range(values: Sequence[float], extra: Sequence[float]) -> tuple[float, float]:
    """From the highest tick at or below the smallest rate, up to DET_UPPER (or further for operating points)."""
    clipped = np.clip(np.asarray(list(values) + list(extra), dtype=np.float64), RATE_FLOOR, 1 - RATE_FLOOR)
    smallest = float(clipped.min()) if len(clipped) else RATE_FLOOR
    low = max(tick for tick in TICKS if tick <= max(smallest, RATE_FLOOR))
    top = max([DET_UPPER, *extra])
    high = min((tick for tick in TICKS if tick >= top), default=1 - RATE_FLOOR)
    return low, high


def _det_axis(axis: Any, low: float, high: float) -> None:
    ticks = [tick for tick in TICKS if low <= tick <= high]
    axis.set_ticks(_probit(ticks))
    axis.set_ticklabels([_percent(tick) for tick in ticks])


def det_png(
    curves: Sequence[tuple[str, Sequence[float], Sequence[float]]],
    *,
    operating_points: Sequence[tuple[str, float, float]] = (),
    title: str = "DET",
    x_label: str = "False accept rate (FAR / FPIR)",
    y_label: str = "False reject rate (FRR / FNIR)",
) -> bytes:
    """curves: (label, false accept rates, false reject rates); operating points: (label, far, frr)."""
    figure = Figure(figsize=SIZE_IN, dpi=DPI)
    axes = figure.add_subplot()
    for label, far, frr in curves:
        axes.plot(_probit(far), _probit(frr), label=label, linewidth=1.5)
    for label, far_point, frr_point in operating_points:
        x, y = _probit([far_point, frr_point])
        axes.plot([x], [y], marker="o", markersize=6, linestyle="none", color="black")
        axes.annotate(label, (x, y), textcoords="offset points", xytext=(6, 6), fontsize=8)
    x_low, x_high = _det_range([rate for _, far, _ in curves for rate in far], [p[1] for p in operating_points])
    y_low, y_high = _det_range([rate for _, _, frr in curves for rate in frr], [p[2] for p in operating_points])
    axes.set_xlim(*_probit([x_low, x_high]))
    axes.set_ylim(*_probit([y_low, y_high]))
    _det_axis(axes.xaxis, x_low, x_high)
    _det_axis(axes.yaxis, y_low, y_high)
    axes.grid(True, linestyle=":", linewidth=0.6)
    axes.set_xlabel(x_label)
    axes.set_ylabel(y_label)
    axes.set_title(title)
    if curves:
        axes.legend(loc="upper right")
    return _png(figure)


def histogram_png(histogram: dict[str, Any], *, title: str) -> bytes:
    """The score_histogram dict as two step lines on a log count axis (impostor counts dwarf genuine ones)."""
    edges = np.asarray(histogram["edges"], dtype=np.float64)
    figure = Figure(figsize=SIZE_IN, dpi=DPI)
    axes = figure.add_subplot()
    for key, label, colour in (("genuine", "genuine (same person)", "tab:green"), ("impostor", "impostor", "tab:red")):
        counts = np.asarray(histogram[key], dtype=np.float64)
        # Empty bins have no logarithm; NaN leaves a gap instead of a spike down to the axis floor.
        axes.stairs(np.where(counts > 0, counts, np.nan), edges, label=f"{label}: {int(counts.sum())}", color=colour)
    axes.set_yscale("log")
    axes.set_xlim(float(edges[0]), float(edges[-1]))
    axes.set_xlabel("similarity score")
    axes.set_ylabel("pairs per bin")
    axes.set_title(title)
    axes.grid(True, linestyle=":", linewidth=0.6)
    axes.legend(loc="best")
    return _png(figure)
