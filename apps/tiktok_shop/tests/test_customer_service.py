"""TikTok Shop customer service: client calls, the conversations sync, webhooks 13/14, replies.

TikTok is mocked with ``responses`` and real-shaped fixtures (contract §3.6
"Customer service inbox", §3.5 types 13 and 14); the sandbox run is in
``test_customer_service_sandbox.py``.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.conf import settings
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext

from apps.integrations.http import PermissionDenied, ProviderError
from apps.integrations.models import SyncRun
from apps.integrations.sync import sync_run_for_connection_now
from apps.integrations.testing import load_fixture as shared_load_fixture
from apps.leads.models import Contact, Message, Ticket
from apps.leads.replies import reply_create, reply_deliver
from apps.tiktok_shop import customer_service
from apps.tiktok_shop.client import QuotaExhausted, TikTokShopClient
from apps.tiktok_shop.models import Shop, TikTokShopConnection
from apps.tiktok_shop.signing import sign, webhook_signature
from apps.webhooks.models import WebhookEvent
from apps.webhooks.services import drain

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shop_settings")]

API = "https://open-api.tiktokglobalshop.com"
AUTH = "https://auth.tiktok-shops.com"
APP_KEY = "6abcd1234efgh"
APP_SECRET = "test-shop-app-secret-0123456789"
TOKEN = "ROW_scrubbed_access_token_in_tests_0000000000000"
CIPHER_US = "ROW_scrubbedCipherUS0000000000000"
CIPHER_GB = "GCP_scrubbedCipherGB0000000000000"
SHOP_US = "7000714532876273420"
SHOP_GB = "7000714532876273421"
CONVERSATIONS = f"{API}/customer_service/202309/conversations"
ALBERT_CONVERSATION = "7494560109732334261"
BEA_CONVERSATION = "7494560109732335555"


def messages_url(conversation_id: str) -> str:
    return f"{CONVERSATIONS}/{conversation_id}/messages"


def load_fixture(name: str) -> dict:
    return shared_load_fixture("tiktok_shop", name)


SHOPS = ((SHOP_US, CIPHER_US, "US"), (SHOP_GB, CIPHER_GB, "UK"))


def make_connection(tenant, *, packs=("shop_orders", "shop_chat"), scopes=None, shops=SHOPS):
    if scopes is None:
        scopes = ["seller.authorization.info", "seller.order.info", "seller.customer_service"]
    connection = TikTokShopConnection.objects.create(
        tenant=tenant,
        access_token=TOKEN,
        access_expires_at=datetime.now(UTC) + timedelta(days=7),
        scope_packs=list(packs),
        granted_scopes=scopes,
        external_user_id="seller-1",
    )
    for shop_id, cipher, name in shops:
        Shop.objects.create(
            tenant=tenant, connection=connection, shop_id=shop_id, cipher=cipher, name=name
        )
    return connection


@pytest.fixture
def cs_connection(tenant_a):
    return make_connection(tenant_a)


def by_cipher(cipher: str, page_token: str = ""):
    """Match one shop's page: its cipher, and this page token (none for the first page)."""

    def match(request):
        query = query_of(request.url)
        found = (query.get("shop_cipher"), query.get("page_token", ""))
        return found == (cipher, page_token), f"{found} is not {(cipher, page_token)}"

    return [match]


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def empty_conversations() -> dict:
    body = copy.deepcopy(load_fixture("conversations__page2"))
    body["data"]["conversations"] = []
    return body


