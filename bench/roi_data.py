"""Data for the ROI benchmark: one tenant, 5,000 ads, a year of daily insights, tickets.

Shape (defaults), deterministic for a seed:

- Meta: half the ads, in two ad accounts (BRL and USD), 10 ads per ad set,
  5 ad sets per campaign; TikTok: the other half in one USD advertiser, with
  its campaign, ad group and ad rows, the same fan-out.
- Every ad has an insight row for **every day** of the year (``--days``): the
  worst case, 5,000 x 365 = 1,825,000 rows (real ads run for weeks, not a
  year; ``--active-days`` makes each ad run only that many consecutive days).
- TikTok Shop: ``orders`` orders over the year (90% USD); Content: ``videos``
  videos with a daily snapshot each (defaults 20,000 and 50).
- ``--tickets`` tickets (default 20,000) opened over the year, attributed to
  random ads (last touch), about a third enriched with campaign names; 30%
  qualified (a ``StageChange``), a third of those won with a deal value in
  the account's currency (a few in the other one).

PostgreSQL gets the insights through ``COPY`` (fast); other databases through
``bulk_create``. Used by ``bench/bench_roi.py``; importable on its own:

    from bench.roi_data import generate
    generate(tenant, ads=5000, days=365)
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import connection
from django.utils import timezone

ADS_PER_ADSET = 10
ADSETS_PER_CAMPAIGN = 5


@dataclass
class Generated:
    ads: int
    insights: int
    tickets: int
    start: date
    end: date


def _copy(model, columns: list[str], rows) -> int:
    """Rows into ``model``'s table: COPY on PostgreSQL, bulk_create elsewhere."""
    count = 0
    if connection.vendor == "postgresql":
        table = model._meta.db_table
        cols = ", ".join(f'"{c}"' for c in columns)
        with connection.cursor() as cursor:
            raw = cursor.cursor
            batch = io.StringIO()
            for row in rows:
                batch.write("\t".join("\\N" if v is None else str(v) for v in row) + "\n")
                count += 1
                if count % 200_000 == 0:
                    batch.seek(0)
                    with raw.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                        copy.write(batch.read())
                    batch = io.StringIO()
            batch.seek(0)
            with raw.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                copy.write(batch.read())
        return count
    objs = []
    for row in rows:
        objs.append(model(**dict(zip(columns, row, strict=True))))
        count += 1
        if len(objs) >= 20_000:
            model.objects.bulk_create(objs, batch_size=2_000)
            objs = []
    model.objects.bulk_create(objs, batch_size=2_000)
    return count


