"""Chart geometry: values scaled into the view box, bars as one path, nothing localised."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.template import Context, Template
from django.utils import translation

from apps.analytics.charts import HEIGHT, PAD_BOTTOM, PAD_TOP, Series, funnel_chart, line_chart


def test_line_chart_scales_days_and_values():
    days = [date(2026, 3, 1) + timedelta(days=n) for n in range(4)]
    chart = line_chart(
        title="t",
        days=days,
        series=[
            Series("Spend", [Decimal("10"), Decimal("0"), Decimal("40"), Decimal("20")]),
            Series(
                "Revenue", [Decimal("0"), Decimal("50"), Decimal("0"), Decimal("0")], kind="bar"
            ),
        ],
    )
    bottom = HEIGHT - PAD_BOTTOM
    assert not chart.empty
    assert [s.label for s in chart.series] == ["Revenue", "Spend"]  # bars behind the line
    bars, line = chart.series
    assert bars.bar_path.count("M") == 1  # one bar: the only day with revenue
    assert f"V{PAD_TOP}.0H" in bars.bar_path or f"V{PAD_TOP}H" in bars.bar_path  # 50 = axis top
    ys = [float(p.split(",")[1]) for p in line.points.split()]
    assert ys[1] == bottom and min(ys) == ys[2]
    assert line.total == Decimal("70") and bars.total == Decimal("50")
    assert [t.label for t in chart.ticks] == ["0", "12.5", "25", "37.5", "50"]
    assert [x.label for x in chart.x_labels] == ["2026-03-01", "2026-03-03", "2026-03-04"]


def test_an_empty_chart_says_so():
    chart = line_chart(title="t", days=[date(2026, 3, 1)], series=[Series("s", [0])])
    assert chart.empty


def test_funnel_widths_are_shares_of_the_first_step():
    funnel = funnel_chart([("Tickets", 10), ("Qualified", 5), ("Won", 0)])
    assert [s.share for s in funnel.steps] == ["100.0%", "50.0%", "0.0%"]
    assert funnel.steps[1].width == funnel.steps[0].width / 2 and funnel.steps[2].width == 0


def test_coordinates_keep_a_dot_in_portuguese():
    with translation.override("pt-br"):
        rendered = Template("{% load analytics_charts %}{{ v|svgnum }}").render(
            Context({"v": 12.5})
        )
    assert rendered == "12.5"