def mock_world(mocked, *, conversations=None, messages=None):
    """Shops, the US shop's two conversation pages, an empty UK shop, and the messages."""
    mocked.get(
        f"{API}/authorization/202309/shops", json=load_fixture("authorization_shops__two_shops")
    )
    first = conversations or load_fixture("conversations__page1")
    mocked.get(CONVERSATIONS, json=first, match=by_cipher(CIPHER_US))
    mocked.get(
        CONVERSATIONS,
        json=load_fixture("conversations__page2"),
        match=by_cipher(CIPHER_US, page_token="MTc2Mzg2MDAwMC8rMg=="),
    )
    mocked.get(CONVERSATIONS, json=empty_conversations(), match=by_cipher(CIPHER_GB))
    for conversation_id, body in (messages or {}).items():
        mocked.get(messages_url(conversation_id), json=body)


def sync(connection) -> SyncRun:
    return sync_run_for_connection_now(
        connection=connection, kind="conversations", trigger=SyncRun.Trigger.MANUAL
    )


def signed_post(client, body: bytes):
    signature = webhook_signature(
        app_key=settings.TIKTOK_SHOP_APP_KEY,
        app_secret=settings.TIKTOK_SHOP_APP_SECRET,
        raw_body=body,
    )
    return client.post(
        "/webhooks/tiktok-shop/",
        data=body,
        content_type="application/json",
        HTTP_AUTHORIZATION=signature,
    )


def push(name: str, shop_id: str = SHOP_US, **data) -> bytes:
    body = load_fixture(name)
    body["shop_id"] = shop_id
    body["data"].update(data)
    return json.dumps(body).encode()


def make_client() -> TikTokShopClient:
    client = TikTokShopClient(access_token=TOKEN)
    client._sleep = lambda seconds: None
    return client


# --- the client ------------------------------------------------------------------------------


def test_conversations_is_a_signed_get_with_the_shops_cipher_and_paging(mocked):
    mocked.get(CONVERSATIONS, json=load_fixture("conversations__page1"))

    data = make_client().conversations(shop_cipher=CIPHER_US, page_token="a/b+c")

    assert [c["id"] for c in data["conversations"]] == [ALBERT_CONVERSATION, BEA_CONVERSATION]
    assert data["next_page_token"] == "MTc2Mzg2MDAwMC8rMg=="
    request = mocked.calls[0].request
    query = query_of(request.url)
    assert query["shop_cipher"] == CIPHER_US
    assert query["page_size"] == "20"
    assert query["page_token"] == "a/b+c"
    assert "a%2Fb%2Bc" in request.url
    unsigned = {k: v for k, v in query.items() if k != "sign"}
    assert query["sign"] == sign(
        path="/customer_service/202309/conversations",
        params=unsigned,
        body=None,
        app_secret=APP_SECRET,
        content_type="application/json",
    )
    assert request.headers["x-tts-access-token"] == TOKEN


def test_page_sizes_above_the_contracts_limits_are_refused():
    client = make_client()
    with pytest.raises(ValueError):
        client.conversations(shop_cipher=CIPHER_US, page_size=21)
    with pytest.raises(ValueError):
        client.conversation_messages(shop_cipher=CIPHER_US, conversation_id="1", page_size=11)


def test_messages_are_asked_newest_first_by_create_time(mocked):
    mocked.get(messages_url(ALBERT_CONVERSATION), json=load_fixture("conversation_messages__page1"))

    data = make_client().conversation_messages(
        shop_cipher=CIPHER_US, conversation_id=ALBERT_CONVERSATION
    )

    assert len(data["messages"]) == 4
    query = query_of(mocked.calls[0].request.url)
    assert (query["sort_field"], query["sort_order"], query["page_size"]) == (
        "create_time",
        "DESC",
        "10",
    )


def test_a_reply_posts_type_and_content_as_a_json_string(mocked):
    mocked.post(messages_url(ALBERT_CONVERSATION), json=load_fixture("message_send__success"))

    message_id = make_client().message_send(
        shop_cipher=CIPHER_US, conversation_id=ALBERT_CONVERSATION, text='Yes, "blue" ships today'
    )

    assert message_id == "7494560109732334299"
    request = mocked.calls[0].request
    body = json.loads(request.body)
    assert body["type"] == "TEXT"
    assert isinstance(body["content"], str)
    assert json.loads(body["content"]) == {"content": 'Yes, "blue" ships today'}
    query = query_of(request.url)
    unsigned = {k: v for k, v in query.items() if k != "sign"}
    assert query["sign"] == sign(
        path=f"/customer_service/202309/conversations/{ALBERT_CONVERSATION}/messages",
        params=unsigned,
        body=request.body,
        app_secret=APP_SECRET,
        content_type="application/json",
    )


