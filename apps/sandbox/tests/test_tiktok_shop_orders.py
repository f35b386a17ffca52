"""TikTok Shop orders in the sandbox: deterministic, moving over time, searched like the real API.

Also the command that fires signed Shop webhooks at the hub.
"""

from __future__ import annotations

import io
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
import responses
from django.conf import settings
from django.core.management import call_command
from django.test import Client

from apps.sandbox import generator, shop_data
from apps.sandbox.models import SandboxGrant
from apps.sandbox.tiktok_shop_signing import sign, webhook_signature

from .flows import first, shop_code
from .test_tiktok_shop import token_get

SEARCH = "/order/202309/orders/search"
GET = "/order/202309/orders"


@pytest.fixture
def clock(monkeypatch):
    state = {"now": datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)}
    monkeypatch.setattr(generator, "now", lambda: state["now"])
    return state


@pytest.fixture
def world(settings):
    settings.SANDBOX_SHOP_ORDERS_PER_SHOP = 300
    shop_data.shop_orders.cache_clear()


@pytest.fixture
def token(client, sandbox, world, clock) -> str:
    answer = token_get(shop_code(client))
    assert answer["code"] == 0, answer
    return answer["data"]["access_token"]


def shop() -> dict:
    return generator.shops(first("tiktok_shop").account_id)[0]


def call(token: str, method: str, path: str, body: bytes = b"", **params) -> dict:
    query = {"app_key": settings.TIKTOK_SHOP_APP_KEY, "timestamp": str(int(time.time())), **params}
    query["sign"] = sign(
        app_secret=settings.TIKTOK_SHOP_APP_SECRET,
        path=path,
        query=query,
        body=body,
        content_type="application/json",
    )
    headers = {"x-tts-access-token": token, "content-type": "application/json"}
    url = f"{settings.TIKTOK_SHOP_API_BASE}{path}"
    return requests.request(method, url, params=query, data=body, headers=headers, timeout=5).json()


def search(token: str, body: dict | None = None, **params) -> dict:
    params.setdefault("page_size", "100")
    raw = json.dumps(body or {}).encode()
    return call(token, "POST", SEARCH, raw, shop_cipher=shop()["cipher"], **params)


def walk(token: str, body: dict | None = None, **params) -> list[dict]:
    orders, page_token = [], ""
    while True:
        answer = search(token, body, **({"page_token": page_token} if page_token else {}), **params)
        assert answer["code"] == 0, answer
        orders += answer["data"]["orders"]
        page_token = answer["data"]["next_page_token"]
        if not page_token:
            return orders


def test_orders_are_the_same_every_time_and_all_exist_at_the_grant(token, clock):
    at = shop_data.now_seconds()
    once = shop_data.states_at(shop_data.orders_for(shop(), first("tiktok_shop").account_id), at)
    shop_data.shop_orders.cache_clear()
    twice = shop_data.states_at(shop_data.orders_for(shop(), first("tiktok_shop").account_id), at)

    assert len(once) == 300
    assert [(s.order_id, s.status, s.update_time) for s in once] == [
        (s.order_id, s.status, s.update_time) for s in twice
    ]


def test_statuses_move_with_time_since_the_grant(token, clock):
    orders = shop_data.orders_for(shop(), first("tiktok_shop").account_id)
    before = {s.order_id: s.status for s in shop_data.states_at(orders, shop_data.now_seconds())}
    clock["now"] += timedelta(days=3)
    after = {s.order_id: s.status for s in shop_data.states_at(orders, shop_data.now_seconds())}

    moved = [oid for oid in before if before[oid] != after[oid]]
    assert moved
    lifecycle = (*shop_data.TIMELINE, shop_data.CANCELLED)
    for oid in moved:
        assert (
            lifecycle.index(after[oid]) > lifecycle.index(before[oid]) or after[oid] == "CANCELLED"
        )


def test_a_walk_by_update_time_returns_every_order_once_in_order(token):
    orders = walk(token, sort_field="update_time", sort_order="ASC")

    assert len(orders) == 300
    assert len({o["id"] for o in orders}) == 300
    keys = [(o["update_time"], o["id"]) for o in orders]
    assert keys == sorted(keys)


def test_page_tokens_hold_slashes_or_pluses_and_the_page_size_is_capped_at_100(token):
    answer = search(token, page_size="100")
    assert answer["data"]["total_count"] == 300
    assert len(answer["data"]["orders"]) == 100

    too_big = search(token, page_size="101")
    assert too_big["code"] == 36009004
    assert "page_size" in too_big["message"]


def test_the_update_time_window_filters_and_its_upper_bound_is_exclusive(token):
    everything = walk(token, sort_field="update_time", sort_order="ASC")
    middle = everything[150]["update_time"]

    later = walk(token, {"update_time_ge": middle}, sort_field="update_time", sort_order="ASC")
    earlier = walk(token, {"update_time_lt": middle}, sort_field="update_time", sort_order="ASC")

    assert all(o["update_time"] >= middle for o in later)
    assert all(o["update_time"] < middle for o in earlier)
    assert len(later) + len(earlier) == 300