def generate(
    tenant,
    *,
    ads: int = 5000,
    days: int = 365,
    tickets: int = 20_000,
    active_days: int | None = None,
    orders: int = 20_000,
    videos: int = 50,
    end: date | None = None,
    seed: int = 10,
) -> Generated:
    from apps.leads.models import Contact, StageChange, Ticket, TicketTracking
    from apps.meta_ads.models import MetaAdAccount, MetaAdInsight
    from apps.tiktok_ads.models import (
        TikTokAd,
        TikTokAdGroup,
        TikTokAdInsight,
        TikTokAdsCampaign,
        TikTokAdsConnection,
        TikTokAdvertiser,
    )

    rng = random.Random(seed)
    end = end or timezone.localdate()
    start = end - timedelta(days=days - 1)
    now = timezone.now()
    active = min(active_days or days, days)

    accounts = [
        MetaAdAccount.objects.create(
            tenant=tenant,
            account_id=f"90{n}",
            name=f"Bench {cur}",
            currency=cur,
            tracking_enabled=True,
            synced_at=now,
        )
        for n, cur in enumerate(("BRL", "USD"))
    ]
    conn = TikTokAdsConnection.objects.create(tenant=tenant, access_token="bench")
    TikTokAdvertiser.objects.create(
        tenant=tenant,
        connection=conn,
        advertiser_id="7000",
        currency="USD",
        name="Bench",
        synced_at=now,
    )

    # the ad tree: (platform, account index, campaign, adset, ad, currency)
    tree = []
    meta_ads = ads // 2
    for i in range(ads):
        platform = "meta" if i < meta_ads else "tiktok"
        j = i if platform == "meta" else i - meta_ads
        adset = j // ADS_PER_ADSET
        campaign = adset // ADSETS_PER_CAMPAIGN
        account = (campaign % 2) if platform == "meta" else 0
        currency = accounts[account].currency if platform == "meta" else "USD"
        prefix = "m" if platform == "meta" else "t"
        tree.append(
            (
                platform,
                account,
                f"{prefix}c{campaign}",
                f"{prefix}s{adset}",
                f"{prefix}a{j}",
                currency,
            )
        )

    tt = [t for t in tree if t[0] == "tiktok"]
    common = {"tenant": tenant, "connection": conn, "advertiser_id": "7000", "synced_at": now}
    TikTokAdsCampaign.objects.bulk_create(
        [
            TikTokAdsCampaign(**common, campaign_id=c, name=f"TikTok campaign {c}")
            for c in sorted({t[2] for t in tt})
        ]
    )
    groups = sorted({(t[2], t[3]) for t in tt})
    TikTokAdGroup.objects.bulk_create(
        [TikTokAdGroup(**common, campaign_id=c, adgroup_id=g, name=f"Group {g}") for c, g in groups]
    )
    TikTokAd.objects.bulk_create(
        [
            TikTokAd(**common, campaign_id=t[2], adgroup_id=t[3], ad_id=t[4], name=f"Ad {t[4]}")
            for t in tt
        ],
        batch_size=2000,
    )

    first_day = {t[4]: start + timedelta(days=rng.randrange(days - active + 1)) for t in tree}
    synced = now.isoformat()

    def insight_rows(platform: str):
        for plat, account, campaign, adset, ad, currency in tree:
            if plat != platform:
                continue
            day0 = first_day[ad]
            for d in range(active):
                day = day0 + timedelta(days=d)
                spend = Decimal(rng.randrange(100, 20_000)) / 100
                impressions = rng.randrange(200, 20_000)
                clicks = impressions // rng.randrange(40, 120)
                if platform == "meta":
                    yield (
                        tenant.pk,
                        accounts[account].pk,
                        campaign,
                        f"Meta campaign {campaign}",
                        adset,
                        f"Ad set {adset}",
                        ad,
                        f"Ad {ad}",
                        day.isoformat(),
                        currency,
                        spend,
                        impressions,
                        clicks,
                        None,
                        synced,
                    )
                else:
                    yield (
                        tenant.pk,
                        conn.pk,
                        "7000",
                        campaign,
                        adset,
                        ad,
                        day.isoformat(),
                        currency,
                        spend,
                        impressions,
                        clicks,
                        rng.randrange(0, 5),
                        None,
                        None,
                        None,
                        synced,
                    )

    insights = _copy(
        MetaAdInsight,
        [
            "tenant_id",
            "ad_account_id",
            "campaign_id",
            "campaign_name",
            "adset_id",
            "adset_name",
            "ad_id",
            "ad_name",
            "date",
            "currency",
            "spend",
            "impressions",
            "clicks",
            "messaging_conversations_started",
            "synced_at",
        ],
        insight_rows("meta"),
    )
    insights += _copy(
        TikTokAdInsight,
        [
            "tenant_id",
            "connection_id",
            "advertiser_id",
            "campaign_id",
            "adgroup_id",
            "ad_id",
            "date",
            "currency",
            "spend",
            "impressions",
            "clicks",
            "conversions",
            "ctr",
            "cpc",
            "cpm",
            "synced_at",
        ],
        insight_rows("tiktok"),
    )

    # tickets
    tz = timezone.get_current_timezone()
    contacts = Contact.objects.bulk_create(
        [Contact(tenant=tenant, wa_id=f"55119{n:08d}") for n in range(tickets)], batch_size=5000
    )
    made, trackings, changes = [], [], []
    plan = []
    for contact in contacts:
        platform, _account, campaign, adset, ad, currency = tree[rng.randrange(len(tree))]
        day0 = first_day[ad]
        opened = datetime.combine(
            day0 + timedelta(days=rng.randrange(active)), time(rng.randrange(24)), tzinfo=tz
        )
        roll = rng.random()
        stage = "won" if roll < 0.1 else "qualified" if roll < 0.3 else "new"
        deal_currency = currency if rng.random() < 0.9 else ("USD" if currency == "BRL" else "BRL")
        value = Decimal(rng.randrange(5_000, 500_000)) / 100 if stage == "won" else None
        made.append(
            Ticket(
                tenant=tenant,
                contact=contact,
                channel="whatsapp",
                stage=stage,
                deal_value=value,
                currency=deal_currency if value else "",
                last_message_at=opened,
                opened_at=opened,
                status="closed",
            )
        )
        plan.append((platform, campaign, adset, ad, opened, rng.random() < 0.35))
    made = Ticket.objects.bulk_create(made, batch_size=5000)
    for t, (platform, campaign, adset, ad, opened, enriched) in zip(made, plan, strict=True):
        trackings.append(
            TicketTracking(
                tenant=tenant,
                ticket=t,
                platform=platform,
                ad_id=ad,
                attributed_at=opened,
                campaign_id=campaign if enriched else "",
                campaign_name=f"Tracked {campaign}" if enriched else "",
                adset_id=adset if enriched else "",
                enrichment_status="completed" if enriched else "pending",
            )
        )
        if t.stage in ("qualified", "won"):
            changes.append(
                StageChange(
                    tenant=tenant, ticket=t, from_stage="new", to_stage="qualified", at=opened
                )
            )
        if t.stage == "won":
            changes.append(
                StageChange(
                    tenant=tenant,
                    ticket=t,
                    from_stage="qualified",
                    to_stage="won",
                    value=t.deal_value,
                    currency=t.currency,
                    at=opened,
                )
            )
    TicketTracking.objects.bulk_create(trackings, batch_size=5000)
    StageChange.objects.bulk_create(changes, batch_size=5000)
    _shop_and_content(tenant, rng=rng, start=start, days=days, orders=orders, videos=videos)
    return Generated(ads=ads, insights=insights, tickets=tickets, start=start, end=end)