def test_a_reply_is_never_sent_twice_even_after_a_tiktok_side_failure(mocked):
    mocked.post(
        messages_url(ALBERT_CONVERSATION), json=load_fixture("message_send__internal_error")
    )

    with pytest.raises(ProviderError) as caught:
        make_client().message_send(
            shop_cipher=CIPHER_US, conversation_id=ALBERT_CONVERSATION, text="hi"
        )

    assert caught.value.code == "36009003"
    assert len(mocked.calls) == 1


def test_the_daily_quota_and_a_missing_scope_are_typed_and_not_retried(mocked):
    mocked.get(CONVERSATIONS, json=load_fixture("conversations__quota_exceeded"))
    with pytest.raises(QuotaExhausted) as quota:
        make_client().conversations(shop_cipher=CIPHER_US)
    assert quota.value.transient is False
    assert quota.value.request_id == "20251123040400010189081028CS0007"
    assert len(mocked.calls) == 1

    mocked.replace(responses.GET, CONVERSATIONS, json=load_fixture("conversations__scope_missing"))
    with pytest.raises(PermissionDenied):
        make_client().conversations(shop_cipher=CIPHER_US)
    assert len(mocked.calls) == 2


# --- reading messages -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message_type", "content", "expected"),
    [
        ("TEXT", '{"content": "Is the blue one in stock?"}', "Is the blue one in stock?"),
        ("TEXT", '{"content": ""}', ""),
        ("IMAGE", '{"url": "https://example.com/a.jpg", "width": 10, "height": 10}', "[Image]"),
        (
            "PRODUCT_CARD",
            '{"product_id": "1729587769570038888"}',
            "[Product card] 1729587769570038888",
        ),
        ("ORDER_CARD", '{"order_id": "576653688135258178"}', "[Order card] 576653688135258178"),
        ("COUPON_CARD", "{}", "[Coupon card]"),
        ("EMOTICONS", '{"url": "x"}', "[Sticker]"),
        ("VIDEO", "not json", "[Video]"),
        ("SOMETHING_NEW", "{}", "[A message the hub cannot show: see Seller Center]"),
    ],
)
def test_message_text_reads_the_json_string_per_type(message_type, content, expected):
    assert customer_service.message_text(message_type, content) == expected


def test_buyer_messages_are_inbound_shop_messages_outbound_and_hidden_ones_left_out():
    raw = load_fixture("conversation_messages__page1")["data"]["messages"]
    read = [customer_service.message_of(m) for m in raw]
    assert [(m.provider_message_id, m.direction) for m in read if m] == [
        ("7494560109732334263", "in"),
        ("7494560109732334262", "out"),
        ("7494560109732334261", "in"),
    ]
    assert read[3] is None  # is_visible: false
    assert read[0].sent_at == datetime.fromtimestamp(1763870400, tz=UTC)


# --- the sync ---------------------------------------------------------------------------------