def test_a_walk_keeps_its_upper_bound_while_the_world_moves(token, clock):
    first_page = search(token, sort_field="update_time", sort_order="ASC")
    clock["now"] += timedelta(days=5)
    rest, page_token = [], first_page["data"]["next_page_token"]
    while page_token:
        answer = search(token, page_token=page_token, sort_field="update_time", sort_order="ASC")
        rest += answer["data"]["orders"]
        page_token = answer["data"]["next_page_token"]

    ids = [o["id"] for o in first_page["data"]["orders"] + rest]
    assert len(ids) == len(set(ids))


def test_get_orders_by_ids_at_most_50(token):
    ids = [o["id"] for o in search(token, page_size="3")["data"]["orders"]]

    answer = call(token, "GET", GET, ids=",".join([*ids, "999"]), shop_cipher=shop()["cipher"])
    too_many = call(token, "GET", GET, ids=",".join(["1"] * 51), shop_cipher=shop()["cipher"])

    assert [o["id"] for o in answer["data"]["orders"]] == ids
    assert too_many["code"] == 36009004


def test_another_sellers_cipher_is_refused(token):
    stranger = generator.shops(generator.identities("tiktok_shop")[1].account_id)[0]

    answer = call(token, "POST", SEARCH, b"{}", shop_cipher=stranger["cipher"], page_size="10")

    assert answer["code"] == 36009004
    assert "shop_cipher" in answer["message"]


def test_the_order_object_has_the_contracts_shape(token):
    order = search(token, page_size="1", sort_field="update_time", sort_order="DESC")["data"][
        "orders"
    ][0]

    assert {"id", "status", "create_time", "update_time", "payment", "line_items"} <= set(order)
    assert set(order["payment"]) >= {"currency", "sub_total", "shipping_fee", "total_amount"}
    assert all(isinstance(order["payment"][k], str) for k in ("sub_total", "total_amount"))
    item = order["line_items"][0]
    assert {"id", "sku_id", "seller_sku", "product_id", "sale_price", "currency"} <= set(item)
    assert "quantity" not in item  # one line item per unit in 202309
    if order["status"] in {"UNPAID", "ON_HOLD"}:
        assert "recipient_address" not in order
    else:
        assert "full_address" in order["recipient_address"]


def test_the_anchor_is_the_sellers_first_grant(token):
    grant = SandboxGrant.objects.filter(provider="tiktok_shop").order_by("pk").first()

    assert shop_data.shop_anchor(grant.account_id) == int(grant.created_at.timestamp())


# --- the webhook command -------------------------------------------------------------------------


@pytest.fixture
def hub_inbox(sandbox):
    """Route the command's POST to the hub's webhook view in process; keep what it answered."""
    received = []

    def forward(request):
        answer = Client().post(
            "/webhooks/tiktok-shop/",
            data=request.body,
            content_type="application/json",
            HTTP_AUTHORIZATION=request.headers.get("Authorization", ""),
        )
        received.append((json.loads(request.body), request.headers["Authorization"], answer))
        return answer.status_code, {}, answer.content

    url = f"{settings.PUBLIC_BASE_URL}/webhooks/tiktok-shop/"
    sandbox.mock.add_callback(responses.POST, url, callback=forward)
    return received


def test_the_command_posts_a_correctly_signed_order_status_change(token, hub_inbox):
    out = io.StringIO()

    call_command("sandbox_fire_shop_webhook", stdout=out)

    body, signature, answer = hub_inbox[0]
    raw = json.dumps(body, separators=(",", ":")).encode()
    assert signature == webhook_signature(
        app_key=settings.TIKTOK_SHOP_APP_KEY,
        app_secret=settings.TIKTOK_SHOP_APP_SECRET,
        raw_body=raw,
    )
    assert answer.status_code == 200
    assert body["type"] == 1 and body["shop_id"] == shop()["id"]
    orders = shop_data.orders_for(shop(), first("tiktok_shop").account_id)
    latest = shop_data.latest_changes(orders, shop_data.now_seconds())[0]
    assert body["data"]["order_id"] == latest.order_id
    assert body["data"]["order_status"] == latest.status
    assert "HTTP 200" in out.getvalue()


def test_the_same_change_fired_twice_is_a_redelivery(token, hub_inbox):
    call_command("sandbox_fire_shop_webhook", stdout=io.StringIO())
    call_command("sandbox_fire_shop_webhook", stdout=io.StringIO())

    assert hub_inbox[0][0]["tts_notification_id"] == hub_inbox[1][0]["tts_notification_id"]


def test_a_spoiled_signature_is_refused_by_the_hub(token, hub_inbox):
    out = io.StringIO()

    call_command("sandbox_fire_shop_webhook", "--bad-signature", stdout=out)

    assert hub_inbox[0][2].status_code == 401
    assert "HTTP 401" in out.getvalue()


def test_deauthorization_revokes_the_sellers_sandbox_tokens(token, hub_inbox):
    call_command("sandbox_fire_shop_webhook", "--event", "deauthorization", stdout=io.StringIO())

    assert hub_inbox[0][0]["type"] == 6
    assert not SandboxGrant.objects.filter(provider="tiktok_shop", revoked=False).exists()


@pytest.mark.parametrize(
    ("event", "type_number"),
    [("return", 12), ("cancellation", 11), ("expiring", 7), ("product", 5)],
)
def test_every_event_kind_is_signed_and_accepted(token, hub_inbox, event, type_number):
    call_command("sandbox_fire_shop_webhook", "--event", event, stdout=io.StringIO())

    body, _, answer = hub_inbox[0]
    assert body["type"] == type_number
    assert answer.status_code == 200
