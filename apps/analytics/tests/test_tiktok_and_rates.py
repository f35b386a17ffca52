"""The TikTok daily view (Shop, Ads, Content) and the exchange-rate page."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.analytics.models import ExchangeRate
from apps.analytics.rollup import rollup_refresh
from apps.tenants.models import Membership
from apps.tiktok_content.models import (
    TikTokContentConnection,
    TikTokVideo,
    TikTokVideoDailySnapshot,
)
from apps.tiktok_shop.models import Order, Shop, TikTokShopConnection

from .factories import at, tiktok_ad, tiktok_insight

pytestmark = pytest.mark.django_db

MARCH = {"range": "custom", "start": "2026-03-01", "end": "2026-03-31"}


def order(shop, order_id, day, total, *, currency="USD", status="COMPLETED"):
    when = at(day)
    return Order.objects.create(
        tenant=shop.tenant,
        shop=shop,
        order_id=order_id,
        status=status,
        create_time=when,
        update_time=when,
        currency=currency,
        total_amount=Decimal(total),
        synced_at=timezone.now(),
    )


@pytest.fixture
def tiktok_data(tenant_a):
    conn = TikTokShopConnection.objects.create(tenant=tenant_a, access_token="s")
    shop = Shop.objects.create(tenant=tenant_a, connection=conn, shop_id="S1", cipher="c")
    order(shop, "o1", date(2026, 3, 1), "10.10")
    order(shop, "o2", date(2026, 3, 1), "5.05")
    order(shop, "o3", date(2026, 3, 1), "99.00", status="CANCELLED")  # counted, no GMV
    order(shop, "o4", date(2026, 3, 2), "20.00", currency="BRL")
    order(shop, "o5", date(2026, 2, 28), "70.00")  # outside
    tiktok_ad(tenant_a, advertiser="7001", campaign="C", adgroup="G", ad="A")
    tiktok_insight(tenant_a, advertiser="7001", campaign="C", adgroup="G", ad="A", day=date(2026, 3, 1), spend="3.30", impressions=100, clicks=5, conversions=2)  # fmt: skip
    tiktok_insight(tenant_a, advertiser="7001", campaign="C", adgroup="G", ad="A", day=date(2026, 3, 2), spend="1.20", impressions=50, clicks=1, conversions=1)  # fmt: skip
    rollup_refresh(tenant=tenant_a)
    cconn = TikTokContentConnection.objects.create(tenant=tenant_a, access_token="c")
    now = timezone.now()
    for vid, (v1, v2) in {"v1": (100, 150), "v2": (10, 30)}.items():
        video = TikTokVideo.objects.create(
            tenant=tenant_a, connection=cconn, video_id=vid, synced_at=now
        )
        for day, views in ((date(2026, 3, 1), v1), (date(2026, 3, 2), v2)):
            TikTokVideoDailySnapshot.objects.create(
                tenant=tenant_a,
                video=video,
                date=day,
                view_count=views,
                like_count=2,
                comment_count=1,
                share_count=1,
                synced_at=now,
            )
    return tenant_a


def _csv(client, table, **extra):
    response = client.get(reverse("analytics:tiktok_export"), {**MARCH, "table": table, **extra})
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_shop_orders_and_gmv_per_day_and_currency(tiktok_data, member_client):
    rows = _csv(member_client, "shop")
    assert rows == [
        ["Day", "Currency", "Orders", "GMV"],
        ["2026-03-01", "USD", "3", "15.15"],
        ["2026-03-02", "BRL", "1", "20.00"],
        ["Total", "BRL", "1", "20.00"],
        ["Total", "USD", "3", "15.15"],
    ]


def test_ads_spend_and_conversions_per_day(tiktok_data, member_client):
    rows = _csv(member_client, "ads")
    assert rows[1:] == [
        ["2026-03-01", "USD", "3.30", "100", "5", "2"],
        ["2026-03-02", "USD", "1.20", "50", "1", "1"],
        ["Total", "USD", "4.50", "150", "6", "3"],
    ]


def test_content_views_and_engagement_per_day(tiktok_data, member_client):
    rows = _csv(member_client, "content")
    assert rows[1:] == [
        ["2026-03-01", "2", "110", "4", "2", "2", "8"],
        ["2026-03-02", "2", "180", "4", "2", "2", "8"],
    ]


def test_gmv_converts_with_a_rate(tiktok_data, member_client):
    ExchangeRate.objects.create(
        tenant=tiktok_data,
        from_currency="BRL",
        to_currency="USD",
        rate=Decimal("0.2"),
        valid_from=date(2026, 1, 1),
    )
    rows = _csv(member_client, "shop", currency="USD")
    assert rows[1:] == [
        ["2026-03-01", "USD", "3", "15.15"],
        ["2026-03-02", "USD", "1", "4.00"],
        ["Total", "USD", "4", "19.15"],
    ]


def test_the_page_has_charts_and_three_tables(tiktok_data, member_client):
    response = member_client.get(reverse("analytics:tiktok"), MARCH)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count("<svg") >= 3
    for table in ("tiktok-shop", "tiktok-ads", "tiktok-content"):
        assert f'id="{table}"' in html
    assert ' style="' not in html
    fragment = member_client.get(reverse("analytics:tiktok"), MARCH, headers={"HX-Request": "true"})
    assert "<html" not in fragment.content.decode()


@pytest.mark.parametrize(
    ("language", "shop_row", "ads_total"),
    [
        (
            "en",
            "<tr><td>2026-03-01</td><td>USD</td><td>3</td><td>15.15</td></tr>",
            "<tr><td>Total</td><td>USD</td><td>4.50</td><td>150</td><td>6</td><td>3</td></tr>",
        ),
        (
            "pt-br",
            "<tr><td>01/03/2026</td><td>USD</td><td>3</td><td>15,15</td></tr>",
            "<tr><td>Total</td><td>USD</td><td>4,50</td><td>150</td><td>6</td><td>3</td></tr>",
        ),
    ],
)
def test_the_tables_are_formatted_for_the_language(
    tiktok_data, member_client, language, shop_row, ads_total
):
    response = member_client.get(
        reverse("analytics:tiktok"), MARCH, headers={"Accept-Language": language}
    )
    html = response.content.decode()
    assert shop_row in html
    assert ads_total in html


def test_table_cells_are_escaped(tiktok_data, member_client):
    Order.objects.filter(tenant=tiktok_data, currency="BRL").update(currency="<b>")
    html = member_client.get(reverse("analytics:tiktok"), MARCH).content.decode()
    assert "<td>&lt;b&gt;</td>" in html
    assert "<td><b></td>" not in html


def test_tiktok_query_count_does_not_change_with_the_range(tiktok_data, member_client):
    counts = set()
    for query in (
        {"range": "custom", "start": "2026-03-01", "end": "2026-03-02"},
        {"range": "custom", "start": "2025-04-01", "end": "2026-03-31"},
    ):
        with CaptureQueriesContext(connection) as ctx:
            assert member_client.get(reverse("analytics:tiktok"), query).status_code == 200
        counts.add(len(ctx))
    # session, user, membership, the report's 4 and the rollup's time
    assert counts == {8}


def test_an_unknown_table_is_404(member_client):
    response = member_client.get(reverse("analytics:tiktok_export"), {"table": "nope"})
    assert response.status_code == 404


# --- exchange rates -----------------------------------------------------------------


def test_an_admin_adds_a_rate(owner_client, tenant_a, owner_a):
    response = owner_client.post(
        reverse("analytics:rates"),
        {
            "from_currency": "usd",
            "to_currency": "BRL",
            "rate": "5.1234",
            "valid_from": "2026-03-01",
        },
    )
    assert response.status_code == 302
    rate = ExchangeRate.objects.get(tenant=tenant_a)
    assert (rate.from_currency, rate.to_currency, rate.rate) == ("USD", "BRL", Decimal("5.1234"))
    assert rate.created_by == owner_a
    assert "5.12340000" in owner_client.get(reverse("analytics:rates")).content.decode()


@pytest.mark.parametrize(
    "data",
    [
        {"from_currency": "USD", "to_currency": "USD", "rate": "1", "valid_from": "2026-03-01"},
        {"from_currency": "US", "to_currency": "BRL", "rate": "1", "valid_from": "2026-03-01"},
        {"from_currency": "USD", "to_currency": "BRL", "rate": "0", "valid_from": "2026-03-01"},
        {"from_currency": "USD", "to_currency": "BRL", "rate": "-2", "valid_from": "2026-03-01"},
        {"from_currency": "USD", "to_currency": "BRL", "rate": "2", "valid_from": ""},
    ],
)
def test_impossible_rates_are_refused(owner_client, tenant_a, data):
    response = owner_client.post(reverse("analytics:rates"), data)
    assert response.status_code == 200
    assert not ExchangeRate.objects.exists()


def test_a_second_rate_for_the_same_pair_and_day_is_refused(owner_client, tenant_a, tenant_b):
    data = {"from_currency": "USD", "to_currency": "BRL", "rate": "5", "valid_from": "2026-03-01"}
    ExchangeRate.objects.create(tenant=tenant_b, **{**data, "valid_from": date(2026, 3, 1)})
    assert owner_client.post(reverse("analytics:rates"), data).status_code == 302
    response = owner_client.post(reverse("analytics:rates"), data)
    assert response.status_code == 200 and "exists already" in response.content.decode()
    assert ExchangeRate.objects.filter(tenant=tenant_a).count() == 1


def test_members_see_rates_but_cannot_change_them(member_client, tenant_a):
    rate = ExchangeRate.objects.create(
        tenant=tenant_a, from_currency="USD", to_currency="BRL", rate=5, valid_from=date(2026, 1, 1)
    )
    page = member_client.get(reverse("analytics:rates")).content.decode()
    assert (
        "USD" in page and "Only tenant admins" in page and '<form method="post" class' not in page
    )
    data = {"from_currency": "EUR", "to_currency": "BRL", "rate": "6", "valid_from": "2026-03-01"}
    assert member_client.post(reverse("analytics:rates"), data).status_code == 403
    delete = reverse("analytics:rate_delete", args=[rate.pk])
    assert member_client.post(delete).status_code == 403
    assert ExchangeRate.objects.count() == 1


def test_an_admin_deletes_a_rate_and_another_tenants_is_404(owner_client, tenant_a, tenant_b):
    mine = ExchangeRate.objects.create(
        tenant=tenant_a, from_currency="USD", to_currency="BRL", rate=5, valid_from=date(2026, 1, 1)
    )
    theirs = ExchangeRate.objects.create(
        tenant=tenant_b, from_currency="USD", to_currency="BRL", rate=5, valid_from=date(2026, 1, 1)
    )
    assert owner_client.post(reverse("analytics:rate_delete", args=[theirs.pk])).status_code == 404
    assert owner_client.post(reverse("analytics:rate_delete", args=[mine.pk])).status_code == 302
    assert list(ExchangeRate.objects.values_list("pk", flat=True)) == [theirs.pk]


def test_rates_need_the_csrf_token(tenant_a, make_member):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(make_member(tenant_a, Membership.Role.OWNER))
    data = {"from_currency": "USD", "to_currency": "BRL", "rate": "5", "valid_from": "2026-03-01"}
    assert client.post(reverse("analytics:rates"), data).status_code == 403
    assert not ExchangeRate.objects.exists()


def test_the_admin_lists_rates(admin_client, tenant_a):
    ExchangeRate.objects.create(
        tenant=tenant_a, from_currency="USD", to_currency="BRL", rate=5, valid_from=date(2026, 1, 1)
    )
    assert admin_client.get(reverse("admin:analytics_exchangerate_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:analytics_exchangerate_add")).status_code == 200