def test_the_sync_makes_one_ticket_per_conversation_with_its_buyer_and_messages(
    cs_connection, mocked, tenant_a
):
    mock_world(
        mocked,
        messages={
            ALBERT_CONVERSATION: load_fixture("conversation_messages__page1"),
            BEA_CONVERSATION: load_fixture("conversation_messages__product_card"),
        },
    )

    run = sync(cs_connection)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.stats["fetched"] == 3
    assert run.stats["created"] == 2
    assert run.stats["skipped"] == 1  # the conversation without a BUYER participant
    albert = Ticket.objects.get(conversation_id=ALBERT_CONVERSATION)
    assert albert.tenant == tenant_a
    assert albert.channel == "tiktok_shop"
    assert albert.account_ref == SHOP_US
    assert albert.status == "open" and albert.stage == "new"
    assert albert.contact.user_id == "tiktok_shop:7494560109732330001"
    assert albert.contact.name == "Albert"
    assert albert.opened_at == datetime.fromtimestamp(1763870000, tz=UTC)
    assert albert.last_message_at == datetime.fromtimestamp(1763870400, tz=UTC)
    assert [(m.direction, m.text, m.delivery_state) for m in albert.messages.all()] == [
        ("in", "[Order card] 576653688135258178", "received"),
        ("out", "Hello Albert, how can we help?", "delivered"),
        ("in", "Is the blue one in stock?", "received"),
    ]
    bea = Ticket.objects.get(conversation_id=BEA_CONVERSATION)
    assert [m.text for m in bea.messages.all()] == ["[Product card] 1729587769570038888"]
    # The UK shop was asked with its own cipher.
    gb_calls = [c for c in mocked.calls if query_of(c.request.url).get("shop_cipher") == CIPHER_GB]
    assert len(gb_calls) == 1


def test_a_rerun_asks_no_messages_of_quiet_conversations_and_duplicates_nothing(
    cs_connection, mocked
):
    mock_world(
        mocked,
        messages={
            ALBERT_CONVERSATION: load_fixture("conversation_messages__page1"),
            BEA_CONVERSATION: load_fixture("conversation_messages__product_card"),
        },
    )
    sync(cs_connection)
    message_calls = lambda: [c for c in mocked.calls if "/messages" in c.request.url]  # noqa: E731
    asked = len(message_calls())

    again = sync(cs_connection)

    assert again.status == SyncRun.Status.SUCCEEDED, again.error
    assert again.stats["created"] == 0 and again.stats["updated"] == 2
    assert len(message_calls()) == asked  # nothing new since the last full read
    assert Ticket.objects.count() == 2
    assert Message.objects.count() == 4


def _many_conversations(count: int) -> tuple[dict, dict]:
    template = load_fixture("conversations__page1")["data"]["conversations"][0]
    messages = load_fixture("conversation_messages__page1")
    conversations, bodies = [], {}
    for n in range(count):
        item = copy.deepcopy(template)
        item["id"] = f"88{n:08d}"
        buyer = f"77{n:08d}"
        item["participants"][0]["im_user_id"] = buyer
        item["latest_message"]["sender"]["im_user_id"] = buyer
        conversations.append(item)
        body = copy.deepcopy(messages)
        for m, raw in enumerate(body["data"]["messages"]):
            raw["id"] = f"66{n:06d}{m:02d}"
        bodies[item["id"]] = body
    page = load_fixture("conversations__page1")
    page["data"]["conversations"] = conversations
    page["data"]["next_page_token"] = ""
    return page, bodies


def _queries_of_a_sync(tenant, count: int) -> int:
    connection = make_connection(tenant)
    page, bodies = _many_conversations(count)
    with responses.RequestsMock() as rsps:
        rsps.get(
            f"{API}/authorization/202309/shops",
            json=load_fixture("authorization_shops__two_shops"),
        )
        rsps.get(CONVERSATIONS, json=page, match=by_cipher(CIPHER_US))
        rsps.get(CONVERSATIONS, json=empty_conversations(), match=by_cipher(CIPHER_GB))
        for conversation_id, body in bodies.items():
            rsps.get(messages_url(conversation_id), json=body)
        with CaptureQueriesContext(db_connection) as queries:
            run = sync(connection)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert Message.objects.filter(tenant=tenant).count() == 3 * count
    # Each API call also writes a call-log row and asks the rate budget (the cache):
    # those grow with the calls, by design. What the page itself costs must not.
    return len(
        [
            q
            for q in queries.captured_queries
            if "hub_cache" not in q["sql"]
            and "integrations_apicalllog" not in q["sql"]
            and "SAVEPOINT" not in q["sql"]
        ]
    )


