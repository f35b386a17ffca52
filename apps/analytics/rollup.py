"""Rollups the ROI and TikTok pages read: spend per campaign / ad set and day, the ad directory.

Why: a year of 5,000 ads is 1.8 million insight rows; summing them for every
page view costs seconds. The same year is ~36,500 campaign-days. The rollup
is rebuilt, in SQL (``GROUP BY`` over the insights), for the days whose
insights changed since the last refresh: the insight rows carry
``synced_at``, and the tenant's :class:`RollupState` keeps the newest one
folded in, per platform. Meta restating 28 days or a backfill of last year
both just move the first dirty day back.

The ad directory maps each ad to its campaign, ad set, account currency and
names (Meta's from the insights, TikTok's from its synced ad tree, and ads
only the tickets know from their enrichment), so tickets join to campaigns in
one statement.

Runs every 5 minutes (``analytics: refresh rollups``) for tenants with
insights, and on demand (``manage.py analytics_refresh``). Tickets are never
rolled up: stages move by the minute and are read live.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

from django.db import connection, transaction
from django.db.models import CharField, Exists, F, IntegerField, Max, Min, OuterRef, Sum, Value
from django.utils import timezone

from apps.leads.models import TicketTracking
from apps.meta_ads.models import MetaAdInsight
from apps.tenants.models import Tenant
from apps.tiktok_ads.models import TikTokAd, TikTokAdGroup, TikTokAdInsight, TikTokAdsCampaign

from .models import AdDirectory, RollupState, SpendDay

logger = logging.getLogger(__name__)

BATCH = 5000
#: The rollup is refreshed on schedule every this many minutes.
REFRESH_MINUTES = 5


@dataclass(frozen=True)
class RollupSource:
    platform: str
    insights: type
    adset_column: str
    #: conversions column of the insight (None: the platform has none we roll up)
    conversions: str | None
    #: Meta's insight rows carry names; TikTok's names come from its ad tree
    names_in_insights: bool


ROLLUP_SOURCES = (
    RollupSource("meta", MetaAdInsight, "adset_id", None, True),
    RollupSource("tiktok", TikTokAdInsight, "adgroup_id", "conversions", False),
)


@dataclass
class RefreshStats:
    platforms: dict[str, date | None]
    spend_days: int = 0
    directory: int = 0


def _insert_select(queryset, columns: dict[str, str]) -> int:
    """``INSERT INTO spend_day (...) SELECT ...``: the ORM builds the SELECT, the database copies.

    ``columns`` maps the queryset's select aliases to ``SpendDay`` columns; the
    column list follows the compiled SELECT's own order, so no row crosses
    into Python (a year of a big tenant is one statement, not 200,000 objects).
    """
    compiler = queryset.query.get_compiler(using=queryset.db)
    sql, params = compiler.as_sql()
    aliases = [alias for _expr, _sql, alias in compiler.select]
    target = ", ".join(connection.ops.quote_name(columns[alias]) for alias in aliases)
    table = connection.ops.quote_name(SpendDay._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({target}) {sql}", params)
        return cursor.rowcount


def _rebuild_spend(tenant: Tenant, source: RollupSource, since: date | None) -> int:
    """Delete and recompute the rollup rows of ``source`` from ``since`` on (all when None)."""
    old = SpendDay.objects.filter(tenant=tenant, platform=source.platform)
    insights = source.insights.objects.filter(tenant=tenant).order_by()
    if since is not None:
        old = old.filter(date__gte=since)
        insights = insights.filter(date__gte=since)
    old.delete()
    written = 0
    text = CharField()
    for level, column in (
        (SpendDay.Level.CAMPAIGN, "campaign_id"),
        (SpendDay.Level.ADSET, source.adset_column),
    ):
        rows = insights.values(
            r_tenant=Value(tenant.pk, output_field=IntegerField()),
            r_platform=Value(source.platform, output_field=text),
            r_level=Value(str(level), output_field=text),
            r_key=F(column),
            r_campaign=F("campaign_id"),
            r_date=F("date"),
            r_currency=F("currency"),
        ).annotate(
            r_spend=Sum("spend"),
            r_impressions=Sum("impressions"),
            r_clicks=Sum("clicks"),
            r_conversions=Sum(source.conversions) if source.conversions else Value(0),
        )
        written += _insert_select(
            rows,
            {
                "r_tenant": "tenant_id",
                "r_platform": "platform",
                "r_level": "level",
                "r_key": "key",
                "r_campaign": "campaign_id",
                "r_date": "date",
                "r_currency": "currency",
                "r_spend": "spend",
                "r_impressions": "impressions",
                "r_clicks": "clicks",
                "r_conversions": "conversions",
            },
        )
    return written


def _upsert_directory(rows: list[AdDirectory], update_fields: list[str]) -> None:
    AdDirectory.objects.bulk_create(
        rows,
        batch_size=BATCH,
        update_conflicts=True,
        unique_fields=["tenant", "platform", "ad_id"],
        update_fields=update_fields,
    )


def _directory_from_insights(tenant: Tenant, source: RollupSource, since: date | None) -> int:
    insights = source.insights.objects.filter(tenant=tenant).order_by()
    if since is not None:
        insights = insights.filter(date__gte=since)
    extra = {}
    if source.names_in_insights:
        extra = {
            "campaign_name": Max("campaign_name"),
            "adset_name": Max("adset_name"),
            "ad_name": Max("ad_name"),
        }
    now = timezone.now()
    rows = [
        AdDirectory(
            tenant=tenant,
            platform=source.platform,
            ad_id=row["ad_id"],
            campaign_id=row["campaign"] or "",
            adset_id=row["adset"] or "",
            currency=row["cur"] or "",
            campaign_name=row.get("campaign_name") or "",
            adset_name=row.get("adset_name") or "",
            ad_name=row.get("ad_name") or "",
            updated_at=now,
        )
        for row in insights.values("ad_id").annotate(
            campaign=Max("campaign_id"),
            adset=Max(source.adset_column),
            cur=Max("currency"),
            **extra,
        )
    ]
    fields = ["campaign_id", "adset_id", "currency", "updated_at"]
    if source.names_in_insights:
        fields += ["campaign_name", "adset_name", "ad_name"]
    _upsert_directory(rows, fields)
    return len(rows)


def _directory_from_tiktok_tree(tenant: Tenant, since: datetime | None) -> int:
    """TikTok's names (and tree) from its synced campaigns, ad groups and ads: 3 reads, 1 upsert.

    Only ads synced since the last refresh (``since``; all of them the first time).
    """
    campaigns = dict(
        TikTokAdsCampaign.objects.filter(tenant=tenant).values_list("campaign_id", "name")
    )
    groups = dict(TikTokAdGroup.objects.filter(tenant=tenant).values_list("adgroup_id", "name"))
    now = timezone.now()
    rows = [
        AdDirectory(
            tenant=tenant,
            platform="tiktok",
            ad_id=ad_id,
            campaign_id=campaign_id,
            adset_id=adgroup_id,
            ad_name=name,
            adset_name=groups.get(adgroup_id, ""),
            campaign_name=campaigns.get(campaign_id, ""),
            updated_at=now,
        )
        for ad_id, campaign_id, adgroup_id, name in TikTokAd.objects.filter(
            tenant=tenant, **({"synced_at__gte": since} if since else {})
        )
        .order_by()
        .values_list("ad_id", "campaign_id", "adgroup_id", "name")
    ]
    _upsert_directory(
        rows,
        ["campaign_id", "adset_id", "ad_name", "adset_name", "campaign_name", "updated_at"],
    )
    return len(rows)


def _directory_from_tickets(tenant: Tenant) -> int:
    """Ads only tickets know (no insight yet): their enrichment's tree and names, currency unknown.

    Only tickets whose ad the directory lacks (an anti-join), so a refresh with
    nothing new reads no ticket.
    """
    now = timezone.now()
    rows = [
        AdDirectory(
            tenant=tenant,
            platform=row["platform"],
            ad_id=row["ad_id"],
            campaign_id=row["campaign"] or "",
            adset_id=row["adset"] or "",
            campaign_name=row["campaign_name"] or "",
            adset_name=row["adset_name"] or "",
            ad_name=row["ad_name"] or "",
            updated_at=now,
        )
        for row in TicketTracking.objects.filter(tenant=tenant)
        .exclude(ad_id="")
        .filter(
            ~Exists(
                AdDirectory.objects.filter(
                    tenant=OuterRef("tenant"),
                    platform=OuterRef("platform"),
                    ad_id=OuterRef("ad_id"),
                )
            )
        )
        .order_by()
        .values("platform", "ad_id")
        .annotate(
            campaign=Max("campaign_id"),
            adset=Max("adset_id"),
            campaign_name=Max("campaign_name"),
            adset_name=Max("adset_name"),
            ad_name=Max("ad_name"),
        )
    ]
    AdDirectory.objects.bulk_create(rows, batch_size=BATCH, ignore_conflicts=True)
    return len(rows)


def rollup_refresh(*, tenant: Tenant, full: bool = False) -> RefreshStats:
    """Fold the insights synced since the last refresh into the tenant's rollups.

    One transaction; the state row is locked (``SELECT ... FOR UPDATE`` on
    PostgreSQL), so two workers refreshing one tenant run one after the other.
    """
    stats = RefreshStats(platforms={})
    with transaction.atomic():
        state, _ = RollupState.objects.select_for_update().get_or_create(tenant=tenant)
        started = timezone.now()
        for source in ROLLUP_SOURCES:
            attr = f"{source.platform}_synced_upto"
            upto = None if full else getattr(state, attr)
            insights = source.insights.objects.filter(tenant=tenant)
            if upto is not None:
                insights = insights.filter(synced_at__gt=upto)
            changed = insights.aggregate(first=Min("date"), newest=Max("synced_at"))
            if changed["first"] is None:
                stats.platforms[source.platform] = None
                continue
            since = None if upto is None else changed["first"]
            stats.platforms[source.platform] = changed["first"]
            stats.spend_days += _rebuild_spend(tenant, source, since)
            stats.directory += _directory_from_insights(tenant, source, since)
            setattr(state, attr, changed["newest"])
        stats.directory += _directory_from_tiktok_tree(tenant, None if full else state.refreshed_at)
        stats.directory += _directory_from_tickets(tenant)
        state.refreshed_at = started
        state.save()
    logger.info(
        "analytics rollup refreshed",
        extra={
            "tenant_id": tenant.pk,
            "spend_days": stats.spend_days,
            "from": str(stats.platforms),
        },
    )
    return stats


def rollup_refresh_all() -> int:
    """The periodic task: every tenant that has insights or tickets, one transaction each."""
    from apps.meta_ads.models import MetaAdAccount
    from apps.tiktok_ads.models import TikTokAdsConnection

    tenant_ids = (
        set(MetaAdAccount.objects.values_list("tenant_id", flat=True))
        | set(TikTokAdsConnection.objects.values_list("tenant_id", flat=True))
        | set(TicketTracking.objects.order_by().values_list("tenant_id", flat=True).distinct())
    )
    for tenant in Tenant.objects.filter(pk__in=tenant_ids):
        rollup_refresh(tenant=tenant)
    return len(tenant_ids)


def rollup_as_of(*, tenant: Tenant) -> datetime | None:
    """When the tenant's rollups were last refreshed (1 query), None while never.

    The first view of a tenant without a state row creates it and queues one
    refresh (later views wait for it, or for the 5-minute sweep, instead of
    queueing more).
    """
    state, created = RollupState.objects.get_or_create(tenant=tenant)
    if created:
        from apps.integrations.scheduling import enqueue

        enqueue("apps.analytics.tasks.refresh_tenant", tenant.pk)
    return state.refreshed_at
