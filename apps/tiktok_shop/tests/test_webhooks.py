"""TikTok Shop pushes through the hub's inbox: verify, store once, route, handle.

Acceptance 4 (with the lead's inbox): a signed order-status webhook posted to
``/webhooks/tiktok-shop/`` updates that order once the drain runs; the same
delivery twice is stored once; a bad signature gets 401 and stores nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.integrations.models import ConnectionStatus, SyncRun
from apps.integrations.sync import sync_run_for_connection_now
from apps.sandbox import shop_data
from apps.tiktok_shop.models import Order, OrderStatusChange, Shop
from apps.tiktok_shop.signing import webhook_signature
from apps.tiktok_shop.webhooks import SOURCE_KEY, event_id_of, split
from apps.webhooks.models import WebhookEvent
from apps.webhooks.registry import InvalidPayload, webhooks
from apps.webhooks.services import drain

from .conftest import sandbox_orders, sandbox_shops

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"
URL = f"/webhooks/{SOURCE_KEY}/"
GET_ORDERS = "/order/202309/orders"


def raw(name: str) -> bytes:
    """A fixture's exact bytes: signatures cover the raw body, never re-serialised JSON."""
    return (FIXTURES / f"{name}.json").read_bytes()


def post(client, body: bytes, *, signature: str | None = None):
    if signature is None:
        signature = webhook_signature(
            app_key=settings.TIKTOK_SHOP_APP_KEY,
            app_secret=settings.TIKTOK_SHOP_APP_SECRET,
            raw_body=body,
        )
    return client.post(
        URL, data=body, content_type="application/json", HTTP_AUTHORIZATION=signature
    )


def with_shop(name: str, shop_id: str, **data) -> bytes:
    body = json.loads(raw(name))
    body["shop_id"] = shop_id
    body["data"].update(data)
    return json.dumps(body).encode()


# --- the source: verification and splitting ------------------------------------------------


def test_the_contracts_signed_example_is_accepted_and_stored_once(client, settings):
    settings.TIKTOK_SHOP_APP_KEY = "abcdef"
    settings.TIKTOK_SHOP_APP_SECRET = "123"
    body = raw("webhook__order_status_change")
    official = "5dec0f11ec2f6783b8deee53c9ffbf8d024302f7c7e7fa55a35d17629031ac05"

    first = post(client, body, signature=official)
    again = post(client, body, signature=official)

    assert first.status_code == 200 and again.status_code == 200
    event = WebhookEvent.objects.get()
    assert (event.source, event.event_id) == (SOURCE_KEY, "7380066284010030890")
    assert event.event_type == "ORDER_STATUS_CHANGE"
    assert event.account_ref == "7495540735365777507"
    assert event.occurred_at == datetime.fromtimestamp(1718305585, tz=UTC)
    assert event.payload["data"]["order_id"] == "576653688135258178"


@pytest.mark.parametrize(
    "signature",
    [
        "5dec0f11ec2f6783b8deee53c9ffbf8d024302f7c7e7fa55a35d17629031ac06",  # one digit off
        "5DEC0F11EC2F6783B8DEEE53C9FFBF8D024302F7C7E7FA55A35D17629031AC05",  # uppercase
        "Bearer 5dec0f11ec2f6783b8deee53c9ffbf8d024302f7c7e7fa55a35d17629031ac05",
        "",
    ],
    ids=["off_by_one", "uppercase", "bearer", "missing"],
)
def test_a_bad_signature_is_401_and_stores_nothing(client, settings, signature):
    settings.TIKTOK_SHOP_APP_KEY = "abcdef"
    settings.TIKTOK_SHOP_APP_SECRET = "123"

    response = post(client, raw("webhook__order_status_change"), signature=signature)

    assert response.status_code == 401
    assert not WebhookEvent.objects.exists()


def test_a_body_changed_after_signing_is_refused(client):
    body = raw("webhook__order_status_change")
    signature = webhook_signature(
        app_key=settings.TIKTOK_SHOP_APP_KEY,
        app_secret=settings.TIKTOK_SHOP_APP_SECRET,
        raw_body=body,
    )
    # The same JSON, re-serialised with spaces: another byte string, another signature.
    reserialised = json.dumps(json.loads(body)).encode()

    assert post(client, reserialised, signature=signature).status_code == 401
    assert not WebhookEvent.objects.exists()