def test_a_page_costs_the_same_queries_with_two_or_twenty_conversations(make_tenant):
    few = _queries_of_a_sync(make_tenant(), 2)
    many = _queries_of_a_sync(make_tenant(), 20)
    assert few == many


def test_without_the_confirmed_pack_the_sync_calls_nothing(tenant_a, mocked):
    connection = make_connection(tenant_a, packs=("shop_orders",))

    run = sync(connection)

    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.stats["fetched"] == 0
    assert len(mocked.calls) == 0
    assert not Ticket.objects.exists()


def test_a_pack_confirmed_but_a_scope_tiktok_did_not_grant_calls_nothing(tenant_a, mocked):
    connection = make_connection(tenant_a, scopes=["seller.authorization.info"])
    assert customer_service.enabled(connection) is False
    assert sync(connection).stats["fetched"] == 0
    assert len(mocked.calls) == 0


# --- webhooks ---------------------------------------------------------------------------------


def test_a_new_message_push_lands_on_its_ticket_through_the_webhook_endpoint(
    client, cs_connection, mocked
):
    mock_world(
        mocked,
        messages={
            ALBERT_CONVERSATION: load_fixture("conversation_messages__page1"),
            BEA_CONVERSATION: load_fixture("conversation_messages__product_card"),
        },
    )
    sync(cs_connection)
    calls = len(mocked.calls)
    body = push("webhook__new_message")

    assert signed_post(client, body).status_code == 200
    assert signed_post(client, body).status_code == 200  # TikTok's retry
    drain()

    event = WebhookEvent.objects.get()
    assert (event.event_type, event.status) == ("NEW_MESSAGE", "processed")
    ticket = Ticket.objects.get(conversation_id=ALBERT_CONVERSATION)
    newest = ticket.messages.order_by("-sent_at").first()
    assert (newest.provider_message_id, newest.text, newest.direction) == (
        "7494560109732334270",
        "Can you ship today?",
        "in",
    )
    assert ticket.last_message_at == datetime.fromtimestamp(1763870500, tz=UTC)
    assert ticket.messages.count() == 4
    assert len(mocked.calls) == calls  # a known conversation costs no API call


def test_a_message_for_an_unknown_conversation_finds_it_in_the_list(client, cs_connection, mocked):
    mocked.get(CONVERSATIONS, json=load_fixture("conversations__page1"), match=by_cipher(CIPHER_US))

    signed_post(client, push("webhook__new_message"))
    drain()

    ticket = Ticket.objects.get(conversation_id=ALBERT_CONVERSATION)
    assert ticket.contact.name == "Albert"
    assert ticket.account_ref == SHOP_US
    assert [m.text for m in ticket.messages.all()] == ["Can you ship today?"]
    assert ticket.messages_synced_until is None  # the history is left to the next sync


def test_a_message_of_a_conversation_not_listed_yet_opens_a_ticket_for_its_buyer(
    client, cs_connection, mocked
):
    mocked.get(CONVERSATIONS, json=empty_conversations(), match=by_cipher(CIPHER_US))

    signed_post(client, push("webhook__new_message", conversation_id="5550001"))
    drain()

    ticket = Ticket.objects.get(conversation_id="5550001")
    assert ticket.contact.user_id == "tiktok_shop:7494560109732330001"
    assert ticket.messages.get().text == "Can you ship today?"


def test_a_new_conversation_push_refreshes_it_from_the_list(client, cs_connection, mocked):
    mocked.get(CONVERSATIONS, json=load_fixture("conversations__page1"), match=by_cipher(CIPHER_US))

    signed_post(client, push("webhook__new_conversation"))
    drain()

    assert WebhookEvent.objects.get().status == "processed"
    ticket = Ticket.objects.get(conversation_id=ALBERT_CONVERSATION)
    assert ticket.contact.name == "Albert"
    assert ticket.messages.count() == 0


