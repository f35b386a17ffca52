"""The Products page: items with their listings per shop, filters, pushes, constant queries.

A fake sales channel stands in for the real ones: the page only knows the
channel registry (the TikTok Shop flows are tested in apps/tiktok_shop).
"""

from __future__ import annotations

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.catalog.channels import (
    Channel,
    ChannelAccount,
    PushFailed,
    PushOutcome,
    PushRefused,
    channels,
)
from apps.catalog.models import CatalogItem, Listing, ReviewStatus, StockPush

from .test_services import make_item, make_listing

pytestmark = pytest.mark.django_db

URL = "/catalog/"
HTMX = {"HX-Request": "true"}
calls: list[dict] = []


def fake_accounts(*, tenant):
    return [ChannelAccount("7001", "Fake GB"), ChannelAccount("7002", "Fake US", live=False)]


def fake_push(*, item, account_ref, user):
    calls.append({"item": item.sku, "account": account_ref, "user": user})
    if item.sku == "REFUSED":
        raise PushRefused("“REFUSED” cannot be sent yet:", details=["No image.", "No weight."])
    if item.sku == "FAILED":
        raise PushFailed("The channel refused the product: bad category (code 12052700)")
    return PushOutcome(action="created", external_product_id="p9", warnings=["Brand cleared."])


def fake_push_stock(*, tenant, account_ref, trigger):
    calls.append({"stock": account_ref, "trigger": trigger})
    return [
        StockPush(
            tenant=tenant,
            channel="fake",
            account_ref=account_ref,
            trigger=trigger,
            items={"s1": 3, "s2": 4},
            status=StockPush.Status.SUCCEEDED,
        )
    ]


@pytest.fixture(autouse=True)
def fake_channel():
    here = "apps.catalog.tests.test_views"
    channels.register(
        Channel(
            key="fake",
            label="Fake",
            push_item_path=f"{here}.fake_push",
            push_stock_path=f"{here}.fake_push_stock",
            accounts_path=f"{here}.fake_accounts",
        )
    )
    calls.clear()
    yield
    channels.unregister("fake")


def fake_listing(tenant, item, sku_id="s1", account="7001", **fields):
    return make_listing(
        tenant,
        sku_id,
        item.sku if item else "",
        channel="fake",
        account_ref=account,
        catalog_item=item,
        **fields,
    )