def test_without_an_app_secret_nothing_verifies(client, settings):
    settings.TIKTOK_SHOP_APP_SECRET = ""
    body = raw("webhook__order_status_change")

    response = post(
        client, body, signature=webhook_signature(app_key="", app_secret="", raw_body=body)
    )

    assert response.status_code == 401


def test_an_event_without_notification_id_gets_a_stable_id_from_its_content():
    body = raw("webhook__cancellation_status_change__no_notification_id")
    later = json.loads(body)
    later["timestamp"] += 120  # TikTok's retry, two minutes later

    first = split(body)[0]
    retry = split(json.dumps(later).encode())[0]

    assert first.event_id == retry.event_id
    assert first.event_id.startswith("11:7494049642642441621:")
    assert first.event_type == "CANCELLATION_STATUS_CHANGE"
    assert event_id_of({"type": 11, "shop_id": "1", "data": {"cancel_id": "2"}}) != first.event_id


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"type": "one"}', b'{"shop_id": "1"}', b'{"type": 1, "data": []}'],
)
def test_a_body_that_is_not_an_event_is_invalid(body):
    with pytest.raises(InvalidPayload):
        split(body)


def test_an_unknown_type_is_stored_under_its_number_and_ignored(client):
    body = json.dumps({"type": 99, "tts_notification_id": "1", "shop_id": "7", "data": {}}).encode()

    assert post(client, body).status_code == 200
    drain(batch_size=10)

    event = WebhookEvent.objects.get()
    assert event.event_type == "TYPE_99"
    assert event.status == WebhookEvent.Status.IGNORED


def test_every_handled_type_has_a_registered_handler():
    assert webhooks.source(SOURCE_KEY) is not None
    paths = {
        event_type: webhooks._handlers.get((SOURCE_KEY, event_type))
        for event_type in (
            "ORDER_STATUS_CHANGE",
            "RECIPIENT_ADDRESS_UPDATE",
            "RETURN_STATUS_CHANGE",
            "REVERSE_STATUS_UPDATE",
            "CANCELLATION_STATUS_CHANGE",
            "PRODUCT_STATUS_CHANGE",
            "SELLER_DEAUTHORIZATION",
            "UPCOMING_AUTHORIZATION_EXPIRATION",
        )
    }
    assert all(paths.values()), paths
    assert paths["PRODUCT_STATUS_CHANGE"] == "apps.tiktok_shop.products.on_product_status_webhook"


# --- routing -----------------------------------------------------------------------------------


def test_an_unknown_shop_is_kept_unroutable_and_not_processed(client, sandbox):
    assert post(client, raw("webhook__order_status_change")).status_code == 200

    result = drain(batch_size=10)

    event = WebhookEvent.objects.get()
    assert result.unroutable == 1
    assert event.status == WebhookEvent.Status.UNROUTABLE
    assert event.tenant_id is None
    assert sandbox.calls() == 0


# --- order status: acceptance 4 ------------------------------------------------------------


@pytest.fixture
def synced(few_orders, shop_connection, sandbox):
    run = sync_run_for_connection_now(connection=shop_connection, kind="orders", trigger="manual")
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    return shop_connection


def moved_order(frozen_clock) -> tuple[Shop, shop_data.ShopOrders, shop_data.OrderState, str]:
    """Move the sandbox on until an order stored by the sync has a new status there."""
    shop = Shop.objects.order_by("shop_id").first()
    generated = next(s for s in sandbox_shops() if s["id"] == shop.shop_id)
    orders = sandbox_orders(generated)
    stored = dict(Order.objects.filter(shop=shop).values_list("order_id", "status"))
    for _ in range(60):
        frozen_clock(6 * 3600)
        at = shop_data.now_seconds()
        for order_id, status in stored.items():
            state = shop_data.state_of(orders, order_id, at)
            if state.status != status:
                return shop, orders, state, status
    raise AssertionError("no stored order moved in 15 days")