def test_without_the_pack_a_message_push_records_nothing_and_calls_nothing(
    client, tenant_a, mocked
):
    make_connection(tenant_a, packs=("shop_orders",))

    signed_post(client, push("webhook__new_message"))
    drain()

    assert WebhookEvent.objects.get().status == "processed"
    assert not Message.objects.exists()
    assert len(mocked.calls) == 0


def test_a_push_goes_to_the_tenant_that_connected_the_shop_only(
    client, cs_connection, make_tenant, mocked
):
    other = make_tenant()
    make_connection(other, shops=(("999", "ROW_otherCipher", "Other"),))
    mocked.get(CONVERSATIONS, json=load_fixture("conversations__page1"), match=by_cipher(CIPHER_US))

    signed_post(client, push("webhook__new_message"))
    drain()

    assert Ticket.objects.get().tenant_id == cs_connection.tenant_id
    assert not Contact.objects.filter(tenant=other).exists()


# --- replies ----------------------------------------------------------------------------------


@pytest.fixture
def albert_ticket(cs_connection, mocked):
    mock_world(
        mocked,
        messages={
            ALBERT_CONVERSATION: load_fixture("conversation_messages__page1"),
            BEA_CONVERSATION: load_fixture("conversation_messages__product_card"),
        },
    )
    sync(cs_connection)
    return Ticket.objects.get(conversation_id=ALBERT_CONVERSATION)


