"""Analytics pages: the ROI dashboard, the TikTok daily view, exchange rates.

Thin views: parse the filters from the query string, call a selector, render
the whole page, or (htmx) only the body that the filter form and the drill-down
links target, or a CSV of the table as shown. Every lookup is scoped to the
tenant: a campaign or ad set id the tenant does not have is a 404.
"""

from __future__ import annotations

import csv
from datetime import date
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.tenants.access import tenant_admin_required, tenant_member_required

from . import rendering, selectors
from .charts import Series, funnel_chart, line_chart
from .filters import PLATFORM_CHOICES, PLATFORM_LABELS, RANGE_CHOICES, Filters
from .forms import ExchangeRateForm
from .models import ExchangeRate
from .rollup import rollup_as_of


def _level_label(level: str) -> str:
    return {
        "campaign": _("Campaign"),
        "adset": _("Ad set / ad group"),
        "ad": _("Ad"),
    }[level]


def _filters(request: HttpRequest) -> Filters:
    return Filters.from_query(request.GET, today=timezone.localdate())


def _fragment_or_page(request: HttpRequest, page: str, fragment: str, context: dict):
    template = fragment if request.htmx and not request.htmx.history_restore_request else page
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _csv_cell(value: object) -> object:
    """Plain decimals as they are; text that a spreadsheet would run as a formula is quoted."""
    if isinstance(value, date):
        return value.isoformat()  # the page shows the locale's format; the file stays ISO
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def _csv_response(filename: str, header: list[str], rows: list[list]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_cell(cell) for cell in row])
    return response


# --- ROI -----------------------------------------------------------------------------


def _roi_report(request: HttpRequest) -> selectors.RoiReport:
    try:
        return selectors.roi_report(tenant=request.tenant, filters=_filters(request))
    except selectors.NotFound:
        raise Http404(_("No such campaign or ad set.")) from None


def roi_table_rows(report: selectors.RoiReport) -> tuple[list[str], list[list]]:
    """The ROI table as the page shows it: each currency's rows, then its total."""
    header = [
        _("Level"),
        _("Platform"),
        _("ID"),
        _("Name"),
        _("Currency"),
        _("Spend"),
        _("Impressions"),
        _("Clicks"),
        _("Tickets"),
        _("Qualified"),
        _("Won"),
        _("Revenue"),
        _("Cost per ticket"),
        _("Cost per qualified"),
        _("ROAS"),
    ]
    out = []

    def line(level: str, r: selectors.Row, name: str) -> list:
        return [
            level,
            r.platform_label if r.platform else "",
            r.key,
            name,
            r.currency,
            r.spend,
            r.impressions,
            r.clicks,
            r.tickets,
            r.qualified,
            r.won,
            r.revenue,
            r.cost_per_ticket,
            r.cost_per_qualified,
            r.roas,
        ]

    for group in report.groups:
        for r in group.rows:
            out.append(line(report.level, r, r.name))
        out.append(line("total", group.total, _("Total")))
    return header, out


def _roi_context(request: HttpRequest, report: selectors.RoiReport) -> dict:
    filters = report.filters
    charts = []
    for series in report.daily:
        days = [p.day for p in series.points]
        charts.append(
            line_chart(
                title=_("Daily spend and revenue (%(currency)s)")
                % {"currency": series.currency or "?"},
                days=days,
                series=[
                    Series(_("Revenue"), [p.revenue for p in series.points], kind="bar"),
                    Series(_("Spend"), [p.spend for p in series.points], kind="line"),
                ],
            )
        )
    funnel = funnel_chart(
        [
            (_("Tickets"), report.funnel.tickets),
            (_("Qualified"), report.funnel.qualified),
            (_("Won"), report.funnel.won),
        ]
    )
    roi_url = reverse("analytics:roi")
    table = [
        (
            group,
            [rendering.roi_row(r, roi_url) for r in group.rows],
            rendering.figure_cells(group.total),
        )
        for group in report.groups
    ]
    return {
        "report": report,
        "table": table,
        "filters": filters,
        "rollup_at": rollup_as_of(tenant=request.tenant),
        "level_label": _level_label(report.level),
        "platform_choices": PLATFORM_CHOICES,
        "platform_label": PLATFORM_LABELS[filters.platform],
        "range_choices": RANGE_CHOICES,
        "charts": charts,
        "funnel": funnel,
        "export_query": urlencode(filters.query()),
        "campaign_query": urlencode(filters.query(adset="")) if filters.adset else "",
        "top_query": urlencode(filters.query(campaign="", adset="", platform="")),
    }


@tenant_member_required
@require_GET
def roi(request: HttpRequest) -> HttpResponse:
    """Spend against tickets, qualified, won and revenue, by campaign, ad set or ad."""
    report = _roi_report(request)
    if request.GET.get("format") == "csv":
        return _roi_csv(report)
    context = _roi_context(request, report)
    return _fragment_or_page(request, "analytics/roi.html", "analytics/_roi_body.html", context)


def _roi_csv(report: selectors.RoiReport) -> HttpResponse:
    header, rows = roi_table_rows(report)
    f = report.filters
    name = f"roi-{report.level}-{f.start.isoformat()}-{f.end.isoformat()}.csv"
    return _csv_response(name, header, rows)


@tenant_member_required
@require_GET
def roi_export(request: HttpRequest) -> HttpResponse:
    """The ROI table as shown, with the same filters, as CSV."""
    return _roi_csv(_roi_report(request))


# --- TikTok --------------------------------------------------------------------------