def test_a_signed_order_status_webhook_updates_that_order(client, synced, sandbox, frozen_clock):
    shop, orders, state, old_status = moved_order(frozen_clock)
    body = json.dumps(
        shop_data.order_status_event(orders, state, pushed_at=shop_data.now_seconds())
    ).encode()
    sandbox.clear()

    assert post(client, body).status_code == 200
    assert post(client, body).status_code == 200  # TikTok's retry: the same delivery
    result = drain(batch_size=50)

    event = WebhookEvent.objects.get()
    assert result.processed == 1
    assert event.status == WebhookEvent.Status.PROCESSED
    assert event.tenant_id == synced.tenant_id
    order = Order.objects.get(shop=shop, order_id=state.order_id)
    assert order.status == state.status
    assert int(order.update_time.timestamp()) == state.update_time
    change = OrderStatusChange.objects.get(order=order, source="webhook")
    assert (change.from_status, change.to_status) == (old_status, state.status)
    assert sandbox.calls(GET_ORDERS) == 1  # one refetch, one API call
    assert sandbox.calls() == 1


def test_a_redelivered_event_handled_again_changes_nothing(client, synced, sandbox, frozen_clock):
    shop, orders, state, _ = moved_order(frozen_clock)
    body = json.dumps(
        shop_data.order_status_event(orders, state, pushed_at=shop_data.now_seconds())
    ).encode()
    post(client, body)
    drain(batch_size=50)
    WebhookEvent.objects.update(status=WebhookEvent.Status.RECEIVED)  # replayed from the admin

    drain(batch_size=50)

    order = Order.objects.get(shop=shop, order_id=state.order_id)
    assert OrderStatusChange.objects.filter(order=order, to_status=state.status).count() == 1
    assert order.lines.count() >= 1


def test_a_return_event_is_noted_on_the_orders_history(client, synced, sandbox):
    order = Order.objects.order_by("pk").first()
    body = with_shop("webhook__return_status_change", order.shop.shop_id, order_id=order.order_id)

    post(client, body)
    drain(batch_size=10)

    change = OrderStatusChange.objects.get(order=order, kind="return")
    assert change.to_status == "RETURN_OR_REFUND_REQUEST_PENDING"
    assert change.detail == {
        "return_id": "576486316948490001",
        "return_type": "REFUND",
        "return_role": "BUYER",
    }
    assert change.changed_at == datetime.fromtimestamp(1644412885, tz=UTC)
    # The order's own status history is untouched.
    assert OrderStatusChange.objects.filter(order=order, kind="order").count() == 1


def test_a_cancellation_request_is_noted_too(client, synced, sandbox):
    order = Order.objects.order_by("pk").first()
    body = with_shop(
        "webhook__cancellation_status_change__no_notification_id",
        order.shop.shop_id,
        order_id=order.order_id,
    )

    post(client, body)
    drain(batch_size=10)

    change = OrderStatusChange.objects.get(order=order, kind="cancellation")
    assert change.to_status == "CANCELLATION_REQUEST_PENDING"
    assert change.detail["cancel_id"] == "4035319080181043981"


# --- batches: one routing query, orders fetched 50 a call ---------------------------------


def _shop_queries(captured) -> int:
    return sum('FROM "tiktok_shop_shop"' in q["sql"] for q in captured.captured_queries)


def test_a_batch_of_pushes_is_routed_with_one_query(client, sandbox):
    for n in range(12):
        body = json.loads(with_shop("webhook__order_status_change", f"unknown-{n % 3}"))
        body["tts_notification_id"] = f"n-{n}"
        post(client, json.dumps(body).encode())

    with CaptureQueriesContext(connection) as captured:
        result = drain(batch_size=50)

    assert result.unroutable == 12
    assert _shop_queries(captured) == 1  # not one per event
    assert sandbox.calls() == 0


def order_pushes(shop: Shop) -> list[tuple[str, str, bytes]]:
    """A new order-status push for each of the shop's stored orders, as the sandbox has it
    now: (order id, its status there, the body)."""
    generated = next(s for s in sandbox_shops() if s["id"] == shop.shop_id)
    orders = sandbox_orders(generated)
    at = shop_data.now_seconds()
    pushes = []
    for order_id in (
        Order.objects.filter(shop=shop).order_by("order_id").values_list("order_id", flat=True)
    ):
        state = shop_data.state_of(orders, order_id, at)
        event = shop_data.order_status_event(orders, state, pushed_at=at)
        event["tts_notification_id"] = f"batch-{order_id}"  # a new push even if unchanged
        pushes.append((order_id, state.status, json.dumps(event).encode()))
    return pushes


