"""Returns: the sync kind, the webhook refetch, approve / reject with an audit entry, the pages."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.integrations.models import AuditEntry, SyncRun
from apps.integrations.sync import sync_kinds, sync_run_for_connection_now
from apps.tiktok_shop import returns
from apps.tiktok_shop.models import (
    Order,
    OrderStatusChange,
    ReturnRequest,
    Shop,
    TikTokShopConnection,
)
from apps.tiktok_shop.orders import orders_store
from apps.webhooks.services import drain

from .test_client import API, CIPHER, load_fixture, query_of
from .test_webhooks import post, with_shop

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shop_settings")]


SHOP_ID = "7494049642642441621"
RETURN = "4035611131102306001"
SEARCH = f"{API}/return_refund/202309/returns/search"
SHOPS = f"{API}/authorization/202309/shops"


@pytest.fixture
def connection(tenant_a, owner_a):
    return TikTokShopConnection.objects.create(
        tenant=tenant_a,
        access_token="ROW_token",
        refresh_token="ROW_refresh",
        granted_scopes=["seller.order.info", "seller.return_refund.basic"],
    )


@pytest.fixture
def shop(connection, tenant_a):
    return Shop.objects.create(
        tenant=tenant_a, connection=connection, shop_id=SHOP_ID, name="Lumen US", cipher=CIPHER
    )


def shops_answer() -> dict:
    body = load_fixture("authorization_shops__two_shops")
    body["data"]["shops"] = [
        {**body["data"]["shops"][0], "id": SHOP_ID, "cipher": CIPHER, "name": "Lumen US"}
    ]
    return body


def sync(connection) -> SyncRun:
    run = sync_run_for_connection_now(connection=connection, kind="returns", trigger="manual")
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    return run


@pytest.fixture
def synced(mocked, connection, shop):
    items = load_fixture("orders_get__awaiting_collection")["data"]["orders"]
    orders_store(connection=connection, shop=shop, items=items)
    mocked.get(SHOPS, json=shops_answer())
    mocked.post(SEARCH, json=load_fixture("returns_search__page1"))
    mocked.post(SEARCH, json=load_fixture("returns_search__page2"))
    run = sync(connection)
    mocked.reset()
    return run


# --- sync -------------------------------------------------------------------------------------


def test_the_kind_is_registered_incremental_every_30_minutes():
    kind = sync_kinds.get("tiktok_shop", "returns")

    assert kind.incremental and kind.schedule_minutes == 30
    assert kind.unique_fields == ("shop", "return_id")


def test_a_sync_stores_every_return_with_reason_items_refund_and_deadline(synced, shop):
    assert synced.stats["fetched"] == 3 and synced.stats["created"] == 3
    ret = ReturnRequest.objects.get(return_id=RETURN)
    assert ret.status == "RETURN_OR_REFUND_REQUEST_PENDING"
    assert (ret.return_type, ret.role) == ("REFUND", "BUYER")
    assert ret.reason == "ecom_order_delivered_refund_and_return_reason_damaged"
    assert ret.reason_text == "Item arrived damaged"
    assert (ret.refund_amount, ret.currency) == (Decimal("17.90"), "USD")
    assert ret.seller_deadline == datetime.fromtimestamp(1697200000, tz=UTC)
    assert ret.line_items[0]["seller_sku"] == "TSHIRT-RED-M"
    assert ret.line_items[0]["refund"] == "17.90"
    # Linked to its order when that order is synced; the others wait for theirs.
    assert ret.order == Order.objects.get(order_id="576486316948490001")
    assert ReturnRequest.objects.filter(order__isnull=True).count() == 2
    assert ReturnRequest.objects.get(return_id="4035611131102306003").seller_deadline is None


def test_an_incremental_run_asks_from_the_high_water_mark_minus_the_overlap(
    synced, mocked, connection
):
    mocked.get(SHOPS, json=shops_answer())
    mocked.post(SEARCH, json=load_fixture("returns_search__none"))

    sync(connection)

    body = json.loads(mocked.calls[1].request.body)
    assert body["update_time_ge"] == 1697000300 - 600
    assert ReturnRequest.objects.count() == 3


def test_a_seller_without_the_returns_pack_is_not_asked(mocked, connection, shop):
    connection.granted_scopes = ["seller.order.info"]
    connection.save()

    run = sync(connection)

    assert run.stats["fetched"] == 0
    assert len(mocked.calls) == 0


# --- webhook ---------------------------------------------------------------------------------


def test_a_return_push_notes_the_history_and_refetches_the_return(client, synced, mocked, shop):
    mocked.post(SEARCH, json=load_fixture("returns_search__approved"))
    body = with_shop(
        "webhook__return_status_change",
        SHOP_ID,
        order_id="576486316948490001",
        return_id=RETURN,
        return_status="RETURN_OR_REFUND_REQUEST_SUCCESS",
    )

    post(client, body)
    result = drain(batch_size=10)

    assert result.processed == 1
    assert json.loads(mocked.calls[0].request.body) == {"return_ids": [RETURN]}
    assert ReturnRequest.objects.get(return_id=RETURN).status == "RETURN_OR_REFUND_REQUEST_SUCCESS"
    change = OrderStatusChange.objects.get(kind="return")
    assert change.to_status == "RETURN_OR_REFUND_REQUEST_SUCCESS"


def test_a_refused_refetch_keeps_the_push_on_the_history_only(client, synced, mocked, shop):
    mocked.post(SEARCH, json=load_fixture("authorization_shops__scope_missing"))
    body = with_shop("webhook__return_status_change", SHOP_ID, order_id="576486316948490001")

    post(client, body)
    result = drain(batch_size=10)

    assert result.processed == 1
    assert OrderStatusChange.objects.filter(kind="return").count() == 1


# --- decisions ---------------------------------------------------------------------------------


def test_approving_sends_the_decision_with_a_key_audits_and_refetches(synced, mocked, owner_a):
    ret = ReturnRequest.objects.select_related("shop__connection").get(return_id=RETURN)
    mocked.post(
        f"{API}/return_refund/202309/returns/{RETURN}/approve",
        json=load_fixture("return_approve__success"),
    )
    mocked.post(SEARCH, json=load_fixture("returns_search__approved"))

    fresh = returns.return_decide(user=owner_a, ret=ret, approve=True)

    call = mocked.calls[0]
    assert json.loads(call.request.body) == {"decision": "APPROVE_REFUND"}
    key = query_of(call.request.url)["idempotency_key"]
    assert len(key) == 32
    assert fresh.status == "RETURN_OR_REFUND_REQUEST_SUCCESS"
    entry = AuditEntry.objects.get()
    assert (entry.user, entry.action, entry.object_type, entry.object_id) == (
        owner_a,
        "return_approve",
        "return",
        RETURN,
    )
    assert entry.outcome == "succeeded"
    assert entry.before["status"] == "RETURN_OR_REFUND_REQUEST_PENDING"
    assert entry.after == {"decision": "APPROVE_REFUND", "idempotency_key": key}


def test_rejecting_a_return_and_refund_sends_the_chosen_reason(synced, mocked, owner_a):
    ret = ReturnRequest.objects.select_related("shop__connection").get(
        return_id="4035611131102306002"
    )
    mocked.get(
        f"{API}/return_refund/202309/reject_reasons", json=load_fixture("reject_reasons__list")
    )
    mocked.post(
        f"{API}/return_refund/202309/returns/4035611131102306002/reject",
        json=load_fixture("return_reject__success"),
    )
    mocked.post(SEARCH, json=load_fixture("returns_search__none"))

    reasons = returns.return_reject_reasons(ret=ret)
    returns.return_decide(
        user=owner_a,
        ret=ret,
        approve=False,
        reject_reason=reasons[1][0],
        reject_reason_text=reasons[1][1],
    )

    assert reasons[1] == ("reverse_reject_request_reason_3", "The item shows signs of use")
    assert json.loads(mocked.calls[1].request.body) == {
        "decision": "REJECT_RETURN",
        "reject_reason": "reverse_reject_request_reason_3",
    }
    entry = AuditEntry.objects.get()
    assert entry.after["reason_text"] == "The item shows signs of use"
    assert entry.action == "return_reject"


def test_a_refused_decision_is_audited_failed_and_said(synced, mocked, owner_a):
    ret = ReturnRequest.objects.select_related("shop__connection").get(return_id=RETURN)
    mocked.post(
        f"{API}/return_refund/202309/returns/{RETURN}/approve",
        json=load_fixture("return_approve__invalid_status"),
    )

    with pytest.raises(returns.ReturnDecisionFailed, match="Invalid order status"):
        returns.return_decide(user=owner_a, ret=ret, approve=True)

    entry = AuditEntry.objects.get()
    assert entry.outcome == "failed" and "Invalid order status" in entry.error
    assert ReturnRequest.objects.get(return_id=RETURN).status == "RETURN_OR_REFUND_REQUEST_PENDING"


def test_nothing_is_sent_without_a_reason_or_for_a_finished_return(synced, mocked, owner_a):
    ret = ReturnRequest.objects.select_related("shop__connection").get(return_id=RETURN)
    done = ReturnRequest.objects.select_related("shop__connection").get(
        return_id="4035611131102306003"
    )

    with pytest.raises(returns.ReturnDecisionFailed, match="reason"):
        returns.return_decide(user=owner_a, ret=ret, approve=False)
    with pytest.raises(returns.ReturnDecisionFailed, match="not waiting"):
        returns.return_decide(user=owner_a, ret=done, approve=True)

    assert len(mocked.calls) == 0 and not AuditEntry.objects.exists()


# --- pages -------------------------------------------------------------------------------------


def test_the_returns_page_lists_them_in_constant_queries(owner_client, synced, shop):
    url = reverse("tiktok_shop:returns")

    def queries() -> tuple[int, str]:
        with CaptureQueriesContext(db) as captured:
            response = owner_client.get(url)
        return len(captured), response.content.decode()

    few, page = queries()
    base = ReturnRequest.objects.get(return_id=RETURN)
    for n in range(40):
        base.pk, base.return_id = None, f"40356111311023070{n:02d}"
        base.save()
    many, _ = queries()

    assert "17.90 USD" in page and "Request pending" in page and "Page 1 of 1 (3 returns)" in page
    assert few == many


def test_the_return_page_shows_the_decision_forms_and_the_audit(owner_client, synced, mocked):
    ret = ReturnRequest.objects.get(return_id=RETURN)
    AuditEntry.objects.create(
        tenant=ret.tenant,
        product="tiktok_shop",
        action="return_reject",
        object_type="return",
        object_id=RETURN,
        after={"decision": "REJECT_REFUND", "reason_text": "Signs of use"},
        outcome="failed",
        error="Invalid order status",
    )

    page = owner_client.get(reverse("tiktok_shop:return", args=[ret.pk])).content.decode()

    assert "Item arrived damaged" in page and "TSHIRT-RED-M" in page
    assert "Approve" in page and reverse("tiktok_shop:return_decide", args=[ret.pk]) in page
    assert "REJECT_REFUND" in page and "Signs of use" in page


def test_approving_from_the_page_with_htmx(owner_client, synced, mocked, owner_a):
    ret = ReturnRequest.objects.get(return_id=RETURN)
    mocked.post(
        f"{API}/return_refund/202309/returns/{RETURN}/approve",
        json=load_fixture("return_approve__success"),
    )
    mocked.post(SEARCH, json=load_fixture("returns_search__approved"))

    response = owner_client.post(
        reverse("tiktok_shop:return_decide", args=[ret.pk]),
        {"decision": "approve"},
        HTTP_HX_REQUEST="true",
    )

    html = response.content.decode()
    assert html.lstrip().startswith('<section id="return-decision"')
    assert "Return approved." in html and "Status now: Approved" in html
    assert "APPROVE_REFUND" in html and "owner@acme.example" in html


def test_the_reject_form_offers_tiktoks_reasons(owner_client, synced, mocked):
    ret = ReturnRequest.objects.get(return_id=RETURN)
    mocked.get(
        f"{API}/return_refund/202309/reject_reasons", json=load_fixture("reject_reasons__list")
    )

    html = owner_client.get(
        reverse("tiktok_shop:return_decide", args=[ret.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()

    assert '<option value="reverse_reject_request_reason_1">' in html
    assert "The item shows signs of use" in html


def test_a_member_may_look_but_not_decide(member_client, synced, mocked):
    ret = ReturnRequest.objects.get(return_id=RETURN)

    assert member_client.get(reverse("tiktok_shop:return", args=[ret.pk])).status_code == 200
    response = member_client.post(
        reverse("tiktok_shop:return_decide", args=[ret.pk]), {"decision": "approve"}
    )

    assert response.status_code == 403 and len(mocked.calls) == 0


def test_another_tenants_return_is_404(owner_client, tenant_b):
    other = TikTokShopConnection.objects.create(tenant=tenant_b, access_token="b")
    theirs = Shop.objects.create(tenant=tenant_b, connection=other, shop_id="9", cipher="c")
    now = datetime(2026, 6, 1, tzinfo=UTC)
    ret = ReturnRequest.objects.create(
        tenant=tenant_b,
        shop=theirs,
        return_id="1",
        status="RETURN_OR_REFUND_REQUEST_PENDING",
        return_type="REFUND",
        create_time=now,
        update_time=now,
        synced_at=now,
    )

    assert owner_client.get(reverse("tiktok_shop:return", args=[ret.pk])).status_code == 404
    decide = reverse("tiktok_shop:return_decide", args=[ret.pk])
    assert owner_client.post(decide, {"decision": "approve"}).status_code == 404
    assert "1</a>" not in owner_client.get(reverse("tiktok_shop:returns")).content.decode()


def test_every_page_of_a_returns_sync_costs_the_same_queries(mocked, connection, shop):
    from .test_orders_sync import hub_queries

    second = load_fixture("returns_search__page1")
    second["data"]["next_page_token"] = "bXlfc2Vjb25kX3BhZ2U="
    mocked.get(SHOPS, json=shops_answer())
    mocked.post(SEARCH, json=load_fixture("returns_search__page1"))
    mocked.post(SEARCH, json=second)  # the same two returns again: updates
    mocked.post(SEARCH, json=load_fixture("returns_search__page2"))  # one new return
    per_page: list[int] = []
    capture = CaptureQueriesContext(db)
    capture.__enter__()

    def on_page(progress):
        per_page.append(len(hub_queries(capture.captured_queries)))
        capture.initial_queries = len(db.queries_log)

    try:
        run = sync_run_for_connection_now(
            connection=connection, kind="returns", trigger="manual", on_page=on_page
        )
    finally:
        capture.__exit__(None, None, None)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert len(per_page) == 3
    # The first page also stores the shop list; then every page costs the same.
    assert per_page[1] == per_page[2], per_page
