"""The ROI report: ad spend against the tickets the ads brought, per currency, summed in SQL.

Sources:

- spend, impressions, clicks: the rollup :class:`~.models.SpendDay` (campaign
  and ad set per day, built from the daily insights by :mod:`.rollup`), and
  for the ads of one ad set the insights themselves (``MetaAdInsight``,
  ``TikTokAdInsight``). Their ``currency`` is the ad account's / advertiser's
  currency as the sync stamped it.
- tickets, read live: ``leads.TicketTracking`` (the ad a ticket came from, last
  touch) joined through :class:`~.models.AdDirectory` (ad -> ad set ->
  campaign, account currency, names) in one grouped statement. A ticket
  counts in the range by the day it was **opened** (a cohort: the revenue of a
  ticket opened in March and won in May counts for March); *qualified* is a
  ticket qualified or won now, or that ever moved to qualified (its
  ``StageChange`` history); *won* and *revenue* are tickets won now, with their
  deal value in the ticket's currency.

A ticket's counts go to the currency of its ad's account (where its cost was
spent: the *home* currency); its revenue to the deal's currency. Amounts in
different currencies are never added: every row and total is per currency.
With a display currency chosen, the currencies the tenant keeps a rate for
(``ExchangeRate``, the latest valid on the range's last day, direct or
inverse) are converted into it **in SQL** (a ``CASE`` on the currency) before
grouping; the others stay their own groups.

Query budget (constant for any range and any amount of data, counted by the
tests): a drilled-down campaign or ad set 1 each; rates 1; spend by row and by
day 2; ticket counts and revenue by row 1, revenue by day 1; names 1. The
totals per currency and the funnel are sums of the table's rows, which is
exact: the directory holds each ad once and a ticket has one tracking, so every
ticket (and every day of spend) lands in exactly one row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlencode

from django.db.models import (
    Case,
    CharField,
    Count,
    DecimalField,
    Exists,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from apps.leads.models import StageChange, Ticket
from apps.meta_ads.models import MetaAdInsight
from apps.tenants.models import Tenant
from apps.tiktok_ads.models import TikTokAdInsight

from .filters import PLATFORM_LABELS, PLATFORM_META, PLATFORM_TIKTOK, Filters
from .models import AdDirectory, ExchangeRate, SpendDay

CENT = Decimal("0.01")
MONEY = DecimalField(max_digits=30, decimal_places=10)
QUALIFIED_STAGES = (Ticket.Stage.QUALIFIED, Ticket.Stage.WON)


def money(value: Decimal | None) -> Decimal:
    """A sum as shown and exported: rounded half up to the cent (SQLite sums are floats)."""
    return Decimal(str(value or 0)).quantize(CENT, rounding=ROUND_HALF_UP)


def ratio(numerator: Decimal, denominator: Decimal | int) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(CENT, rounding=ROUND_HALF_UP)


# --- where each platform keeps what ---------------------------------------------------

#: the insight columns of each platform, for the ad level (the rollup covers the others)
INSIGHTS = {
    PLATFORM_META: (MetaAdInsight, {"campaign": "campaign_id", "adset": "adset_id"}),
    PLATFORM_TIKTOK: (TikTokAdInsight, {"campaign": "campaign_id", "adset": "adgroup_id"}),
}
#: level -> (id, name) columns of the ad directory
DIRECTORY_COLUMNS = {
    "campaign": ("campaign_id", "campaign_name"),
    "adset": ("adset_id", "adset_name"),
    "ad": ("ad_id", "ad_name"),
}


# --- currency conversion --------------------------------------------------------------


@dataclass(frozen=True)
class Conversion:
    """Factors into ``target`` for the currencies that have a rate; empty: no conversion."""

    target: str = ""
    factors: dict[str, Decimal] = field(default_factory=dict)

    def currency(self, column: str):
        """SQL: the currency a row is shown in (the target where a rate exists)."""
        if not self.factors:
            return F(column)
        whens = [When(**{column: code}, then=Value(self.target)) for code in self.factors]
        return Case(*whens, default=F(column), output_field=CharField())

    def amount(self, column: str, currency_column: str):
        """SQL: the amount in the currency :meth:`currency` names."""
        if not self.factors:
            return F(column)
        whens = [
            When(**{currency_column: code}, then=F(column) * Value(factor, output_field=MONEY))
            for code, factor in self.factors.items()
        ]
        return Case(*whens, default=F(column), output_field=MONEY)


def conversion_for(*, tenant: Tenant, target: str, as_of: date) -> tuple[Conversion, list[str]]:
    """The factors into ``target`` valid on ``as_of``, and every currency the tenant has rates for.

    One query. For each other currency the latest rate on or before ``as_of``
    wins, direct (``X -> target``) before inverse (``target -> X``) on the same day.
    """
    rates = list(ExchangeRate.objects.for_tenant(tenant).order_by("-valid_from", "pk"))
    currencies = sorted({r.from_currency for r in rates} | {r.to_currency for r in rates})
    if not target:
        return Conversion(), currencies
    best: dict[str, tuple[date, int, Decimal]] = {}
    for rate in rates:
        if rate.valid_from > as_of:
            continue
        if rate.to_currency == target:
            code, factor, direct = rate.from_currency, rate.rate, 1
        elif rate.from_currency == target:
            code, factor, direct = rate.to_currency, Decimal(1) / rate.rate, 0
        else:
            continue
        current = best.get(code)
        if current is None or (rate.valid_from, direct) > current[:2]:
            best[code] = (rate.valid_from, direct, factor)
    return (
        Conversion(target=target, factors={c: f for c, (_, _, f) in best.items()}),
        currencies,
    )


# --- the report ----------------------------------------------------------------------


@dataclass
class Row:
    """One table row: an entity (or a total) in one currency."""

    platform: str = ""
    key: str = ""
    name: str = ""
    currency: str = ""
    spend: Decimal = Decimal(0)
    impressions: int = 0
    clicks: int = 0
    tickets: int = 0
    qualified: int = 0
    won: int = 0
    revenue: Decimal = Decimal(0)
    drill_query: str = ""

    @property
    def platform_label(self) -> str:
        return str(PLATFORM_LABELS.get(self.platform, self.platform))

    @property
    def cost_per_ticket(self) -> Decimal | None:
        return ratio(self.spend, self.tickets) if self.spend else None

    @property
    def cost_per_qualified(self) -> Decimal | None:
        return ratio(self.spend, self.qualified) if self.spend else None

    @property
    def roas(self) -> Decimal | None:
        """Revenue per unit of spend, both in this row's currency."""
        return ratio(self.revenue, self.spend)


