"""Reads the TikTok Ads card and the Ads page need, each with a fixed query budget.

- :func:`card_extras`: 2 queries (advertisers, pixels).
- :func:`campaign_report`, :func:`adgroup_report`, :func:`ad_report`: 3 queries
  each (advertisers, the insights summed in SQL, the object rows), whatever
  the date range or the number of rows.

Metrics are summed per object **and per currency**: an advertiser's currency
can change, and two currencies are never added together. A row carries one
:class:`Metrics` line per currency it spent in (usually one); the totals are
one line per currency.

Which rows a report lists: every object of the active advertisers that is
not deleted, plus deleted ones that have metrics in the range; insights of an
object not synced yet still show, under its id. Advertisers the tenant
unticked on the card are left out of the page entirely.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Model, Q, Sum
from django.utils.translation import gettext_lazy as _

from apps.tenants.models import Tenant

from .models import (
    TikTokAd,
    TikTokAdGroup,
    TikTokAdInsight,
    TikTokAdsCampaign,
    TikTokAdvertiser,
    TikTokPixel,
)

#: A report lists at most this many rows (the biggest spenders first); the
#: totals still cover every row.
REPORT_ROW_LIMIT = 500
ZERO = Decimal("0.00")
CENT = Decimal("0.01")


# --- card -------------------------------------------------------------------------------


def card_extras(*, tenant: Tenant, connections: list) -> dict:
    """What the TikTok Ads card shows besides the core's facts: 2 queries.

    ``advertisers``: the synced advertiser rows (with ``is_active``);
    ``discovered_advertisers``: what connect found (``connection.assets``),
    shown until the first advertisers sync; ``pixels``: ``[{pixel,
    advertiser}]``; ``conversion_pixel``: the chosen one or None.
    """
    connection_ids = [c.pk for c in connections]
    advertisers = list(
        TikTokAdvertiser.objects.for_tenant(tenant)
        .filter(connection_id__in=connection_ids)
        .order_by("name", "advertiser_id")
    )
    pixels = list(
        TikTokPixel.objects.for_tenant(tenant)
        .filter(connection_id__in=connection_ids)
        .order_by("name", "pixel_id")
    )
    names = {a.advertiser_id: a.name or a.advertiser_id for a in advertisers}
    discovered = [
        advertiser
        for connection in connections
        for advertiser in (connection.assets or {}).get("advertisers") or []
    ]
    for advertiser in discovered:
        names.setdefault(str(advertiser.get("id")), advertiser.get("name") or advertiser.get("id"))
    return {
        "advertisers": advertisers,
        "discovered_advertisers": discovered,
        "pixels": [
            {"pixel": p, "advertiser": names.get(p.advertiser_id, p.advertiser_id)} for p in pixels
        ],
        "conversion_pixel": next((p for p in pixels if p.is_conversion_pixel), None),
    }


# --- reports ------------------------------------------------------------------------------


@dataclass
class Metrics:
    """Sums over a date range in one currency."""

    currency: str
    spend: Decimal = ZERO
    impressions: int = 0
    clicks: int = 0
    conversions: int = 0

    @property
    def ctr(self) -> Decimal | None:
        """Click-through rate in percent, 2 decimals; None without impressions."""
        if not self.impressions:
            return None
        return (Decimal(self.clicks) * 100 / Decimal(self.impressions)).quantize(
            CENT, rounding=ROUND_HALF_UP
        )

    def add(self, other: Metrics) -> None:
        if other.currency != self.currency:
            raise ValueError("Metrics in two currencies are never added together.")
        self.spend += other.spend
        self.impressions += other.impressions
        self.clicks += other.clicks
        self.conversions += other.conversions


@dataclass
class ReportRow:
    """One campaign, ad group or ad with its metrics, one line per currency."""

    kind: str  # "campaign" | "adgroup" | "ad"
    object_id: str
    obj: Any  # the synced row, or None when only insights know this id yet
    advertiser: TikTokAdvertiser | None
    lines: list[Metrics]

    @property
    def name(self) -> str:
        return str(self.obj) if self.obj is not None else self.object_id

    @property
    def is_deleted(self) -> bool:
        return self.obj is not None and self.obj.secondary_status.endswith("_DELETE")

    @property
    def is_enabled(self) -> bool:
        return self.obj is not None and self.obj.operation_status == "ENABLE"

    @property
    def status_label(self) -> str:
        if self.obj is None:
            return str(_("not synced yet"))
        if self.is_deleted:
            return str(_("Deleted"))
        if self.obj.operation_status == "ENABLE":
            return str(_("Active"))
        if self.obj.operation_status == "DISABLE":
            return str(_("Paused"))
        return self.obj.operation_status or "—"

    @property
    def changeable(self) -> bool:
        return self.obj is not None and not self.is_deleted

    @property
    def has_daily_budget(self) -> bool:
        return (
            self.kind == "adgroup" and self.changeable and self.obj.budget_mode == "BUDGET_MODE_DAY"
        )

    @property
    def spend_sort_key(self) -> Decimal:
        return max((line.spend for line in self.lines), default=ZERO)


@dataclass
class Report:
    date_from: date
    date_to: date
    rows: list[ReportRow] = field(default_factory=list)
    #: one line per currency, over every row (also those past the row limit)
    totals: list[Metrics] = field(default_factory=list)
    truncated: bool = False


@dataclass(frozen=True)
class _Level:
    kind: str
    model: type[Model]
    id_field: str


CAMPAIGNS = _Level("campaign", TikTokAdsCampaign, "campaign_id")
ADGROUPS = _Level("adgroup", TikTokAdGroup, "adgroup_id")
ADS = _Level("ad", TikTokAd, "ad_id")


def _report(
    *,
    tenant: Tenant,
    level: _Level,
    date_from: date,
    date_to: date,
    scope: dict[str, str],
    only_ids: list[str] | None,
) -> Report:
    advertisers = {a.advertiser_id: a for a in TikTokAdvertiser.objects.for_tenant(tenant)}
    inactive = [a.advertiser_id for a in advertisers.values() if not a.is_active]

    insights = (
        TikTokAdInsight.objects.for_tenant(tenant)
        .filter(date__gte=date_from, date__lte=date_to, **scope)
        .exclude(advertiser_id__in=inactive)
    )
    objects = (
        level.model.objects.for_tenant(tenant).filter(**scope).exclude(advertiser_id__in=inactive)
    )
    if only_ids is not None:
        insights = insights.filter(**{f"{level.id_field}__in": only_ids})
        objects = objects.filter(**{f"{level.id_field}__in": only_ids})
    sums = (
        insights.values(level.id_field, "advertiser_id", "currency")
        .annotate(
            spend_sum=Sum("spend"),
            impressions_sum=Sum("impressions"),
            clicks_sum=Sum("clicks"),
            conversions_sum=Sum("conversions"),
        )
        .order_by()
    )
    # Deleted objects only when they spent in the range: a subquery, not another round trip.
    with_metrics = insights.values(level.id_field)
    objects = objects.filter(
        ~Q(secondary_status__endswith="_DELETE") | Q(**{f"{level.id_field}__in": with_metrics})
    )

    lines: dict[str, list[Metrics]] = {}
    advertiser_of: dict[str, str] = {}
    totals: dict[str, Metrics] = {}
    for row in sums:
        metrics = Metrics(
            currency=row["currency"] or "",
            spend=(row["spend_sum"] or ZERO).quantize(CENT),
            impressions=row["impressions_sum"] or 0,
            clicks=row["clicks_sum"] or 0,
            conversions=row["conversions_sum"] or 0,
        )
        object_id = row[level.id_field]
        lines.setdefault(object_id, []).append(metrics)
        advertiser_of.setdefault(object_id, row["advertiser_id"])
        total = totals.setdefault(metrics.currency, Metrics(currency=metrics.currency))
        total.add(metrics)

    rows: list[ReportRow] = []
    seen: set[str] = set()
    for obj in objects:
        object_id = getattr(obj, level.id_field)
        seen.add(object_id)
        advertiser = advertisers.get(obj.advertiser_id)
        rows.append(
            ReportRow(
                kind=level.kind,
                object_id=object_id,
                obj=obj,
                advertiser=advertiser,
                lines=lines.get(object_id)
                or [Metrics(currency=advertiser.currency if advertiser else "")],
            )
        )
    for object_id, metric_lines in lines.items():
        if object_id not in seen:
            rows.append(
                ReportRow(
                    kind=level.kind,
                    object_id=object_id,
                    obj=None,
                    advertiser=advertisers.get(advertiser_of[object_id]),
                    lines=metric_lines,
                )
            )
    for row in rows:
        row.lines.sort(key=lambda m: m.currency)
    # Rows that spent come first, grouped by currency (amounts in two currencies are not
    # comparable), the biggest spenders first; then the others by name.
    rows.sort(
        key=lambda r: (
            r.spend_sort_key <= 0,
            r.lines[0].currency if r.spend_sort_key > 0 else "",
            -r.spend_sort_key,
            -sum(m.impressions for m in r.lines),
            r.name.lower(),
            r.object_id,
        )
    )
    return Report(
        date_from=date_from,
        date_to=date_to,
        rows=rows[:REPORT_ROW_LIMIT],
        totals=[totals[c] for c in sorted(totals)],
        truncated=len(rows) > REPORT_ROW_LIMIT,
    )


def campaign_report(
    *,
    tenant: Tenant,
    date_from: date,
    date_to: date,
    campaign_ids: list[str] | None = None,
) -> Report:
    """The tenant's campaigns with their metrics from ``date_from`` to ``date_to`` (inclusive).

    ``campaign_ids`` narrows the report (one row re-rendered after an action).
    """
    return _report(
        tenant=tenant,
        level=CAMPAIGNS,
        date_from=date_from,
        date_to=date_to,
        scope={},
        only_ids=campaign_ids,
    )


def adgroup_report(
    *,
    tenant: Tenant,
    campaign: TikTokAdsCampaign,
    date_from: date,
    date_to: date,
    adgroup_ids: list[str] | None = None,
) -> Report:
    """The ad groups of one campaign, with their metrics."""
    return _report(
        tenant=tenant,
        level=ADGROUPS,
        date_from=date_from,
        date_to=date_to,
        scope={"campaign_id": campaign.campaign_id},
        only_ids=adgroup_ids,
    )


def ad_report(
    *,
    tenant: Tenant,
    adgroup: TikTokAdGroup,
    date_from: date,
    date_to: date,
    ad_ids: list[str] | None = None,
) -> Report:
    """The ads of one ad group, with their metrics."""
    return _report(
        tenant=tenant,
        level=ADS,
        date_from=date_from,
        date_to=date_to,
        scope={"adgroup_id": adgroup.adgroup_id},
        only_ids=ad_ids,
    )