def test_a_reply_is_queued_sent_through_the_api_and_delivered_when_echoed(
    client, member_client, member_a, albert_ticket, mocked, django_capture_on_commit_callbacks
):
    mocked.post(messages_url(ALBERT_CONVERSATION), json=load_fixture("message_send__success"))
    url = f"/leads/tickets/{albert_ticket.pk}/reply/"

    with django_capture_on_commit_callbacks() as callbacks:
        response = member_client.post(url, {"text": "Yes, it ships today."}, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    reply = albert_ticket.messages.get(direction="out", sent_by=member_a)
    assert reply.delivery_state == "pending"
    assert reply.provider_message_id.startswith("hub-")
    assert len(callbacks) == 1  # the send task, queued after commit
    page = response.content.decode()
    assert "Yes, it ships today." in page and "Queued" in page

    assert reply_deliver(message_id=reply.pk) == "sent"
    reply.refresh_from_db()
    assert (reply.delivery_state, reply.provider_message_id) == ("sent", "7494560109732334299")
    post = next(c.request for c in mocked.calls if c.request.method == "POST")
    sent = json.loads(post.body)
    assert json.loads(sent["content"]) == {"content": "Yes, it ships today."}
    assert reply_deliver(message_id=reply.pk) == "sent"  # a second task sends nothing
    assert len([c for c in mocked.calls if c.request.method == "POST"]) == 1

    # TikTok pushes the shop's own message back: the reply is delivered, not duplicated.
    echo = push(
        "webhook__new_message",
        message_id="7494560109732334299",
        content='{"content":"Yes, it ships today."}',
        sender={"im_user_id": "7494560109732338888", "role": "SHOP"},
        create_time=1763870600,
    )
    signed_post(client, echo)
    drain()
    reply.refresh_from_db()
    assert reply.delivery_state == "delivered"
    assert albert_ticket.messages.filter(provider_message_id="7494560109732334299").count() == 1
    thread = member_client.get(f"/leads/tickets/{albert_ticket.pk}/messages/").content.decode()
    assert 'data-delivery="delivered"' in thread


def test_an_echo_recorded_before_the_send_finished_gives_way_to_the_reply(
    client, member_a, albert_ticket, mocked
):
    mocked.post(messages_url(ALBERT_CONVERSATION), json=load_fixture("message_send__success"))
    reply = reply_create(ticket=albert_ticket, user=member_a, text="On its way")
    echo = push(
        "webhook__new_message",
        message_id="7494560109732334299",
        sender={"im_user_id": "7494560109732338888", "role": "SHOP"},
    )
    signed_post(client, echo)
    drain()

    assert reply_deliver(message_id=reply.pk) == "delivered"

    rows = albert_ticket.messages.filter(provider_message_id="7494560109732334299")
    assert [(r.pk, r.delivery_state) for r in rows] == [(reply.pk, "delivered")]


def test_a_refused_reply_is_failed_with_tiktoks_reason_and_not_sent_again(
    member_a, albert_ticket, mocked
):
    mocked.post(
        messages_url(ALBERT_CONVERSATION), json=load_fixture("message_send__internal_error")
    )
    reply = reply_create(ticket=albert_ticket, user=member_a, text="Hello?")

    assert reply_deliver(message_id=reply.pk) == "failed"

    reply.refresh_from_db()
    assert reply.delivery_state == "failed"
    assert "Internal error" in reply.delivery_error
    assert TOKEN not in reply.delivery_error
    assert len([c for c in mocked.calls if c.request.method == "POST"]) == 1


def test_without_the_pack_a_reply_is_refused_without_a_call(member_a, albert_ticket, mocked):
    TikTokShopConnection.objects.update(scope_packs=["shop_orders"])
    reply = reply_create(ticket=albert_ticket, user=member_a, text="Hello?")
    posts = len([c for c in mocked.calls if c.request.method == "POST"])

    assert reply_deliver(message_id=reply.pk) == "failed"

    reply.refresh_from_db()
    assert "Customer service pack" in reply.delivery_error
    assert len([c for c in mocked.calls if c.request.method == "POST"]) == posts


# --- the inbox --------------------------------------------------------------------------------


def test_without_the_pack_the_inbox_says_why_and_links_to_the_card(tenant_a, member_client):
    make_connection(tenant_a, packs=("shop_orders",))

    for url in ("/leads/", "/leads/?channel=tiktok_shop"):
        page = member_client.get(url).content.decode()
        assert "the Customer service pack gives access to buyers" in page
        assert "/integrations/?tab=tiktok#card-tiktok_shop" in page
    assert (
        "Customer service pack"
        not in member_client.get("/leads/?channel=whatsapp").content.decode()
    )


def test_with_the_pack_confirmed_the_inbox_has_no_notice(cs_connection, member_client):
    for url in ("/leads/", "/leads/?channel=tiktok_shop"):
        response = member_client.get(url)
        assert response.status_code == 200
        page = response.content.decode()
        assert 'id="filter-channel"' in page  # the inbox itself, not an error page
        assert "Customer service pack" not in page


def test_a_reply_tiktok_lists_right_away_is_delivered_at_once(member_a, albert_ticket, mocked):
    mocked.post(messages_url(ALBERT_CONVERSATION), json=load_fixture("message_send__success"))
    listed = load_fixture("conversation_messages__page1")
    listed["data"]["messages"].insert(
        0,
        {
            **listed["data"]["messages"][1],
            "id": "7494560109732334299",
            "content": '{"content": "Shipped!"}',
            "create_time": 1763870700,
        },
    )
    mocked.replace(responses.GET, messages_url(ALBERT_CONVERSATION), json=listed)
    reply = reply_create(ticket=albert_ticket, user=member_a, text="Shipped!")

    assert reply_deliver(message_id=reply.pk) == "delivered"

    reply.refresh_from_db()
    assert (reply.provider_message_id, reply.delivery_state) == ("7494560109732334299", "delivered")
    read_back = mocked.calls[-1].request
    assert read_back.method == "GET" and query_of(read_back.url)["sort_order"] == "DESC"
