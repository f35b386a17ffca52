"""Chart geometry for server-rendered inline SVG (no JavaScript, nothing inline to allow in the CSP).

The functions here only scale numbers into a view box; the templates in
``templates/analytics/_*_chart.html`` draw them with SVG presentation
attributes (``stroke``, ``fill``), which a strict Content-Security-Policy
allows, unlike ``style=""`` attributes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.utils.formats import date_format

WIDTH = 720
HEIGHT = 220
PAD_LEFT = 64
PAD_RIGHT = 12
PAD_TOP = 12
PAD_BOTTOM = 28
TICKS = 4
#: stroke/fill colours by series position (line 1, line 2, ...)
PALETTE = ("#2563eb", "#16a34a", "#d97706", "#9333ea")


@dataclass
class Series:
    label: str
    values: list[Decimal | int]
    #: "line" or "bar"
    kind: str = "line"
    color: str = ""
    points: str = ""
    #: bars as one SVG path (one element however many days: cheap to render)
    bar_path: str = ""
    total: Decimal | int = 0


@dataclass
class Tick:
    y: float
    label: str


@dataclass
class XLabel:
    x: float
    label: str


@dataclass
class LineChart:
    title: str
    series: list[Series]
    width: int = WIDTH
    height: int = HEIGHT
    ticks: list[Tick] = field(default_factory=list)
    x_labels: list[XLabel] = field(default_factory=list)
    plot_left: int = PAD_LEFT
    plot_right: int = WIDTH - PAD_RIGHT
    plot_bottom: int = HEIGHT - PAD_BOTTOM
    empty: bool = True


def _nice_max(value: float) -> float:
    """A round upper bound for the axis (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10 ** (len(str(int(value))) - 1) if value >= 1 else 1
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def _label(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if value >= 1_000:
        return f"{value / 1_000:g}K"
    return f"{value:g}"


def line_chart(*, title: str, days: list[date], series: list[Series]) -> LineChart:
    """Days left to right, values upwards on one shared axis; bars drawn behind lines."""
    chart = LineChart(title=title, series=series)
    plot_w = chart.plot_right - chart.plot_left
    plot_h = chart.plot_bottom - PAD_TOP
    n = len(days)
    top = max((float(v) for s in series for v in s.values), default=0.0)
    chart.empty = n == 0 or top <= 0
    axis_max = _nice_max(top)
    step = plot_w / n if n else plot_w
    for i, s in enumerate(series):
        s.color = s.color or PALETTE[i % len(PALETTE)]
        s.total = sum(s.values, type(s.values[0])(0)) if s.values else 0
        coords = []
        bars: list[str] = []
        for d, value in enumerate(s.values):
            x = chart.plot_left + step * d + step / 2
            y = chart.plot_bottom - plot_h * float(value) / axis_max
            coords.append((round(x, 1), round(y, 1)))
            if s.kind == "bar" and y < chart.plot_bottom:
                width = max(step * 0.7, 0.5)
                left = round(x - width / 2, 1)
                bars.append(
                    f"M{left} {chart.plot_bottom}V{round(y, 1)}H{round(left + width, 1)}"
                    f"V{chart.plot_bottom}Z"
                )
        s.points = " ".join(f"{x},{y}" for x, y in coords)
        s.bar_path = "".join(bars)
    series.sort(key=lambda s: s.kind != "bar")
    for t in range(TICKS + 1):
        value = axis_max * t / TICKS
        chart.ticks.append(
            Tick(y=round(chart.plot_bottom - plot_h * t / TICKS, 1), label=_label(value))
        )
    if n:
        for index in sorted({0, n // 2, n - 1}):
            x = chart.plot_left + step * index + step / 2
            chart.x_labels.append(
                XLabel(x=round(x, 1), label=date_format(days[index], "SHORT_DATE_FORMAT"))
            )
    return chart


@dataclass
class FunnelStep:
    label: str
    count: int
    width: float
    y: float
    share: str


@dataclass
class FunnelChart:
    steps: list[FunnelStep]
    width: int = WIDTH
    height: int = 0
    bar_height: int = 34
    label_x: int = 8
    empty: bool = True


def funnel_chart(steps: list[tuple[str, int]]) -> FunnelChart:
    """Horizontal bars, each as wide as its share of the first step."""
    first = steps[0][1] if steps else 0
    chart = FunnelChart(steps=[], empty=not first)
    plot_w = WIDTH - 200
    for i, (label, count) in enumerate(steps):
        share = count / first if first else 0
        chart.steps.append(
            FunnelStep(
                label=label,
                count=count,
                width=round(max(plot_w * share, 1 if count else 0), 1),
                y=i * (chart.bar_height + 10),
                share=f"{share * 100:.1f}%",
            )
        )
    chart.height = len(steps) * (chart.bar_height + 10)
    return chart
