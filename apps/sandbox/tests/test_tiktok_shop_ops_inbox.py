"""TikTok Shop customer service in the sandbox: conversations, messages, replies (§3.6)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from apps.sandbox import shop_data
from apps.sandbox import shop_ops_data as ops
from apps.sandbox.models import SandboxShopRecord

from . import test_tiktok_shop_ops as base
from .test_tiktok_shop_ops import call, orders, shop, walk

# the shared fixtures (a frozen clock, a small world, a Shop token)
clock = base.clock
token = base.token
world = base.world

CONVERSATIONS = "/customer_service/202309/conversations"


def messages_path(conversation_id: str) -> str:
    return f"{CONVERSATIONS}/{conversation_id}/messages"


@pytest.mark.parametrize(
    ("path", "size"), [(CONVERSATIONS, "21"), (CONVERSATIONS, "0"), ("m", "11")]
)
def test_page_size_limits(token, path, size):
    conversations = call(token, "GET", CONVERSATIONS, page_size=20)["data"]["conversations"]
    if path == "m":
        path = messages_path(conversations[0]["id"])

    answer = call(token, "GET", path, page_size=size)

    assert answer["code"] == 36009004
    assert "page_size" in answer["message"]


def test_conversations_walk_latest_first_and_deterministic(token):
    rows = walk(token, "GET", CONVERSATIONS, "conversations", page_size=20)
    again = walk(token, "GET", CONVERSATIONS, "conversations", page_size=20)

    assert len(rows) > 20
    assert rows == again
    assert len({r["id"] for r in rows}) == len(rows)
    latest = [int(r["latest_message"]["index"]) for r in rows]
    assert latest == sorted(latest, reverse=True)
    row = rows[0]
    assert {p["role"] for p in row["participants"]} == {"BUYER", "SHOP"}
    assert row["latest_message"]["create_time"] <= shop_data.now_seconds()
    assert json.loads(row["latest_message"]["content"])["content"]


def test_messages_page_by_ten_with_sort_order(token):
    conversations = walk(token, "GET", CONVERSATIONS, "conversations", page_size=20)
    busiest = max(conversations, key=lambda c: c["unread_count"])
    path = messages_path(busiest["id"])

    newest_first = walk(token, "GET", path, "messages", page_size=1)
    oldest_first = walk(
        token, "GET", path, "messages", page_size=1, sort_order="ASC", sort_field="index"
    )

    assert newest_first == list(reversed(oldest_first))
    assert newest_first[0] == busiest["latest_message"]
    assert oldest_first[0]["sender"]["role"] == "BUYER"
    assert all(m["type"] == "TEXT" and isinstance(m["content"], str) for m in oldest_first)


def test_reply_is_stored_and_reads_back_and_clears_unread(token, clock):
    conversations = walk(token, "GET", CONVERSATIONS, "conversations", page_size=20)
    waiting = next(c for c in conversations if c["unread_count"] > 0)
    clock["now"] += timedelta(seconds=5)
    content = json.dumps({"content": "Your parcel ships today."})

    answer = call(token, "POST", messages_path(waiting["id"]), {"type": "TEXT", "content": content})

    assert answer["code"] == 0, answer
    message_id = answer["data"]["message_id"]
    newest = call(token, "GET", messages_path(waiting["id"]), page_size=10)["data"]["messages"][0]
    assert newest["id"] == message_id
    assert newest["sender"]["role"] == "SHOP"
    assert json.loads(newest["content"]) == {"content": "Your parcel ships today."}
    assert newest["create_time"] == shop_data.now_seconds()
    top = call(token, "GET", CONVERSATIONS, page_size=20)["data"]["conversations"][0]
    assert top["id"] == waiting["id"]
    assert top["unread_count"] == 0
    assert SandboxShopRecord.objects.filter(kind="message_sent").count() == 1


@pytest.mark.parametrize(
    "body",
    [
        {"type": "TEXT", "content": "hi"},
        {"type": "TEXT", "content": {"content": "hi"}},
        {"type": "TEXT", "content": '{"content": ""}'},
        {"type": "VOICE", "content": '{"content": "hi"}'},
        {"content": '{"content": "hi"}'},
    ],
)
def test_send_validation(token, body):
    conversation = call(token, "GET", CONVERSATIONS, page_size=1)["data"]["conversations"][0]

    answer = call(token, "POST", messages_path(conversation["id"]), body)

    assert answer["code"] == 36009004, answer
    assert not SandboxShopRecord.objects.exists()


def test_read_marks_every_message_read(token):
    conversations = walk(token, "GET", CONVERSATIONS, "conversations", page_size=20)
    waiting = next(c for c in conversations if c["unread_count"] > 0)

    answer = call(token, "POST", f"{CONVERSATIONS}/{waiting['id']}/messages/read", {})

    assert answer["code"] == 0
    again = walk(token, "GET", CONVERSATIONS, "conversations", page_size=20)
    assert next(c for c in again if c["id"] == waiting["id"])["unread_count"] == 0


def test_create_conversation_with_a_buyer_is_stable(token):
    state = shop_data.states_at(orders(), shop_data.now_seconds())[0]
    order = call(token, "GET", "/order/202309/orders", ids=state.order_id)["data"]["orders"][0]

    one = call(token, "POST", CONVERSATIONS, {"buyer_user_id": order["user_id"]})
    two = call(token, "POST", CONVERSATIONS, {"buyer_user_id": order["user_id"]})

    assert one["code"] == 0, one
    assert one["data"] == two["data"]
    cid = one["data"]["conversation_id"]
    assert cid == ops.conversation_id(shop()["id"], order["user_id"])
    assert call(token, "GET", messages_path(cid), page_size=10)["code"] == 0
    assert call(token, "POST", CONVERSATIONS, {"buyer_user_id": "7200"})["code"] == 25020005
    assert call(token, "GET", messages_path("7612345"), page_size=10)["code"] == 25020005


def test_buyer_ids_match_the_orders(token):
    shop_orders = orders()
    at = shop_data.now_seconds()
    for state in shop_data.states_at(shop_orders, at)[:20]:
        user_id = shop_data.order_object(shop_orders, state)["user_id"]
        assert ops.buyer_user_id(shop_orders.shop_id, state.seed.index) == user_id