@dataclass
class CurrencyGroup:
    currency: str
    rows: list[Row]
    total: Row


@dataclass
class DayPoint:
    day: date
    spend: Decimal
    revenue: Decimal


@dataclass
class DailySeries:
    currency: str
    points: list[DayPoint]


@dataclass
class Funnel:
    tickets: int = 0
    qualified: int = 0
    won: int = 0


@dataclass
class Crumb:
    level: str
    key: str
    name: str


@dataclass
class RoiReport:
    filters: Filters
    level: str
    groups: list[CurrencyGroup]
    daily: list[DailySeries]
    funnel: Funnel
    conversion: Conversion
    currencies: list[str]
    campaign: Crumb | None = None
    adset: Crumb | None = None

    @property
    def unconverted(self) -> list[str]:
        """Currencies still shown apart while a display currency is chosen (no rate)."""
        if not self.conversion.target:
            return []
        return [g.currency for g in self.groups if g.currency != self.conversion.target]


class NotFound(Exception):
    """The drilled-down campaign or ad set is not the tenant's."""


def day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start, end] calendar days as aware datetimes [start 00:00, end+1 00:00) in the project time zone."""
    tz = timezone.get_current_timezone()
    return (
        datetime.combine(start, time.min, tzinfo=tz),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz),
    )


def _spend_rows(tenant: Tenant, filters: Filters) -> QuerySet:
    """Daily spend rows for the level shown, with ``platform`` and ``row_key`` (one table).

    Campaigns and ad sets come from the rollup (:class:`SpendDay`); the ads of
    one ad set from that platform's insights, narrowed by campaign and ad set.
    """
    level = filters.level
    if level == "ad":
        model, columns = INSIGHTS[filters.platform]
        return (
            model.objects.filter(
                tenant=tenant,
                date__gte=filters.start,
                date__lte=filters.end,
                **{columns["campaign"]: filters.campaign, columns["adset"]: filters.adset},
            )
            .order_by()
            .annotate(
                row_platform=Value(filters.platform, output_field=CharField()),
                row_key=F("ad_id"),
            )
        )
    rows = SpendDay.objects.filter(
        tenant=tenant,
        level=level,
        platform__in=filters.platforms,
        date__gte=filters.start,
        date__lte=filters.end,
    )
    if filters.campaign:
        rows = rows.filter(campaign_id=filters.campaign)
    return rows.order_by().annotate(row_platform=F("platform"), row_key=F("key"))


def _ticket_scope(tenant: Tenant, filters: Filters, **extra) -> QuerySet:
    """Directory rows joined to the tickets of their ads opened in the range (one ``filter()``,
    so every condition applies to the same join)."""
    start, end = day_bounds(filters.start, filters.end)
    conditions = {
        "tenant": tenant,
        "platform__in": filters.platforms,
        "trackings__ticket__opened_at__gte": start,
        "trackings__ticket__opened_at__lt": end,
        **extra,
    }
    if filters.campaign:
        conditions["campaign_id"] = filters.campaign
    if filters.adset:
        conditions["adset_id"] = filters.adset
    return AdDirectory.objects.filter(**conditions).order_by()


def _ticket_figures(conversion: Conversion) -> dict:
    """Tickets, qualified (now, or ever moved there), won and revenue over :func:`_ticket_scope` rows.

    Every ticket has one tracking row and every ad one directory row, so each
    ticket is one joined row: plain counts, no ``DISTINCT``. *Reached* is an
    ``EXISTS`` on the stage history rather than a join, which would repeat a
    ticket once per move and inflate the revenue sum.
    """
    ticket = "trackings__ticket"
    reached = Exists(
        StageChange.objects.filter(
            ticket_id=OuterRef(f"{ticket}__id"), to_stage__in=QUALIFIED_STAGES
        )
    )
    won = Q(**{f"{ticket}__stage": Ticket.Stage.WON})
    return {
        "tickets": Count("trackings__id"),
        "qualified": Count(
            "trackings__id", filter=Q(**{f"{ticket}__stage__in": QUALIFIED_STAGES}) | Q(reached)
        ),
        "won": Count("trackings__id", filter=won),
        "revenue": Sum(
            conversion.amount(f"{ticket}__deal_value", f"{ticket}__currency"),
            filter=won & Q(**{f"{ticket}__deal_value__isnull": False}),
            output_field=MONEY,
        ),
    }


def _crumb(tenant: Tenant, filters: Filters, level: str, key: str) -> Crumb:
    """The drilled-down campaign or ad set by name (1 query); NotFound when the tenant has none."""
    id_col, name_col = DIRECTORY_COLUMNS[level]
    scope = {"tenant": tenant, "platform": filters.platform, id_col: key}
    if level == "adset":
        scope["campaign_id"] = filters.campaign
    found = (
        AdDirectory.objects.filter(**scope)
        .order_by()
        .values(id_col)
        .annotate(name=Max(name_col))
        .values_list("name", flat=True)[:1]
    )
    found = found[0] if found else None
    if found is None:
        raise NotFound(key)
    return Crumb(level=level, key=key, name=found or key)


def roi_report(*, tenant: Tenant, filters: Filters) -> RoiReport:
    """The ROI table, totals, daily series and funnel for ``filters`` (see the module's budget)."""
    level = filters.level
    campaign = adset = None
    if filters.campaign:
        campaign = _crumb(tenant, filters, "campaign", filters.campaign)
    if filters.adset:
        adset = _crumb(tenant, filters, "adset", filters.adset)
    conversion, currencies = conversion_for(
        tenant=tenant, target=filters.currency, as_of=filters.end
    )

    rows: dict[tuple[str, str, str], Row] = {}
    totals: dict[str, Row] = {}

    def row(platform: str, key: str, currency: str) -> Row:
        found = rows.get((platform, key, currency))
        if found is None:
            found = rows[(platform, key, currency)] = Row(
                platform=platform, key=key, currency=currency
            )
        return found

    def total(currency: str) -> Row:
        return totals.setdefault(currency, Row(currency=currency))

    # spend: by row and by day (2 queries)
    spend_rows = _spend_rows(tenant, filters)
    currency = conversion.currency("currency")
    spend = Sum(conversion.amount("spend", "currency"), output_field=MONEY)
    metrics = {"spend": spend, "impressions": Sum("impressions"), "clicks": Sum("clicks")}
    for item in spend_rows.values("row_platform", "row_key", cur=currency).annotate(**metrics):
        r = row(item["row_platform"], item["row_key"], item["cur"])
        r.spend, r.impressions, r.clicks = item["spend"], item["impressions"], item["clicks"]
    daily_spend = {
        (item["cur"], item["date"]): item["spend"]
        for item in spend_rows.values("date", cur=currency).annotate(spend=spend)
    }

    # tickets: counts and revenue by row (1 query), revenue by day (1 query). The counts
    # go to the row in the currency of the ad's account, the revenue to the deal's.
    id_col, name_col = DIRECTORY_COLUMNS[level]
    tickets = _ticket_scope(tenant, filters)
    deal_currency = conversion.currency("trackings__ticket__currency")
    for item in tickets.values(
        "platform", row_key=F(id_col), cur=currency, deal_cur=deal_currency
    ).annotate(**_ticket_figures(conversion)):
        r = row(item["platform"], item["row_key"], item["cur"])
        r.tickets += item["tickets"]
        r.qualified += item["qualified"]
        r.won += item["won"]
        if item["revenue"] is not None:
            row(item["platform"], item["row_key"], item["deal_cur"]).revenue += item["revenue"]
    won = _ticket_scope(
        tenant,
        filters,
        trackings__ticket__stage=Ticket.Stage.WON,
        trackings__ticket__deal_value__isnull=False,
    )
    revenue = Sum(
        conversion.amount("trackings__ticket__deal_value", "trackings__ticket__currency"),
        output_field=MONEY,
    )
    daily_revenue = {
        (item["cur"], item["day"]): item["revenue"]
        for item in won.values(
            day=TruncDate("trackings__ticket__opened_at"), cur=deal_currency
        ).annotate(revenue=revenue)
    }

    # totals per currency and the funnel: sums of the rows, exact because each ticket
    # and each day of spend sits in exactly one row
    funnel = Funnel()
    for r in rows.values():
        r.spend = Decimal(r.spend or 0)
        t = total(r.currency)
        t.spend += r.spend
        t.impressions += r.impressions or 0
        t.clicks += r.clicks or 0
        t.tickets += r.tickets
        t.qualified += r.qualified
        t.won += r.won
        t.revenue += r.revenue
        funnel.tickets += r.tickets
        funnel.qualified += r.qualified
        funnel.won += r.won

    # names from the directory (1 query)
    keys = {key for (_p, key, _c) in rows if key}
    names = {
        (item["platform"], item["row_key"]): item["name"]
        for item in AdDirectory.objects.filter(
            tenant=tenant, platform__in=filters.platforms, **{f"{id_col}__in": keys}
        )
        .exclude(**{name_col: ""})
        .order_by()
        .values("platform", row_key=F(id_col))
        .annotate(name=Max(name_col))
    }

    groups = []
    for code, t in totals.items():
        t.spend, t.revenue = money(t.spend), money(t.revenue)
        members = [r for (_p, _k, c), r in rows.items() if c == code]
        for r in members:
            r.spend, r.revenue = money(r.spend), money(r.revenue)
            r.name = names.get((r.platform, r.key)) or r.key
            if level != "ad" and r.key:
                r.drill_query = urlencode(filters.drill(platform=r.platform, key=r.key).query())
        members.sort(key=lambda r: (-r.spend, -r.tickets, r.platform, r.name))
        groups.append(CurrencyGroup(currency=code, rows=members, total=t))
    groups.sort(key=lambda g: (g.currency == "", -g.total.spend, g.currency))

    daily = []
    for group in groups:
        points = []
        for offset in range(filters.days):
            day = filters.start + timedelta(days=offset)
            points.append(
                DayPoint(
                    day=day,
                    spend=money(daily_spend.get((group.currency, day))),
                    revenue=money(daily_revenue.get((group.currency, day))),
                )
            )
        daily.append(DailySeries(currency=group.currency, points=points))

    return RoiReport(
        filters=filters,
        level=level,
        groups=groups,
        daily=daily,
        funnel=funnel,
        conversion=conversion,
        currencies=currencies,
        campaign=campaign,
        adset=adset,
    )


# --- TikTok: Shop, Ads and Content, day by day -------------------------------------------


@dataclass
class ShopDay:
    day: date
    currency: str
    orders: int
    gmv: Decimal


@dataclass
class AdsDay:
    day: date
    currency: str
    spend: Decimal
    impressions: int
    clicks: int
    conversions: int


@dataclass
class ContentDay:
    day: date
    videos: int
    views: int
    likes: int
    comments: int
    shares: int

    @property
    def engagement(self) -> int:
        return self.likes + self.comments + self.shares


@dataclass
class TikTokReport:
    filters: Filters
    shop: list[ShopDay]
    ads: list[AdsDay]
    content: list[ContentDay]
    conversion: Conversion
    currencies: list[str]
    #: currency -> (days, GMV per day, spend per day), for the charts
    money_series: dict[str, tuple[list[Decimal], list[Decimal]]]
    days: list[date]
    shop_totals: list[ShopDay]
    ads_totals: list[AdsDay]


#: orders that never became a sale do not count towards GMV
GMV_EXCLUDED_STATUSES = ("CANCELLED", "UNPAID")


def _totals(rows: list[dict], fields: tuple[str, ...]) -> dict[str, dict]:
    """Per-currency sums of per-day rows, currencies in order (exact: each row is one day in
    one currency; amounts are summed before they are rounded)."""
    totals: dict[str, dict] = {}
    for row in rows:
        total = totals.setdefault(row["cur"], dict.fromkeys(fields, 0))
        for name in fields:
            total[name] += row[name] or 0
    return dict(sorted(totals.items()))


def tiktok_report(*, tenant: Tenant, filters: Filters) -> TikTokReport:
    """Orders and GMV, ad spend and conversions, video views and engagement per day (4 queries:
    rates, orders by day, ad spend by day, videos by day; the totals are the days' sums).

    Shop days are the order's ``create_time`` in the project time zone; GMV is
    ``total_amount`` of orders neither unpaid nor cancelled (the order count
    counts every order created). Ads days are the advertiser's report days.
    Content figures are the videos' daily snapshots: what each video had
    reached that day (cumulative counts, summed over the videos snapshotted
    that day), so a rising line is growth.
    """
    from apps.tiktok_content.models import TikTokVideoDailySnapshot
    from apps.tiktok_shop.models import Order

    conversion, currencies = conversion_for(
        tenant=tenant, target=filters.currency, as_of=filters.end
    )
    start, end = day_bounds(filters.start, filters.end)
    orders = Order.objects.filter(tenant=tenant, create_time__gte=start, create_time__lt=end)
    orders = orders.order_by().annotate(gmv_amount=Coalesce("total_amount", Value(Decimal(0))))
    gmv = Sum(
        conversion.amount("gmv_amount", "currency"),
        filter=~Q(status__in=GMV_EXCLUDED_STATUSES),
        output_field=MONEY,
    )
    shop_rows = list(
        orders.values(day=TruncDate("create_time"), cur=conversion.currency("currency"))
        .annotate(orders=Count("pk"), gmv=gmv)
        .order_by("day", "cur")
    )
    shop = [
        ShopDay(day=i["day"], currency=i["cur"], orders=i["orders"], gmv=money(i["gmv"]))
        for i in shop_rows
    ]
    shop_totals = [
        ShopDay(day=filters.end, currency=cur, orders=t["orders"], gmv=money(t["gmv"]))
        for cur, t in _totals(shop_rows, ("orders", "gmv")).items()
    ]
    insights = SpendDay.objects.filter(
        tenant=tenant,
        platform=PLATFORM_TIKTOK,
        level=SpendDay.Level.CAMPAIGN,
        date__gte=filters.start,
        date__lte=filters.end,
    ).order_by()
    ads_metrics = {
        "spend": Sum(conversion.amount("spend", "currency"), output_field=MONEY),
        "impressions": Sum("impressions"),
        "clicks": Sum("clicks"),
        "conversions": Sum("conversions"),
    }

    def ads_day(i: dict, day: date) -> AdsDay:
        return AdsDay(
            day=day,
            currency=i["cur"],
            spend=money(i["spend"]),
            impressions=i["impressions"] or 0,
            clicks=i["clicks"] or 0,
            conversions=i["conversions"] or 0,
        )

    ads_rows = list(
        insights.values("date", cur=conversion.currency("currency"))
        .annotate(**ads_metrics)
        .order_by("date", "cur")
    )
    ads = [ads_day(i, i["date"]) for i in ads_rows]
    ads_totals = [
        ads_day({"cur": cur, **t}, filters.end)
        for cur, t in _totals(ads_rows, tuple(ads_metrics)).items()
    ]
    content = [
        ContentDay(**i)
        for i in TikTokVideoDailySnapshot.objects.filter(
            tenant=tenant, date__gte=filters.start, date__lte=filters.end
        )
        .order_by()
        .values(day=F("date"))
        .annotate(
            videos=Count("video_id", distinct=True),
            views=Sum("view_count"),
            likes=Sum("like_count"),
            comments=Sum("comment_count"),
            shares=Sum("share_count"),
        )
        .order_by("day")
    ]
    days = [filters.start + timedelta(days=n) for n in range(filters.days)]
    gmv_by = {(s.currency, s.day): s.gmv for s in shop}
    spend_by = {(a.currency, a.day): a.spend for a in ads}
    money_series = {}
    for currency in sorted({c for c, _ in gmv_by} | {c for c, _ in spend_by}):
        money_series[currency] = (
            [gmv_by.get((currency, d), Decimal(0)) for d in days],
            [spend_by.get((currency, d), Decimal(0)) for d in days],
        )
    return TikTokReport(
        filters=filters,
        shop=shop,
        ads=ads,
        content=content,
        conversion=conversion,
        currencies=currencies,
        money_series=money_series,
        days=days,
        shop_totals=shop_totals,
        ads_totals=ads_totals,
    )
