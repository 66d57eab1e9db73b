"""Bar-chart geometry for server-rendered SVG (templates/account/_chart.html draws it).

Written here rather than taken from a charting library: pygal and leather put their colours
in `<style>` elements and `style` attributes, which the pages' Content-Security-Policy
(`default-src 'self'`) blocks, and they label neither the chart nor its bars for screen
readers. This module only computes numbers; colours come from CSS classes in app.css.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

WIDTH = 600
HEIGHT = 220
LEFT, RIGHT, TOP, BOTTOM = 72, 28, 12, 30  # room for the y labels (left) and the x labels (bottom)
Y_TICKS = 4
BAR_FILL = 0.72  # share of a slot its bars take; the rest is the gap between days


@dataclass(frozen=True)
class Series:
    """One named row of values, one per label, drawn with a CSS class."""

    name: str
    values: Sequence[float | None]
    css_class: str


@dataclass(frozen=True)
class Bar:
    """One rectangle and the text that names it (its SVG `<title>`)."""

    x: float
    y: float
    width: float
    height: float
    css_class: str
    title: str


@dataclass(frozen=True)
class Tick:
    """A labelled position on an axis."""

    position: float
    label: str


@dataclass(frozen=True)
class BarChart:
    """Everything the template needs to draw one chart."""

    bars: list[Bar]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    series: list[Series]
    top: float  # the value at the top of the y axis
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    plot_top: int = TOP
    baseline: int = HEIGHT - BOTTOM


def nice_top(largest: float) -> float:
    """The smallest 1, 2 or 5 × 10ⁿ step times Y_TICKS that reaches `largest` (whole steps, at least 1)."""
    if largest <= 0:
        return float(Y_TICKS)
    raw = largest / Y_TICKS
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return max(1.0, step) * Y_TICKS


def _number(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def _label(value: float | None, unit: str) -> str:
    return "no data" if value is None else f"{_number(value)}{unit}"


def bar_chart(labels: Sequence[str], series: Sequence[Series], *, stacked: bool = True, unit: str = "",
              x_every: int = 7, axis_labels: Sequence[str] | None = None) -> BarChart:
    """Bars for each label: the series stacked on one another, or side by side when not `stacked`.

    Zero and missing values draw no rectangle. Every `x_every`-th label (counted back from the
    last, so the newest is always named) is written under the axis, in its short form from
    `axis_labels` when given.
    """
    sums = [sum(s.values[i] or 0 for s in series) if stacked else max((s.values[i] or 0 for s in series), default=0)
            for i in range(len(labels))]
    top = nice_top(max(sums, default=0))
    height = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - RIGHT - LEFT) / max(len(labels), 1)
    scale = height / top
    bars = []
    for i, label in enumerate(labels):
        base = 0.0
        width = slot * BAR_FILL / (1 if stacked else len(series))
        for n, one in enumerate(series):
            value = one.values[i]
            if not value:
                continue
            x = LEFT + i * slot + slot * (1 - BAR_FILL) / 2 + (0 if stacked else n * width)
            y = HEIGHT - BOTTOM - (base + value) * scale
            bars.append(Bar(round(x, 2), round(y, 2), round(width, 2), round(value * scale, 2), one.css_class,
                            f"{label}: {one.name} {_label(value, unit)}"))
            base += value if stacked else 0
    # The axis shows bare numbers (narrow on a phone); the unit is in the bar titles and the heading.
    y_ticks = [Tick(round(HEIGHT - BOTTOM - k * height / Y_TICKS, 2), _number(top * k / Y_TICKS))
               for k in range(Y_TICKS + 1)]
    last = len(labels) - 1
    short = axis_labels or labels
    x_ticks = [Tick(round(LEFT + (i + 0.5) * slot, 2), short[i]) for i in range(len(labels)) if (last - i) % x_every == 0]
    return BarChart(bars=bars, y_ticks=y_ticks, x_ticks=x_ticks, series=list(series), top=top)