TIKTOK_TABLES = ("shop", "ads", "content")


def tiktok_table_rows(report: selectors.TikTokReport, table: str) -> tuple[list[str], list[list]]:
    if table == "shop":
        header = [_("Day"), _("Currency"), _("Orders"), _("GMV")]
        rows = [[d.day, d.currency, d.orders, d.gmv] for d in report.shop]
        rows += [[_("Total"), d.currency, d.orders, d.gmv] for d in report.shop_totals]
        return header, rows
    if table == "ads":
        header = [
            _("Day"),
            _("Currency"),
            _("Spend"),
            _("Impressions"),
            _("Clicks"),
            _("Conversions"),
        ]
        rows = [
            [d.day, d.currency, d.spend, d.impressions, d.clicks, d.conversions] for d in report.ads
        ]
        rows += [
            [_("Total"), d.currency, d.spend, d.impressions, d.clicks, d.conversions]
            for d in report.ads_totals
        ]
        return header, rows
    header = [
        _("Day"),
        _("Videos"),
        _("Views"),
        _("Likes"),
        _("Comments"),
        _("Shares"),
        _("Engagement"),
    ]
    rows = [
        [d.day, d.videos, d.views, d.likes, d.comments, d.shares, d.engagement]
        for d in report.content
    ]
    return header, rows


def _tiktok_context(request: HttpRequest, report: selectors.TikTokReport) -> dict:
    charts = [
        line_chart(
            title=_("Shop GMV and ad spend per day (%(currency)s)") % {"currency": currency or "?"},
            days=report.days,
            series=[Series(_("GMV"), gmv, kind="bar"), Series(_("Ad spend"), spend)],
        )
        for currency, (gmv, spend) in report.money_series.items()
    ]
    by_day = {c.day: c for c in report.content}
    charts.append(
        line_chart(
            title=_("Video views and engagement (totals reached per day)"),
            days=report.days,
            series=[
                Series(_("Views"), [by_day[d].views if d in by_day else 0 for d in report.days]),
                Series(
                    _("Engagement"),
                    [by_day[d].engagement if d in by_day else 0 for d in report.days],
                ),
            ],
        )
    )
    tables = {}
    for table in TIKTOK_TABLES:
        header, rows = tiktok_table_rows(report, table)
        tables[table] = {"header": header, "rows": rendering.daily_rows(rows)}
    return {
        "report": report,
        "filters": report.filters,
        "rollup_at": rollup_as_of(tenant=request.tenant),
        "range_choices": RANGE_CHOICES,
        "charts": charts,
        "tables": tables,
        "export_query": urlencode(report.filters.query(platform="")),
    }


def _tiktok_report(request: HttpRequest) -> selectors.TikTokReport:
    filters = Filters.from_query(
        {**request.GET.dict(), "platform": "tiktok", "campaign": ""}, today=timezone.localdate()
    )
    return selectors.tiktok_report(tenant=request.tenant, filters=filters)


@tenant_member_required
@require_GET
def tiktok(request: HttpRequest) -> HttpResponse:
    """One daily view of TikTok Shop, Ads and Content."""
    report = _tiktok_report(request)
    if request.GET.get("format") == "csv":
        return _tiktok_csv(request, report)
    return _fragment_or_page(
        request,
        "analytics/tiktok.html",
        "analytics/_tiktok_body.html",
        _tiktok_context(request, report),
    )


def _tiktok_csv(request: HttpRequest, report: selectors.TikTokReport) -> HttpResponse:
    table = request.GET.get("table", "")
    if table not in TIKTOK_TABLES:
        raise Http404(_("No such table."))
    header, rows = tiktok_table_rows(report, table)
    f = report.filters
    return _csv_response(
        f"tiktok-{table}-{f.start.isoformat()}-{f.end.isoformat()}.csv", header, rows
    )


@tenant_member_required
@require_GET
def tiktok_export(request: HttpRequest) -> HttpResponse:
    return _tiktok_csv(request, _tiktok_report(request))


# --- exchange rates ------------------------------------------------------------------


@tenant_member_required
@require_http_methods(["GET", "HEAD", "POST"])
def rates(request: HttpRequest) -> HttpResponse:
    """The tenant's exchange rates; tenant admins add them (members look)."""
    is_admin = bool(request.membership and request.membership.is_admin)
    form = None
    if request.method == "POST":
        if not is_admin:
            raise PermissionDenied(_("Only tenant admins can change exchange rates."))
        form = ExchangeRateForm(request.POST, tenant=request.tenant)
        if form.is_valid():
            rate = form.save(commit=False)
            rate.created_by = request.user
            rate.save()
            messages.success(request, _("Exchange rate saved."))
            return redirect("analytics:rates")
    elif is_admin:
        form = ExchangeRateForm(tenant=request.tenant, initial={"valid_from": timezone.localdate()})
    context = {
        "rates": ExchangeRate.objects.for_tenant(request.tenant).select_related("created_by"),
        "form": form,
        "can_admin": is_admin,
    }
    return render(request, "analytics/rates.html", context)


@require_POST
@tenant_admin_required
def rate_delete(request: HttpRequest, pk: int) -> HttpResponse:
    deleted, _rows = ExchangeRate.objects.for_tenant(request.tenant).filter(pk=pk).delete()
    if not deleted:
        raise Http404(_("No such exchange rate."))
    messages.success(request, _("Exchange rate deleted."))
    return redirect("analytics:rates")


@tenant_member_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return redirect("analytics:roi")
