"""Table rows of the analytics pages as HTML, built in Python.

A one-year page is hundreds of rows (the ROI table by campaign) or a thousand
(the TikTok tables, one row a day), ten figures each. Rendered cell by cell
in a template, the variable lookups, filters and escaping took more time than
the page's SQL; here each row is one string, every value escaped with
:func:`html.escape`, and the templates only place the rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from html import escape

from django.utils.formats import date_format
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from apps.integrations.templatetags.hub_format import format_number

from .selectors import Row


def _cells(values: Iterable[object], css: str = "") -> str:
    opening = f'<td class="{css}">' if css else "<td>"
    return "".join(f"{opening}{escape(str(value))}</td>" for value in values)


def figure_cells(r: Row) -> SafeString:
    """The ten figures of an ROI row or total, as ``<td class="num">`` cells."""
    return mark_safe(  # noqa: S308 - every value is escaped by _cells
        _cells(
            (
                format_number(r.spend),
                format_number(r.impressions),
                format_number(r.clicks),
                r.tickets,
                r.qualified,
                r.won,
                format_number(r.revenue),
                format_number(r.cost_per_ticket),
                format_number(r.cost_per_qualified),
                format_number(r.roas),
            ),
            "num",
        )
    )


def roi_row(r: Row, roi_url: str) -> SafeString:
    """One ``<tr>`` of the ROI table: the entity (a drill-down link when it has a level
    below), its platform and currency, then its figures."""
    if r.drill_query:
        target = escape(f"{roi_url}?{r.drill_query}")
        label = f'<a href="{target}" hx-get="{target}">{escape(r.name)}</a>'
    else:
        label = escape(r.name or _("(no ad)"))
    return mark_safe(  # noqa: S308 - every value is escaped above and in figure_cells
        f'<tr class="roi-row" data-key="{escape(r.key)}" data-platform="{escape(r.platform)}">'
        f'<th scope="row">{label} <span class="hint">{escape(r.key)}</span></th>'
        f"{_cells((r.platform_label, r.currency))}{figure_cells(r)}</tr>"
    )


def daily_rows(rows: list[list]) -> list[SafeString]:
    """Each row's ``<td>`` cells for the active language: dates short, figures grouped."""
    days: dict[date, str] = {}

    def text(cell: object) -> object:
        if isinstance(cell, date):
            if cell not in days:
                days[cell] = date_format(cell, "SHORT_DATE_FORMAT")
            return days[cell]
        if isinstance(cell, (int, Decimal)):
            return format_number(cell)
        return cell

    return [
        mark_safe(_cells(text(cell) for cell in row))  # noqa: S308 - escaped by _cells
        for row in rows
    ]
