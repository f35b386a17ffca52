"""Signed pushes for shop operations: type 4 after a ship, 12 after a decision, 14 for a buyer."""

from __future__ import annotations

import io
import json

import pytest
import responses
from django.conf import settings
from django.core.management import call_command

from apps.sandbox import shop_ops_data as ops
from apps.sandbox.models import SandboxShopRecord
from apps.sandbox.tiktok_shop_signing import webhook_signature

from . import test_tiktok_shop_ops as base
from .test_tiktok_shop_ops import awaiting, call, orders, shop

# the shared fixtures (a frozen clock, a small world, a Shop token)
clock = base.clock
token = base.token
world = base.world


@pytest.fixture
def hub(sandbox):
    """Catch what is POSTed to the hub's webhook URL; check the signature as the hub does."""
    received = []

    def catch(request):
        raw = request.body if isinstance(request.body, bytes) else request.body.encode()
        expected = webhook_signature(
            app_key=settings.TIKTOK_SHOP_APP_KEY,
            app_secret=settings.TIKTOK_SHOP_APP_SECRET,
            raw_body=raw,
        )
        assert request.headers["Authorization"] == expected
        received.append(json.loads(raw))
        return 200, {}, b""

    sandbox.mock.add_callback(responses.POST, ops.hub_webhook_url(), callback=catch)
    return received


@pytest.fixture
def auto_push(settings, monkeypatch):
    settings.SANDBOX_SHOP_PUSH_WEBHOOKS = True
    monkeypatch.setattr(ops, "_start", ops._push_quietly)  # push in this thread


def test_a_ship_pushes_a_package_update(token, hub, auto_push, django_capture_on_commit_callbacks):
    package = awaiting(token)
    body = {
        "self_shipment": {"tracking_number": "PUSH1", "shipping_provider_id": "6617675021119438849"}
    }

    with django_capture_on_commit_callbacks(execute=True):
        answer = call(token, "POST", f"/fulfillment/202309/packages/{package['id']}/ship", body)

    assert answer["code"] == 0
    (event,) = hub
    assert event["type"] == 4
    assert event["shop_id"] == shop()["id"]
    assert event["data"]["package_list"] == [
        {"package_id": package["id"], "order_id_list": [package["orders"][0]["id"]]}
    ]
    assert event["tts_notification_id"].isdigit() and len(event["tts_notification_id"]) == 19


def test_a_decision_pushes_the_new_return_status(
    token, hub, auto_push, django_capture_on_commit_callbacks
):
    state = next(
        s
        for s in ops.returns_at(orders(), {}, ops.shop_data.now_seconds())
        if s.status == ops.PENDING
    )
    path = f"/return_refund/202309/returns/{state.seed.return_id}/reject"
    body = {"decision": "REJECT_REFUND", "reject_reason": ops.REJECT_REASONS[0][0]}

    with django_capture_on_commit_callbacks(execute=True):
        answer = call(token, "POST", path, body, idempotency_key="push-1")

    assert answer["code"] == 0, answer
    (event,) = hub
    assert event["type"] == 12
    assert event["data"]["return_id"] == state.seed.return_id
    assert event["data"]["return_status"] == ops.REJECTED


def test_no_push_unless_enabled(token, hub, django_capture_on_commit_callbacks):
    package = awaiting(token)

    with django_capture_on_commit_callbacks(execute=True):
        call(
            token,
            "POST",
            f"/fulfillment/202309/packages/{package['id']}/ship",
            {"handover_method": "PICKUP"},
        )

    assert hub == []


def test_buyer_message_command_stores_the_message_and_pushes_new_message(token, hub):
    before = call(token, "GET", "/customer_service/202309/conversations", page_size=20)["data"]
    out = io.StringIO()

    call_command(
        "sandbox_fire_shop_webhook", "--event", "message", "--text", "Is it shipped?", stdout=out
    )

    (event,) = hub
    assert event["type"] == 14
    data = event["data"]
    assert json.loads(data["content"]) == {"content": "Is it shipped?"}
    assert data["sender"]["role"] == "BUYER"
    assert (
        SandboxShopRecord.objects.filter(
            kind="message_sent", object_id=data["conversation_id"]
        ).count()
        == 1
    )
    messages = call(
        token,
        "GET",
        f"/customer_service/202309/conversations/{data['conversation_id']}/messages",
        page_size=10,
    )["data"]["messages"]
    assert messages[0]["id"] == data["message_id"]
    after = call(token, "GET", "/customer_service/202309/conversations", page_size=20)["data"]
    top = after["conversations"][0]
    assert top["id"] == data["conversation_id"]
    old = next((c for c in before["conversations"] if c["id"] == top["id"]), None)
    assert top["unread_count"] == (old["unread_count"] if old else 0) + 1
    assert "HTTP 200" in out.getvalue()


def test_buyer_message_to_a_named_conversation(token, hub):
    cid = call(token, "GET", "/customer_service/202309/conversations", page_size=20)["data"][
        "conversations"
    ][-1]["id"]

    call_command(
        "sandbox_fire_shop_webhook",
        "--event",
        "message",
        "--conversation",
        cid,
        stdout=io.StringIO(),
    )

    assert hub[0]["data"]["conversation_id"] == cid


def test_package_and_return_status_commands(token, hub):
    package = awaiting(token)
    call(
        token,
        "POST",
        f"/fulfillment/202309/packages/{package['id']}/ship",
        {"handover_method": "DROP_OFF"},
    )

    call_command("sandbox_fire_shop_webhook", "--event", "package", stdout=io.StringIO())
    call_command("sandbox_fire_shop_webhook", "--event", "return_status", stdout=io.StringIO())

    assert hub[0]["type"] == 4
    assert hub[0]["data"]["package_list"][0]["package_id"] == package["id"]
    assert hub[1]["type"] == 12
    assert hub[1]["data"]["return_status"] == ops.PENDING


def test_the_sandbox_page_button_makes_the_buyer_write(token, hub, client, django_user_model):
    staff = django_user_model.objects.create_user(
        username="staff", email="staff@sandbox.example", password="pw-1234567", is_staff=True
    )
    client.force_login(staff)

    page = client.get("/sandbox/")
    answer = client.post("/sandbox/tiktok-shop/buyer-message", {"text": "Hello from the page"})

    assert b"Send as the buyer" in page.content
    assert answer.status_code == 302
    (event,) = hub
    assert event["type"] == 14
    assert json.loads(event["data"]["content"]) == {"content": "Hello from the page"}
    record = SandboxShopRecord.objects.get(kind="message_sent")
    assert record.shop_id == shop()["id"]
    assert record.data["role"] == "BUYER"


def test_the_button_is_for_staff_only(token, hub, client):
    answer = client.post("/sandbox/tiktok-shop/buyer-message", {"text": "x"})

    assert answer.status_code == 302 and "login" in answer["Location"]
    assert hub == [] and not SandboxShopRecord.objects.exists()
