"""Webhook type 5 (product status change): verified by the inbox, then the product refetched.

The push is posted signed to ``/webhooks/tiktok-shop/`` as TikTok sends it; the
inbox stores it and its drain calls ``products.on_product_status_webhook``.
"""

from __future__ import annotations

import json

import pytest
import responses
from django.conf import settings

from apps.catalog.models import Listing, ReviewStatus
from apps.tiktok_shop.signing import webhook_signature
from apps.webhooks.models import WebhookEvent
from apps.webhooks.services import drain

from .test_products_sync import SHOP_ID, fixture, make_shop

pytestmark = pytest.mark.django_db

API = settings.TIKTOK_SHOP_API_BASE
DETAIL_URL = f"{API}/product/202309/products/1729592969712207100"
PRODUCT_ID = "1729592969712207100"


def raw_push(**changes) -> bytes:
    path = settings.BASE_DIR / "apps/tiktok_shop/tests/fixtures"
    body = json.loads((path / "webhook_product_status__audit_failure.json").read_text())
    body.update(changes)
    return json.dumps(body, separators=(",", ":")).encode()


def post(client, body: bytes, signature: str | None = None):
    signature = signature or webhook_signature(
        app_key=settings.TIKTOK_SHOP_APP_KEY,
        app_secret=settings.TIKTOK_SHOP_APP_SECRET,
        raw_body=body,
    )
    return client.post(
        "/webhooks/tiktok-shop/",
        data=body,
        content_type="application/json",
        headers={"Authorization": signature},
    )


@pytest.fixture
def tiktok():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def listing(tenant_a) -> Listing:
    shop = make_shop(tenant_a)
    return Listing.objects.create(
        tenant=tenant_a,
        channel="tiktok_shop",
        account_ref=shop.shop_id,
        external_product_id=PRODUCT_ID,
        external_sku_id="1729592969712207101",
        seller_sku="BAG-01",
        status="PENDING",
        review_status=ReviewStatus.PENDING,
    )


def test_an_audit_failure_push_refetches_the_product_and_stores_the_reasons(
    client, tiktok, listing
):
    tiktok.get(DETAIL_URL, json=fixture("product_get__rejected"))

    assert post(client, raw_push()).status_code == 200
    drain(batch_size=10)

    listing.refresh_from_db()
    assert (listing.review_status, listing.status) == (ReviewStatus.REJECTED, "FAILED")
    assert listing.review_reasons == [
        "Counterfeit or replica goods are prohibited. — Remove the product or list an "
        "authentic item with proof of authenticity."
    ]
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.PROCESSED
    assert event.tenant_id == listing.tenant_id
    detail = next(c.request for c in tiktok.calls if c.request.url.startswith(DETAIL_URL))
    assert "shop_cipher=" in detail.url  # the bare-number product_id was read exactly


def test_an_approval_push_turns_the_listing_approved(client, tiktok, listing):
    tiktok.get(DETAIL_URL, json=fixture("product_get__approved"))
    body = raw_push(
        tts_notification_id="7327112393057371912",
        data={
            "product_id": int(PRODUCT_ID),
            "status": "PRODUCT_FIRST_PASS_REVIEW",
            "suspended_reason": "",
            "update_time": 1781900000,
        },
    )

    post(client, body)
    drain(batch_size=10)

    listing.refresh_from_db()
    assert (listing.review_status, listing.review_reasons) == (ReviewStatus.APPROVED, [])
    assert listing.title == "Leather Handbag"


def test_when_tiktok_refuses_the_refetch_the_pushs_own_verdict_is_stored(client, tiktok, listing):
    tiktok.get(DETAIL_URL, json=fixture("product_get__not_found"))

    post(client, raw_push())
    drain(batch_size=10)

    listing.refresh_from_db()
    assert listing.review_status == ReviewStatus.REJECTED
    assert listing.review_reasons == ["Counterfeit or replica goods are prohibited."]
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED


def test_a_late_push_does_not_overwrite_a_newer_state(client, tiktok, listing):
    listing.review_status = ReviewStatus.APPROVED
    listing.external_updated_at = listing.created_at.replace(year=2030)
    listing.save()
    tiktok.get(DETAIL_URL, json=fixture("product_get__not_found"))

    post(client, raw_push())
    drain(batch_size=10)

    listing.refresh_from_db()
    assert listing.review_status == ReviewStatus.APPROVED


def test_a_transient_refetch_failure_is_retried_by_the_inbox(client, tiktok, listing):
    tiktok.get(
        DETAIL_URL,
        json={"code": 36009003, "message": "Internal error", "request_id": "r", "data": {}},
    )

    post(client, raw_push())
    drain(batch_size=10)

    event = WebhookEvent.objects.get()
    assert event.status in (WebhookEvent.Status.RECEIVED, WebhookEvent.Status.FAILED)
    assert event.attempts == 1 and event.last_error
    listing.refresh_from_db()
    assert listing.review_status == ReviewStatus.PENDING


def test_a_push_for_a_shop_no_tenant_connected_is_kept_unroutable(client, tiktok, listing):
    post(client, raw_push(shop_id="7000000000000000000"))
    drain(batch_size=10)

    assert WebhookEvent.objects.get().status == WebhookEvent.Status.UNROUTABLE
    assert len(tiktok.calls) == 0
    listing.refresh_from_db()
    assert listing.review_status == ReviewStatus.PENDING


def test_a_bad_signature_is_refused_and_nothing_is_stored(client, tiktok, listing):
    body = raw_push()
    good = webhook_signature(
        app_key=settings.TIKTOK_SHOP_APP_KEY,
        app_secret=settings.TIKTOK_SHOP_APP_SECRET,
        raw_body=body,
    )

    response = post(client, body, signature=good[:-1] + ("0" if good[-1] != "0" else "1"))

    assert response.status_code == 401
    assert not WebhookEvent.objects.exists()


def test_the_same_delivery_twice_is_handled_once(client, tiktok, listing):
    tiktok.get(DETAIL_URL, json=fixture("product_get__rejected"))
    body = raw_push()

    post(client, body)
    post(client, body)
    drain(batch_size=10)

    assert WebhookEvent.objects.count() == 1
    assert len([c for c in tiktok.calls if c.request.url.startswith(DETAIL_URL)]) == 1
    assert SHOP_ID in WebhookEvent.objects.get().account_ref
