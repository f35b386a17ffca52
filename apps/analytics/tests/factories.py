"""Rows of the other apps' tables, as their syncs and the leads app write them.

``hand_computed_fixture`` is the fixture the acceptance tests compare against:
a few ads in two currencies (a BRL Meta account, a USD TikTok advertiser),
tickets attributed to them, qualified and won with deal values, and the
totals worked out by hand in ``EXPECTED``.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

from django.utils import timezone

from apps.analytics.rollup import rollup_refresh
from apps.leads.models import Contact, StageChange, Ticket, TicketTracking
from apps.meta_ads.models import MetaAdAccount, MetaAdInsight
from apps.tenants.models import Tenant
from apps.tiktok_ads.models import (
    TikTokAd,
    TikTokAdGroup,
    TikTokAdInsight,
    TikTokAdsCampaign,
    TikTokAdsConnection,
    TikTokAdvertiser,
)

D = Decimal


def at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=timezone.get_current_timezone())


def meta_account(tenant: Tenant, account_id: str = "1001", currency: str = "BRL") -> MetaAdAccount:
    return MetaAdAccount.objects.create(
        tenant=tenant,
        account_id=account_id,
        name=f"Account {account_id}",
        currency=currency,
        tracking_enabled=True,
        synced_at=timezone.now(),
    )


def meta_insight(account, *, campaign, adset, ad, day, spend, impressions=0, clicks=0, names=None):
    names = names or {}
    return MetaAdInsight.objects.create(
        tenant=account.tenant,
        ad_account=account,
        campaign_id=campaign,
        campaign_name=names.get("campaign", f"Campaign {campaign}"),
        adset_id=adset,
        adset_name=names.get("adset", f"Ad set {adset}"),
        ad_id=ad,
        ad_name=names.get("ad", f"Ad {ad}"),
        date=day,
        currency=account.currency,
        spend=D(spend),
        impressions=impressions,
        clicks=clicks,
        synced_at=timezone.now(),
    )


def tiktok_connection(tenant: Tenant) -> TikTokAdsConnection:
    conn, _ = TikTokAdsConnection.objects.get_or_create(
        tenant=tenant, defaults={"access_token": "t-token"}
    )
    return conn


def tiktok_ad(tenant, *, advertiser, campaign, adgroup, ad, currency="USD", names=None):
    """An advertiser (once), its campaign, ad group and ad, as the structure syncs store them."""
    names = names or {}
    conn = tiktok_connection(tenant)
    now = timezone.now()
    common = {"tenant": tenant, "connection": conn, "advertiser_id": advertiser}
    TikTokAdvertiser.objects.get_or_create(
        **common, defaults={"currency": currency, "synced_at": now, "name": "Adv"}
    )
    TikTokAdsCampaign.objects.get_or_create(
        **common,
        campaign_id=campaign,
        defaults={"name": names.get("campaign", f"TT campaign {campaign}"), "synced_at": now},
    )
    TikTokAdGroup.objects.get_or_create(
        **common,
        campaign_id=campaign,
        adgroup_id=adgroup,
        defaults={"name": names.get("adset", f"TT group {adgroup}"), "synced_at": now},
    )
    TikTokAd.objects.get_or_create(
        **common,
        campaign_id=campaign,
        adgroup_id=adgroup,
        ad_id=ad,
        defaults={"name": names.get("ad", f"TT ad {ad}"), "synced_at": now},
    )
    return conn


def tiktok_insight(tenant, *, advertiser, campaign, adgroup, ad, day, spend, currency="USD", **m):
    return TikTokAdInsight.objects.create(
        tenant=tenant,
        connection=tiktok_connection(tenant),
        advertiser_id=advertiser,
        campaign_id=campaign,
        adgroup_id=adgroup,
        ad_id=ad,
        date=day,
        currency=currency,
        spend=D(spend),
        impressions=m.get("impressions", 0),
        clicks=m.get("clicks", 0),
        conversions=m.get("conversions", 0),
        synced_at=timezone.now(),
    )


_contacts = iter(range(5511900000000, 5511999999999))


def ticket(
    tenant,
    *,
    platform,
    ad,
    opened,
    stage=Ticket.Stage.NEW,
    value=None,
    currency="",
    campaign="",
    adset="",
    ever=(),
):
    """A ticket attributed to ``ad`` (tracking names filled only when ``campaign`` is given).

    ``ever``: stages it passed through before its current one (StageChange rows).
    """
    contact = Contact.objects.create(tenant=tenant, wa_id=str(next(_contacts)))
    when = at(opened)
    t = Ticket.objects.create(
        tenant=tenant,
        contact=contact,
        channel="whatsapp",
        stage=stage,
        deal_value=D(value) if value is not None else None,
        currency=currency,
        last_message_at=when,
        opened_at=when,
    )
    TicketTracking.objects.create(
        tenant=tenant,
        ticket=t,
        platform=platform,
        ad_id=ad,
        attributed_at=when,
        campaign_id=campaign,
        campaign_name=f"Tracked {campaign}" if campaign else "",
        adset_id=adset,
    )
    previous = Ticket.Stage.NEW
    for step in (*ever, stage):
        if step == previous:
            continue
        StageChange.objects.create(
            tenant=tenant, ticket=t, from_stage=previous, to_stage=step, at=when
        )
        previous = step
    return t


MARCH = date(2026, 3, 1)


def hand_computed_fixture(tenant: Tenant) -> None:
    """The fixture EXPECTED is computed from (all March 2026 unless said), rolled up."""
    brl = meta_account(tenant, "1001", "BRL")
    meta_insight(brl, campaign="MC1", adset="MS1", ad="MA1", day=date(2026, 3, 1), spend="100.10", impressions=1000, clicks=10)  # fmt: skip
    meta_insight(brl, campaign="MC1", adset="MS1", ad="MA1", day=date(2026, 3, 2), spend="50.05", impressions=500, clicks=5)  # fmt: skip
    meta_insight(brl, campaign="MC1", adset="MS1", ad="MA2", day=date(2026, 3, 1), spend="20.00", impressions=200, clicks=2)  # fmt: skip
    meta_insight(brl, campaign="MC2", adset="MS2", ad="MA3", day=date(2026, 3, 3), spend="33.33", impressions=300, clicks=3)  # fmt: skip
    # February: outside the range
    meta_insight(brl, campaign="MC1", adset="MS1", ad="MA1", day=date(2026, 2, 27), spend="999.99", impressions=9, clicks=9)  # fmt: skip
    tiktok_ad(tenant, advertiser="7001", campaign="TC1", adgroup="TG1", ad="TA1", names={"campaign": "TikTok Launch"})  # fmt: skip
    tiktok_insight(tenant, advertiser="7001", campaign="TC1", adgroup="TG1", ad="TA1", day=date(2026, 3, 1), spend="10.50", impressions=400, clicks=4, conversions=2)  # fmt: skip
    tiktok_insight(tenant, advertiser="7001", campaign="TC1", adgroup="TG1", ad="TA1", day=date(2026, 3, 2), spend="4.25", impressions=300, clicks=3, conversions=1)  # fmt: skip

    won = Ticket.Stage.WON
    # MC1: enriched tracking, one without names (resolved through the insights)
    ticket(tenant, platform="meta", ad="MA1", opened=date(2026, 3, 1), stage=won, value="1000.00", currency="BRL", campaign="MC1", adset="MS1", ever=["qualified"])  # fmt: skip
    ticket(tenant, platform="meta", ad="MA1", opened=date(2026, 3, 2), stage="qualified")
    ticket(tenant, platform="meta", ad="MA2", opened=date(2026, 3, 2), stage="lost", ever=["qualified"])  # fmt: skip
    # MC2: a BRL ad whose deal was closed in USD
    ticket(tenant, platform="meta", ad="MA3", opened=date(2026, 3, 3), stage=won, value="250.50", currency="USD")  # fmt: skip
    # TikTok: USD
    ticket(tenant, platform="tiktok", ad="TA1", opened=date(2026, 3, 1), stage=won, value="99.99", currency="USD")  # fmt: skip
    ticket(tenant, platform="tiktok", ad="TA1", opened=date(2026, 3, 4))
    # opened in February: outside the range
    ticket(tenant, platform="meta", ad="MA1", opened=date(2026, 2, 20), stage=won, value="500.00", currency="BRL")  # fmt: skip
    rollup_refresh(tenant=tenant)


#: (currency, platform, campaign) -> spend, impressions, clicks, tickets, qualified, won, revenue,
#: cost per ticket, cost per qualified, ROAS
EXPECTED = {
    ("BRL", "meta", "MC1"): ("170.15", 1700, 17, 3, 3, 1, "1000.00", "56.72", "56.72", "5.88"),
    ("BRL", "meta", "MC2"): ("33.33", 300, 3, 1, 1, 1, "0.00", "33.33", "33.33", "0.00"),
    ("USD", "tiktok", "TC1"): ("14.75", 700, 7, 2, 1, 1, "99.99", "7.38", "14.75", "6.78"),
    ("USD", "meta", "MC2"): ("0.00", 0, 0, 0, 0, 0, "250.50", None, None, None),
}
EXPECTED_TOTALS = {
    "BRL": ("203.48", 2000, 20, 4, 4, 2, "1000.00", "50.87", "50.87", "4.91"),
    "USD": ("14.75", 700, 7, 2, 1, 1, "350.49", "7.38", "14.75", "23.76"),
}