def _shop_and_content(tenant, *, rng, start: date, days: int, orders: int, videos: int) -> None:
    """TikTok Shop orders over the year (USD, some BRL) and daily snapshots of some videos."""
    from apps.tiktok_content.models import (
        TikTokContentConnection,
        TikTokVideo,
        TikTokVideoDailySnapshot,
    )
    from apps.tiktok_shop.models import Order, Shop, TikTokShopConnection

    tz = timezone.get_current_timezone()
    now = timezone.now()
    conn = TikTokShopConnection.objects.create(tenant=tenant, access_token="bench")
    shop = Shop.objects.create(tenant=tenant, connection=conn, shop_id="bench-shop", cipher="c")
    made = []
    for n in range(orders):
        when = datetime.combine(
            start + timedelta(days=rng.randrange(days)), time(rng.randrange(24)), tzinfo=tz
        )
        made.append(
            Order(
                tenant=tenant,
                shop=shop,
                order_id=f"o{n}",
                status=rng.choice(("COMPLETED", "DELIVERED", "IN_TRANSIT", "CANCELLED")),
                create_time=when,
                update_time=when,
                currency="USD" if rng.random() < 0.9 else "BRL",
                total_amount=Decimal(rng.randrange(500, 30_000)) / 100,
                synced_at=now,
            )
        )
    Order.objects.bulk_create(made, batch_size=5000)
    cconn = TikTokContentConnection.objects.create(tenant=tenant, access_token="bench")
    clips = TikTokVideo.objects.bulk_create(
        [
            TikTokVideo(tenant=tenant, connection=cconn, video_id=f"v{n}", synced_at=now)
            for n in range(videos)
        ]
    )
    snapshots = []
    for video in clips:
        views = 0
        for d in range(days):
            views += rng.randrange(0, 500)
            snapshots.append(
                TikTokVideoDailySnapshot(
                    tenant=tenant,
                    video=video,
                    date=start + timedelta(days=d),
                    view_count=views,
                    like_count=views // 20,
                    comment_count=views // 200,
                    share_count=views // 300,
                    synced_at=now,
                )
            )
    TikTokVideoDailySnapshot.objects.bulk_create(snapshots, batch_size=5000)
