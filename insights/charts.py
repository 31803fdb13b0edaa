"""Charts as pictures: matplotlib draws each one on the server as SVG, nothing from a CDN.

Each function returns a `data:` URI for an <img>: an image cannot run script, so a label
that came from data (an intent, a country) can do no harm in the page.
"""

from __future__ import annotations

import base64
import io
from collections import defaultdict
from collections.abc import Sequence
from datetime import date

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure

# Figures are made without pyplot, so no global figure state is shared between requests.
matplotlib.rcParams.update(
    {
        "svg.fonttype": "none",
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titlesize": 10,
        "axes.titleweight": "bold",
    }
)
PALETTE = ("#3b6ea5", "#e08a3c", "#5a9e6f", "#b5505a", "#7e6bb0", "#8c7a5b", "#4fa3a5")
SIZE = (6.4, 2.8)


def _plain(text: object) -> str:
    """Text as it reads: matplotlib takes "$...$" for mathematics, and a label from the data
    (a country, a file name) with a stray "$" would stop the whole page."""
    return str(text).replace("$", r"\$")


def _figure(size: tuple[float, float]) -> tuple[Figure, Axes]:
    figure = Figure(figsize=size)
    return figure, figure.subplots()


def _uri(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.tight_layout()
    figure.savefig(buffer, format="svg")
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue().encode()).decode()


def empty(title: str, message: str = "No data in this period") -> str:
    figure, axes = _figure((SIZE[0], 1.2))
    axes.set_axis_off()
    axes.set_title(_plain(title))
    axes.text(0.5, 0.4, _plain(message), ha="center", va="center", color="#777")
    return _uri(figure)


def stacked_days(title: str, rows: Sequence[dict], day: str, series: str, value: str) -> str:
    """Bars per day, stacked by ``series`` (e.g. conversations per channel)."""
    if not rows:
        return empty(title)
    days: list[date] = sorted({r[day] for r in rows})
    by_series: dict[str, dict[date, float]] = defaultdict(dict)
    for r in rows:
        by_series[_plain(r[series])][r[day]] = float(r[value])
    figure, axes = _figure(SIZE)
    bottom = [0.0] * len(days)
    for n, (name, values) in enumerate(sorted(by_series.items())):
        heights = [values.get(d, 0.0) for d in days]
        axes.bar(days, heights, bottom=bottom, label=name, color=PALETTE[n % len(PALETTE)])
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    axes.set_title(_plain(title))
    axes.legend(frameon=False, fontsize=8, ncol=4)
    figure.autofmt_xdate()
    return _uri(figure)


def line_days(title: str, days: Sequence[date], values: Sequence[float], percent: bool) -> str:
    if not days:
        return empty(title)
    figure, axes = _figure(SIZE)
    axes.plot(days, [v * 100 if percent else v for v in values], marker="o", color=PALETTE[3])
    axes.set_title(_plain(title))
    if percent:
        axes.set_ylabel("%")
    axes.set_ylim(bottom=0)
    figure.autofmt_xdate()
    return _uri(figure)


def bars(
    title: str,
    labels: Sequence[str],
    values: Sequence[float | None],
    errors: Sequence[tuple[float, float] | None] | None = None,
    percent: bool = False,
    notes: Sequence[str] | None = None,
    reference: float | None = None,
) -> str:
    """Horizontal bars, optionally with 95% intervals (low, high) and a note per bar."""
    present = [(i, v) for i, v in enumerate(values) if v is not None]
    if not present:
        return empty(title)
    scale = 100 if percent else 1
    figure, axes = _figure((SIZE[0], max(1.6, 0.38 * len(present) + 0.8)))
    positions = list(range(len(present)))
    heights = [v * scale for _, v in present]
    axes.barh(positions, heights, color=PALETTE[0], height=0.6)
    if errors is not None:
        for pos, (i, value) in zip(positions, present, strict=True):
            interval = errors[i]
            if interval is not None:
                low, high = interval
                axes.errorbar(
                    value * scale,
                    pos,
                    xerr=[[max(0.0, (value - low) * scale)], [max(0.0, (high - value) * scale)]],
                    color="#222",
                    capsize=3,
                    linewidth=1,
                )
    if reference is not None:
        axes.axvline(reference * scale, color="#999", linestyle="--", linewidth=1)
    axes.set_yticks(positions)
    axes.set_yticklabels([_plain(labels[i]) for i, _ in present])
    axes.invert_yaxis()
    if notes is not None:
        for pos, (i, value) in zip(positions, present, strict=True):
            axes.text(
                value * scale, pos, f"  {_plain(notes[i])}", va="center", fontsize=7, color="#444"
            )
    axes.set_title(_plain(title))
    if percent:
        axes.set_xlabel("%")
    return _uri(figure)


def shares(title: str, labels: Sequence[str], counts: Sequence[int]) -> str:
    """One stacked bar of shares (e.g. the mood of messages)."""
    total = sum(counts)
    if not total:
        return empty(title)
    figure, axes = _figure((SIZE[0], 1.4))
    left = 0.0
    colours = {"negative": "#b5505a", "neutral": "#a0a0a0", "positive": "#5a9e6f"}
    for n, (label, count) in enumerate(zip(labels, counts, strict=True)):
        width = count / total * 100
        axes.barh([0], [width], left=left, color=colours.get(label, PALETTE[n % len(PALETTE)]))
        if width > 6:
            axes.text(
                left + width / 2,
                0,
                f"{_plain(label)} {width:.0f}%",
                ha="center",
                va="center",
                color="white",
                fontsize=8,
            )
        left += width
    axes.set_xlim(0, 100)
    axes.set_yticks([])
    axes.set_title(_plain(title))
    return _uri(figure)
