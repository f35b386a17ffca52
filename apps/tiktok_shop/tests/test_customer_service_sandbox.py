"""The customer-service inbox against the sandbox: sync, a buyer's push, a reply, a rerun.

The connection is made through the hub's connect flow and the sandbox's
consent screen with the Customer service pack confirmed; every call is signed
and answered by the sandbox's emulation of §3.6.
"""

from __future__ import annotations

import json

import pytest
from django.conf import settings

from apps.integrations.models import SyncRun
from apps.integrations.sync import sync_run_for_connection_now
from apps.leads.models import Message, Ticket
from apps.leads.replies import reply_create, reply_deliver
from apps.sandbox import generator, shop_data
from apps.sandbox import shop_ops_data as ops
from apps.sandbox.models import SandboxShopRecord
from apps.tiktok_shop.signing import webhook_signature
from apps.webhooks.services import drain

from . import test_contract
from .conftest import sandbox_shops, seller_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def chat_connection(owner_client, sandbox, frozen_clock, few_orders):
    contract = test_contract.TestTikTokShopContract()
    contract.packs = ("shop_orders", "shop_chat")
    connection, _ = contract.connect(owner_client)
    assert "shop_chat" in connection.scope_packs
    return connection


def sandbox_chats() -> dict[str, list[dict]]:
    """``{conversation id: its messages}`` the sandbox shows now, over every shop of the seller."""
    now = int(generator.now().timestamp())
    chats = {}
    for shop in sandbox_shops():
        orders = shop_data.orders_for(shop, seller_account())
        for buyer in ops.buyers(orders).values():
            messages = [m for m in ops.generated_messages(orders, buyer) if m["create_time"] <= now]
            if messages:
                chats[buyer.conversation_id] = messages
    return chats


def sync(connection) -> SyncRun:
    run = sync_run_for_connection_now(
        connection=connection, kind="conversations", trigger=SyncRun.Trigger.MANUAL
    )
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    return run


def push(client, event: dict):
    raw = json.dumps(event, separators=(",", ":")).encode()
    signature = webhook_signature(
        app_key=settings.TIKTOK_SHOP_APP_KEY,
        app_secret=settings.TIKTOK_SHOP_APP_SECRET,
        raw_body=raw,
    )
    return client.post(
        "/webhooks/tiktok-shop/", data=raw, content_type="application/json",
        HTTP_AUTHORIZATION=signature,
    )  # fmt: skip


def test_the_inbox_holds_exactly_the_sandboxs_conversations_and_stays_live(
    chat_connection, client, owner_a
):
    truth = sandbox_chats()
    assert truth, "the sandbox world has no conversation"

    run = sync(chat_connection)

    tickets = {t.conversation_id: t for t in Ticket.objects.filter(channel="tiktok_shop")}
    assert set(tickets) == set(truth)
    assert run.stats["created"] == len(truth)
    for conversation_id, messages in truth.items():
        ticket = tickets[conversation_id]
        stored = list(ticket.messages.values_list("provider_message_id", "direction", "text"))
        assert sorted(stored) == sorted(
            (
                m["id"],
                "in" if m["sender"]["role"] == "BUYER" else "out",
                json.loads(m["content"])["content"],
            )
            for m in messages
        )
        buyer = messages[0]["sender"] if messages[0]["sender"]["role"] == "BUYER" else None
        if buyer:
            assert ticket.contact.user_id == f"tiktok_shop:{buyer['im_user_id']}"
            assert ticket.contact.name == buyer["nickname"]

    # A buyer writes: the sandbox pushes a signed type 14, the drain records it.
    shop = sandbox_shops()[0]
    orders = shop_data.orders_for(shop, seller_account())
    message, event = ops.buyer_writes(
        orders, text="Is my parcel on its way?", at=int(generator.now().timestamp())
    )
    assert push(client, event).status_code == 200
    drain()
    conversation_id = event["data"]["conversation_id"]
    ticket = Ticket.objects.get(conversation_id=conversation_id)
    newest = ticket.messages.order_by("-sent_at", "-pk").first()
    assert (newest.provider_message_id, newest.text, newest.direction) == (
        message["id"],
        "Is my parcel on its way?",
        "in",
    )

    # The member replies: the sandbox stores it, lists it, the reply is delivered.
    reply = reply_create(ticket=ticket, user=owner_a, text="Yes, it left this morning.")
    assert reply_deliver(message_id=reply.pk) == "delivered"
    reply.refresh_from_db()
    recorded = SandboxShopRecord.objects.get(
        kind="message_sent", object_id=conversation_id, data__role="SHOP"
    )
    assert recorded.data["message_id"] == reply.provider_message_id
    assert json.loads(recorded.data["content"]) == {"content": "Yes, it left this morning."}

    # A rerun reads the two new messages back and duplicates nothing.
    again = sync(chat_connection)
    assert again.stats["created"] == 0
    assert Message.objects.filter(provider_message_id=reply.provider_message_id).count() == 1
    assert Message.objects.filter(provider_message_id=message["id"]).count() == 1
    total = sum(len(m) for m in truth.values()) + 2
    assert Message.objects.filter(channel="tiktok_shop").count() == total


def test_without_the_pack_the_sandbox_is_never_asked(
    owner_client, sandbox, frozen_clock, few_orders
):
    connection, _ = test_contract.TestTikTokShopContract().connect(
        owner_client
    )  # Catalog and Orders only

    run = sync(connection)

    assert run.stats["fetched"] == 0
    assert not Ticket.objects.exists()
    page = owner_client.get("/leads/?channel=tiktok_shop").content.decode()
    assert "Customer service pack" in page