def test_the_orders_of_a_batch_are_fetched_again_50_a_call(client, synced, sandbox, frozen_clock):
    frozen_clock(3 * 24 * 3600)  # the sandbox's orders move on
    shop = Shop.objects.order_by("shop_id").first()
    pushes = order_pushes(shop)
    assert len(pushes) > 50
    for _order_id, _status, body in pushes:
        assert post(client, body).status_code == 200
    expected = {order_id: status for order_id, status, _body in pushes}
    sandbox.clear()

    result = drain(batch_size=500)

    assert result.processed == len(expected)
    assert sandbox.calls(GET_ORDERS) == -(-len(expected) // 50)  # ceil: 50 ids a call
    stored = dict(Order.objects.filter(shop=shop).values_list("order_id", "status"))
    assert stored == expected
    events = WebhookEvent.objects.filter(status=WebhookEvent.Status.PROCESSED)
    assert events.count() == len(expected)
    assert set(events.values_list("tenant_id", flat=True)) == {synced.tenant_id}


def test_when_the_batch_fetch_fails_each_event_fetches_its_own_order(
    client, synced, sandbox, frozen_clock, monkeypatch
):
    from apps.tiktok_shop import services
    from apps.tiktok_shop.client import ProviderError

    real = services.orders_refresh

    def refuse_batches(*, shop, order_ids, **kwargs):
        if len(order_ids) > 1:
            raise ProviderError("the batch call fails")
        return real(shop=shop, order_ids=order_ids, **kwargs)

    monkeypatch.setattr(services, "orders_refresh", refuse_batches)
    frozen_clock(3 * 24 * 3600)
    shop = Shop.objects.order_by("shop_id").first()
    pushes = order_pushes(shop)[:5]
    for _order_id, _status, body in pushes:
        post(client, body)
    expected = {order_id: status for order_id, status, _body in pushes}
    sandbox.clear()

    result = drain(batch_size=500)

    assert result.processed == 5
    assert sandbox.calls(GET_ORDERS) == 5  # one each, as without a batch
    stored = dict(Order.objects.filter(shop=shop).values_list("order_id", "status"))
    assert {order_id: stored[order_id] for order_id in expected} == expected


def test_pushes_after_a_deauthorization_in_the_same_batch_are_unroutable(client, synced, sandbox):
    shop = Shop.objects.order_by("shop_id").first()
    post(client, with_shop("webhook__seller_deauthorization", shop.shop_id))
    for _order_id, _status, body in order_pushes(shop)[:3]:
        post(client, body)
    sandbox.clear()

    result = drain(batch_size=50)

    assert (result.processed, result.unroutable) == (1, 3)
    assert sandbox.calls(GET_ORDERS) == 0  # nothing fetched for a shop that is leaving


# --- the seller's authorization ------------------------------------------------------------


def test_a_seller_deauthorization_disconnects_the_connection(client, shop_connection, sandbox):
    shop = Shop.objects.order_by("shop_id").first()

    post(client, with_shop("webhook__seller_deauthorization", shop.shop_id))
    drain(batch_size=10)

    shop_connection.refresh_from_db()
    assert shop_connection.status == ConnectionStatus.DISCONNECTED
    assert shop_connection.access_token is None
    assert "removed the app" in shop_connection.last_error
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED


def test_an_upcoming_expiration_turns_the_card_expiring_with_the_date(
    client, owner_client, shop_connection, sandbox
):
    shop = Shop.objects.order_by("shop_id").first()
    body = with_shop("webhook__upcoming_authorization_expiration", shop.shop_id)

    post(client, body)
    drain(batch_size=10)

    shop_connection.refresh_from_db()
    expires = datetime.fromtimestamp(1647004885, tz=UTC)
    assert shop_connection.status == ConnectionStatus.EXPIRING
    assert shop_connection.refresh_expires_at == expires
    page = owner_client.get("/integrations/?tab=tiktok").content.decode()
    assert 'data-status="expiring"' in page
    assert "ends on 2022-03-11" in page