def test_members_see_items_with_their_listing_per_shop(member_client, tenant_a):
    mug = make_item(tenant_a, "MUG-BLK", title="Black mug")
    bag = make_item(tenant_a, "BAG-01", title="Handbag")
    make_item(tenant_a, "NEW-1", title="Teapot")
    fake_listing(tenant_a, mug, review_status=ReviewStatus.APPROVED, status="ACTIVATE")
    fake_listing(
        tenant_a,
        bag,
        "s2",
        review_status=ReviewStatus.REJECTED,
        review_reasons=["Replica goods are prohibited."],
    )

    response = member_client.get(URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Black mug" in html and "Teapot" in html
    assert "Approved" in html and "ACTIVATE" in html
    assert "Replica goods are prohibited." in html
    assert "Not listed" in html
    assert "Fake · Fake GB" in html
    # members look, they do not push
    assert "Publish" not in html and "Update product" not in html


def test_admins_get_a_push_button_per_live_shop(owner_client, tenant_a):
    mug = make_item(tenant_a, "MUG-BLK")
    fake_listing(tenant_a, mug)

    html = owner_client.get(URL).content.decode()

    assert reverse("catalog:item_push", args=[mug.pk]) in html
    assert "Update product" in html  # listed in Fake GB
    assert "Connection not active" in html  # Fake US is not live: no button there
    assert 'name="account" value="fake:7002"' not in html


def test_filters_by_search_listing_and_review(member_client, tenant_a):
    mug = make_item(tenant_a, "MUG-BLK", title="Black mug")
    make_item(tenant_a, "NEW-1", title="Teapot")
    bag = make_item(tenant_a, "BAG-01", title="Handbag")
    fake_listing(tenant_a, mug, review_status=ReviewStatus.APPROVED)
    fake_listing(tenant_a, bag, "s2", review_status=ReviewStatus.REJECTED)

    def skus(**query) -> set[str]:
        response = member_client.get(URL, query)
        return {row.item.sku for row in response.context["products"].rows}

    assert skus(q="mug") == {"MUG-BLK"}
    assert skus(match="unlisted") == {"NEW-1"}
    assert skus(match="listed", account="fake:7001") == {"MUG-BLK", "BAG-01"}
    assert skus(match="listed", account="fake:7002") == set()
    assert skus(review="rejected") == {"BAG-01"}
    assert skus(review="nonsense") == {"MUG-BLK", "NEW-1", "BAG-01"}  # unknown filters are ignored


def test_unmatched_listings_have_their_own_view(member_client, tenant_a):
    fake_listing(tenant_a, None, "s9", title="Orphan socks")
    make_listing(tenant_a, "s10", "ELSEWHERE", channel="fake", account_ref="7002", title="Other")

    response = member_client.get(URL, {"view": "unmatched", "account": "fake:7001"})

    html = response.content.decode()
    assert "Orphan socks" in html and "no seller SKU" in html
    assert "Other" not in html


def test_a_plain_post_pushes_and_redirects_with_a_message(owner_client, owner_a, tenant_a):
    item = make_item(tenant_a, "MUG-BLK")

    response = owner_client.post(
        reverse("catalog:item_push", args=[item.pk]),
        {"account": "fake:7001", "next": "/catalog/?q=x"},
    )

    assert response.status_code == 302 and response["Location"] == "/catalog/?q=x"
    assert calls == [{"item": "MUG-BLK", "account": "7001", "user": owner_a}]
    page = owner_client.get(response["Location"]).content.decode()
    assert "sent as a new product" in page and "Brand cleared." in page


def test_htmx_gets_the_row_back_with_every_problem_listed(owner_client, tenant_a):
    item = make_item(tenant_a, "REFUSED")

    response = owner_client.post(
        reverse("catalog:item_push", args=[item.pk]), {"account": "fake:7001"}, headers=HTMX
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith("<tr") or 'id="item-' in html
    assert "cannot be sent yet" in html and "No image." in html and "No weight." in html
    assert 'role="alert"' in html


def test_a_channel_refusal_is_shown_as_is(owner_client, tenant_a):
    item = make_item(tenant_a, "FAILED")

    response = owner_client.post(
        reverse("catalog:item_push", args=[item.pk]), {"account": "fake:7001"}, headers=HTMX
    )

    assert "bad category (code 12052700)" in response.content.decode()


def test_pushing_to_a_shop_not_live_or_not_ours_is_refused(owner_client, tenant_a):
    item = make_item(tenant_a, "MUG-BLK")
    url = reverse("catalog:item_push", args=[item.pk])

    not_live = owner_client.post(url, {"account": "fake:7002"}, headers=HTMX).content.decode()
    unknown = owner_client.post(url, {"account": "fake:9999"}, headers=HTMX).content.decode()
    no_channel = owner_client.post(url, {"account": "nope:1"}, headers=HTMX).content.decode()

    assert "is not active" in not_live
    assert "Unknown account" in unknown
    assert "Unknown sales channel" in no_channel
    assert calls == []


def test_members_cannot_push_and_anonymous_users_are_sent_to_log_in(
    member_client, client, tenant_a
):
    item = make_item(tenant_a, "MUG-BLK")
    url = reverse("catalog:item_push", args=[item.pk])

    assert member_client.post(url, {"account": "fake:7001"}).status_code == 403
    member_client.logout()
    assert client.post(url, {"account": "fake:7001"}).status_code == 302
    assert client.get(URL).status_code == 302
    assert calls == []


def test_another_tenants_item_is_a_404(owner_client, tenant_b):
    item = make_item(tenant_b, "MUG-BLK")

    response = owner_client.post(
        reverse("catalog:item_push", args=[item.pk]), {"account": "fake:7001"}
    )

    assert response.status_code == 404
    assert calls == []


def test_push_is_post_only_and_needs_the_csrf_token(tenant_a, owner_a):
    from django.test import Client

    item = make_item(tenant_a, "MUG-BLK")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(owner_a)
    url = reverse("catalog:item_push", args=[item.pk])

    assert strict.get(url).status_code == 405
    assert strict.post(url, {"account": "fake:7001"}).status_code == 403
    assert calls == []


def test_send_stock_now_calls_the_channel_for_that_shop(owner_client, tenant_a):
    response = owner_client.post(reverse("catalog:stock_push"), {"account": "fake:7001"})

    assert response.status_code == 302
    assert calls == [{"stock": "7001", "trigger": "manual"}]
    page = owner_client.get(URL).content.decode()
    assert "Stock sent for 2 SKU(s) of Fake · Fake GB." in page


def test_send_stock_now_refuses_an_account_that_is_not_ours(owner_client):
    response = owner_client.post(reverse("catalog:stock_push"), {"account": "fake:9999"})

    assert response.status_code == 302
    assert calls == []


def test_the_page_costs_the_same_queries_for_1_and_for_40_items(member_client, tenant_a):
    def queries() -> int:
        with CaptureQueriesContext(db) as captured:
            assert member_client.get(URL).status_code == 200
        return len(captured)

    first = make_item(tenant_a, "SKU-000")
    fake_listing(tenant_a, first, "s0", review_status=ReviewStatus.APPROVED)
    one = queries()
    for n in range(1, 40):
        item = make_item(tenant_a, f"SKU-{n:03d}")
        fake_listing(tenant_a, item, f"s{n}", review_status=ReviewStatus.REJECTED)
        fake_listing(tenant_a, item, f"t{n}", account="7002")

    assert queries() == one
    assert CatalogItem.objects.count() == 40 and Listing.objects.count() == 79
