"""Issue #6, acceptance 2 and 3 (customer service): the TikTok Shop inbox in a real browser.

Connect TikTok Shop with the Customer service pack confirmed, sync the
sandbox's conversations, open the inbox; a buyer who writes (the sandbox
pushes a signed type-14 webhook over HTTP to the live server) shows up in the
open list and in the open thread without a reload; a reply typed on the
ticket page goes through the sandbox's API and is shown delivered.

The django-q cluster does not run here: the test does the worker's jobs
itself, as the other browser tests do (the queued sync runs, the webhook
inbox drain, the queued reply), while the pages poll every 3 seconds.
"""

import pytest
from playwright.sync_api import expect

from apps.integrations.models import SyncRun
from apps.integrations.sync import sync_run_execute
from apps.leads import tasks as leads_tasks
from apps.leads.models import Message, Ticket
from apps.sandbox import generator, shop_data
from apps.sandbox import shop_ops_data as ops
from apps.webhooks.services import drain

from .test_connect_browser import sandbox_on_live_server  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)

ORDERS_PER_SHOP = 120


@pytest.fixture
def small_shops(settings):
    settings.SANDBOX_SHOP_ORDERS_PER_SHOP = ORDERS_PER_SHOP
    shop_data.shop_orders.cache_clear()


def run_queued_syncs() -> None:
    """What a qcluster worker does with the runs connecting queued."""
    runs = list(SyncRun.objects.filter(product="tiktok_shop", status=SyncRun.Status.QUEUED))
    assert runs, "nothing was queued"
    for run in sorted(runs, key=lambda r: r.pk):
        sync_run_execute(run_id=run.pk)
    done = SyncRun.objects.get(product="tiktok_shop", kind="conversations")
    assert done.status == SyncRun.Status.SUCCEEDED, done.error


def run_queued_replies() -> list[str]:
    """What the worker does with the send tasks the reply form queued."""
    pending = Message.objects.filter(delivery_state=Message.Delivery.PENDING)
    return [leads_tasks.send_reply(pk) for pk in pending.values_list("pk", flat=True)]


def buyer_writes(text: str, *, conversation: str = "") -> dict:
    """The sandbox's buyer writes; the sandbox pushes the signed webhook to the live server."""
    seller = generator.identities("tiktok_shop")[0].account_id
    shop = generator.shops(seller)[0]
    orders = shop_data.orders_for(shop, seller)
    _message, event = ops.buyer_writes(
        orders, text=text, conversation=conversation, at=shop_data.now_seconds()
    )
    answer = ops.signed_push(event)
    assert answer.status_code == 200, answer.text
    return event


def a_buyer_without_a_chat() -> str:
    seller = generator.identities("tiktok_shop")[0].account_id
    shop = generator.shops(seller)[0]
    orders = shop_data.orders_for(shop, seller)
    known = set(Ticket.objects.values_list("conversation_id", flat=True))
    return next(cid for cid in ops.buyers(orders) if cid not in known)


def test_a_buyer_message_appears_live_and_a_reply_is_delivered(
    page,
    log_in,
    owner_a,
    small_shops,
    sandbox_on_live_server,  # noqa: F811
):
    log_in("owner@acme.example")
    page.goto("/integrations/?tab=tiktok")
    card = page.locator("#card-tiktok_shop")
    card.get_by_label("Orders and their line items").check()
    card.get_by_label("Buyer conversations and replies.").check()
    card.get_by_label("I confirm access to the sensitive packs I ticked.").check()
    card.get_by_role("button", name="Connect").click()
    page.get_by_role("button", name="Authorize", exact=True).click()
    page.wait_for_url("**/integrations/?tab=tiktok")
    expect(page.get_by_text("TikTok Shop connected.")).to_be_visible()
    run_queued_syncs()
    synced = Ticket.objects.filter(channel="tiktok_shop").count()
    assert synced > 0

    # The inbox, filtered to TikTok Shop: a new buyer's first message shows without a reload.
    page.goto("/leads/?channel=tiktok_shop")
    expect(page.locator("tr.ticket-row")).to_have_count(synced)
    expect(page.locator(".inbox-notice")).to_have_count(0)
    page.evaluate("window.__stillTheSamePage = true")
    newcomer = buyer_writes("Do you ship to Lisbon?", conversation=a_buyer_without_a_chat())
    drain()
    expect(page.locator("tr.ticket-row")).to_have_count(synced + 1, timeout=10_000)
    assert page.evaluate("window.__stillTheSamePage") is True

    # Open that conversation: the thread shows the buyer's message; another one arrives live.
    ticket = Ticket.objects.get(conversation_id=newcomer["data"]["conversation_id"])
    page.locator(f"#ticket-{ticket.pk} th a").click()
    page.wait_for_url(f"**/leads/tickets/{ticket.pk}/")
    thread = page.locator("#ticket-thread")
    expect(thread).to_contain_text("Do you ship to Lisbon?")
    page.evaluate("window.__stillTheSamePage = true")
    buyer_writes("And how long does it take?", conversation=ticket.conversation_id)
    drain()
    expect(thread).to_contain_text("And how long does it take?", timeout=10_000)
    assert page.evaluate("window.__stillTheSamePage") is True

    # Reply from the hub: queued, then sent through the sandbox's API and delivered.
    page.get_by_label("Reply on TikTok Shop").fill("Yes! 3 to 5 business days to Lisbon.")
    page.get_by_role("button", name="Send reply").click()
    reply = page.locator("#ticket-thread li.msg-out").last
    expect(reply).to_contain_text("Yes! 3 to 5 business days to Lisbon.")
    expect(reply).to_contain_text("Queued")
    expect(page.get_by_label("Reply on TikTok Shop")).to_have_value("")
    assert run_queued_replies() == ["delivered"]
    reply = page.locator("#ticket-thread li.msg-out").last
    expect(reply).to_have_attribute("data-delivery", "delivered", timeout=10_000)
    expect(reply).to_contain_text("Delivered")
    stored = Message.objects.get(text="Yes! 3 to 5 business days to Lisbon.")
    assert stored.sent_by == owner_a
    assert not stored.provider_message_id.startswith("hub-")
