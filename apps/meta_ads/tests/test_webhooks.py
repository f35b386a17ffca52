"""WhatsApp webhooks through the inbox: handshake, signature, split, routing, parsing."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from apps.integrations.testing import fixtures_dir
from apps.leads.inbound import InboundMessage, Referral
from apps.meta_ads.models import WhatsAppNumber
from apps.meta_ads.webhooks import signature_of, split, verify
from apps.webhooks.models import WebhookEvent
from apps.webhooks.registry import InvalidPayload
from apps.webhooks.services import drain, drain_kicker

pytestmark = pytest.mark.django_db

SECRET = "test_app_secret"
URL = "/webhooks/meta/"
PHONE_NUMBER_ID = "109876543210987"


def raw(name: str) -> bytes:
    """The fixture's exact bytes: the signature covers bytes, never re-serialised JSON."""
    return (fixtures_dir("meta_ads") / f"{name}.json").read_bytes()


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture(autouse=True)
def app_secret(settings):
    settings.META_APP_SECRET = SECRET
    settings.META_WEBHOOK_VERIFY_TOKEN = "verify-me-please"
    drain_kicker.reset()


@pytest.fixture
def post(client):
    def post(body: bytes, *, signature: str | None = "auto"):
        headers = {}
        if signature == "auto":
            headers["HTTP_X_HUB_SIGNATURE_256"] = sign(body)
        elif signature is not None:
            headers["HTTP_X_HUB_SIGNATURE_256"] = signature
        return client.post(URL, data=body, content_type="application/json", **headers)

    return post


@pytest.fixture
def number(tenant_a) -> WhatsAppNumber:
    return WhatsAppNumber.objects.create(
        tenant=tenant_a,
        phone_number_id=PHONE_NUMBER_ID,
        waba_id="104523789012345",
        display_phone_number="5511930001000",
    )


# --- handshake (contract §5.1) ------------------------------------------------------------


def test_handshake_echoes_the_challenge_for_the_right_verify_token(client):
    response = client.get(
        URL,
        {
            "hub.mode": "subscribe",
            "hub.challenge": "1158201444",
            "hub.verify_token": "verify-me-please",
        },
    )

    assert response.status_code == 200
    assert response.content == b"1158201444"
    assert response["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": "wrong"},
        {"hub.mode": "subscribe", "hub.challenge": "1158201444"},
        {"hub.mode": "unsubscribe", "hub.challenge": "1", "hub.verify_token": "verify-me-please"},
    ],
)
def test_handshake_refuses_without_the_right_token_and_does_not_echo(client, params):
    response = client.get(URL, params)

    assert response.status_code == 403
    assert b"1158201444" not in response.content


def test_an_empty_verify_token_setting_refuses_every_handshake(client, settings):
    settings.META_WEBHOOK_VERIFY_TOKEN = ""

    response = client.get(
        URL, {"hub.mode": "subscribe", "hub.challenge": "7", "hub.verify_token": ""}
    )

    assert response.status_code == 403


def test_the_sandbox_dev_default_verify_token_works(client, settings):
    from django.conf import settings as live

    assert live.INTEGRATIONS_SANDBOX
    settings.META_WEBHOOK_VERIFY_TOKEN = "sandbox-verify-token"
    response = client.get(
        URL,
        {
            "hub.mode": "subscribe",
            "hub.challenge": "42",
            "hub.verify_token": "sandbox-verify-token",
        },
    )
    assert response.content == b"42"


# --- signature (contract §5.3) ---------------------------------------------------------------


def test_signature_matches_the_contract_vector():
    body = raw("webhook_empty_entry")

    assert body == b'{"object":"whatsapp_business_account","entry":[]}'
    assert signature_of(body, SECRET) == (
        "sha256=dec6a680679a968e7e0319355b23599cbfc54502c0784668e9618baa0c633756"
    )


def test_a_valid_signature_is_stored_and_answered_200(post, number):
    response = post(raw("webhook_messages__ctwa_referral"))

    assert response.status_code == 200
    assert response.json() == {"received": 1}
    event = WebhookEvent.objects.get()
    assert event.source == "meta"
    assert event.event_id == "wamid.HBgNNTUxMTk4NzY1NDMyMRUCABIYFjNFQjBBQ0M1RjA3RTlFMkQ0QkEwAA=="
    assert event.event_type == "whatsapp.message"
    assert event.account_ref == PHONE_NUMBER_ID
    assert event.occurred_at == datetime.fromtimestamp(1795000000, tz=UTC)


@pytest.mark.parametrize(
    "signature",
    [
        None,  # missing
        "",
        "sha256=" + "0" * 64,
        sign(b"another body"),
        sign(b"x", "another_app_secret").replace("sha256=", ""),
        "sha1=" + hashlib.sha1(b"x").hexdigest(),  # noqa: S324 - the old header's algorithm
    ],
)
def test_a_wrong_or_missing_signature_gets_401_and_nothing_is_stored(post, signature):
    response = post(raw("webhook_messages__ctwa_referral"), signature=signature)

    assert response.status_code == 401
    assert not WebhookEvent.objects.exists()


def test_the_signature_covers_the_raw_bytes_not_re_serialised_json(post):
    """Non-ASCII text (accents, emoji, @) is where re-serialising breaks signatures."""
    body = raw("webhook_messages__ctwa_referral")
    reserialised = json.dumps(json.loads(body)).encode()
    assert reserialised != body

    response = post(reserialised, signature=sign(body))

    assert response.status_code == 401
    assert not WebhookEvent.objects.exists()


def test_no_app_secret_means_every_delivery_is_refused(post, settings, rf):
    body = raw("webhook_messages__ctwa_referral")
    settings.META_APP_SECRET = ""
    request = rf.post(URL, data=body, content_type="application/json")
    request.META["HTTP_X_HUB_SIGNATURE_256"] = sign(body, "")

    assert verify(request, body) is False
    assert post(body, signature=sign(body, "")).status_code == 401


def test_a_redelivery_is_stored_once(post, number):
    body = raw("webhook_messages__ctwa_referral")

    post(body)
    post(body)

    assert WebhookEvent.objects.count() == 1


# --- split -------------------------------------------------------------------------------------


def test_one_event_per_message_and_per_status_of_a_batch():
    messages = split(raw("webhook_messages__two_messages"))
    statuses = split(raw("webhook_statuses__delivered_and_read"))

    assert [(e.event_id, e.event_type) for e in messages] == [
        ("wamid.TWOMESSAGES0001", "whatsapp.message"),
        ("wamid.TWOMESSAGES0002", "whatsapp.message"),
    ]
    assert [e.payload["contact"]["profile"]["name"] for e in messages] == [
        "Ana Souza",
        "Bruno Lima",
    ]
    wamid = "wamid.HBgNNTUxMTk4NzY1NDMyMRUCABEYEjdGQUZGQjQ2N0RCQUFGQ0I4MgA="
    assert [(e.event_id, e.event_type) for e in statuses] == [
        (f"{wamid}:delivered", "whatsapp.status"),
        (f"{wamid}:read", "whatsapp.status"),
    ]
    assert {e.account_ref for e in messages + statuses} == {PHONE_NUMBER_ID}


def test_other_fields_become_events_without_a_handler_so_they_are_ignored(post):
    response = post(raw("webhook_account_update"))

    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.event_type == "whatsapp.account_update"
    result = drain(batch_size=10)
    assert result.ignored == 1
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.IGNORED


def test_an_empty_entry_list_stores_nothing_and_is_accepted(post):
    response = post(raw("webhook_empty_entry"))

    assert response.status_code == 200
    assert response.json() == {"received": 0}


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"object":"whatsapp_business_account"}',
        b'{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"type":"text"}]}}]}]}',
    ],
)
def test_a_signed_body_that_cannot_be_split_is_400(post, body):
    response = post(body)

    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()
    with pytest.raises(InvalidPayload):
        split(body)


# --- handlers: routing and parsing ----------------------------------------------------------


def test_a_click_to_whatsapp_message_reaches_leads_with_its_referral(post, number, leads_spy):
    post(raw("webhook_messages__ctwa_referral"))

    result = drain(batch_size=10)

    assert result.processed == 1
    event = WebhookEvent.objects.get()
    assert event.tenant_id == number.tenant_id
    [call] = leads_spy.messages
    assert call["tenant"] == number.tenant
    assert call["message"] == InboundMessage(
        channel="whatsapp",
        provider_message_id="wamid.HBgNNTUxMTk4NzY1NDMyMRUCABIYFjNFQjBBQ0M1RjA3RTlFMkQ0QkEwAA==",
        sent_at=datetime.fromtimestamp(1795000000, tz=UTC),
        wa_id="5511987654321",
        user_id="BR.1234567890123456789",
        contact_name="Ana Souza",
        text="Olá! Quero saber mais sobre o plano anual. 😀 @loja",
        account_ref=PHONE_NUMBER_ID,
        referral=Referral(
            ad_id="120212345678900123",
            platform="meta",
            source_type="ad",
            source_url="https://fb.me/4xYzAbCdE",
            media_type="image",
            headline="Fale com um consultor",
            body="Plano anual com 20% de desconto",
            ctwa_clid="ARAkTestClid_0123456789abcdefABCDEF-_xyz",
        ),
    )


def test_a_status_ad_referral_without_ctwa_clid_keeps_the_ad_id_and_no_clid(
    post, number, leads_spy
):
    post(raw("webhook_messages__status_ad_no_clid"))
    drain(batch_size=10)

    referral = leads_spy.messages[0]["message"].referral
    assert referral.ad_id == "120212345678903333"
    assert referral.ctwa_clid == ""  # never replaced by the ad id
    assert referral.media_type == "video"


def test_a_plain_message_has_no_referral(post, number, leads_spy):
    post(raw("webhook_messages__plain_text"))
    drain(batch_size=10)

    message = leads_spy.messages[0]["message"]
    assert message.referral is None
    assert message.text == "Qual o prazo de entrega?"
    assert message.user_id == ""


def test_a_username_adopter_is_matched_on_the_business_scoped_user_id(post, number, leads_spy):
    post(raw("webhook_messages__username_user_id_only"))
    drain(batch_size=10)

    message = leads_spy.messages[0]["message"]
    assert message.wa_id == ""
    assert message.user_id == "BR.9876543210987654321"
    assert message.contact_name == "Carla Dias"
    assert message.text == "Falar com vendas"


def test_media_messages_pass_their_caption(post, number, leads_spy):
    post(raw("webhook_messages__two_messages"))
    drain(batch_size=10)

    assert [(c["message"].wa_id, c["message"].text) for c in leads_spy.messages] == [
        ("5511987654321", "Esse modelo"),
        ("5521998877665", "Bom dia"),
    ]


def test_statuses_reach_leads_one_by_one(post, number, leads_spy):
    post(raw("webhook_statuses__delivered_and_read"))
    post(raw("webhook_statuses__failed"))
    drain(batch_size=10)

    assert [(s["status"], s["at"]) for s in leads_spy.statuses] == [
        ("delivered", datetime.fromtimestamp(1795000100, tz=UTC)),
        ("read", datetime.fromtimestamp(1795000160, tz=UTC)),
        ("failed", datetime.fromtimestamp(1795000500, tz=UTC)),
    ]
    assert {s["tenant"] for s in leads_spy.statuses} == {number.tenant}


def test_an_unregistered_number_is_kept_as_unroutable(post, leads_spy):
    post(raw("webhook_messages__ctwa_referral"))

    result = drain(batch_size=10)

    assert result.unroutable == 1
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.UNROUTABLE
    assert event.tenant_id is None
    assert PHONE_NUMBER_ID in event.last_error
    assert leads_spy.messages == []


def test_a_number_routes_to_its_own_tenant_only(post, tenant_a, tenant_b, leads_spy):
    WhatsAppNumber.objects.create(tenant=tenant_b, phone_number_id=PHONE_NUMBER_ID, waba_id="1")
    WhatsAppNumber.objects.create(tenant=tenant_a, phone_number_id="200000000000002", waba_id="2")

    post(raw("webhook_messages__plain_text"))
    drain(batch_size=10)

    assert [c["tenant"] for c in leads_spy.messages] == [tenant_b]
    assert WebhookEvent.objects.get().tenant_id == tenant_b.pk


def test_the_webhook_url_is_the_inbox_route():
    assert reverse("webhooks:receive", args=["meta"]) == URL


def test_end_to_end_a_click_lands_on_a_ticket_of_the_leads_app(post, number):
    """No spy: the real leads services take the message and its referral."""
    from apps.leads.models import TicketTracking

    post(raw("webhook_messages__ctwa_referral"))
    result = drain(batch_size=10)

    assert result.processed == 1, WebhookEvent.objects.get().last_error
    tracking = TicketTracking.objects.for_tenant(number.tenant).get()
    assert (tracking.ad_id, tracking.ctwa_clid) == (
        "120212345678900123",
        "ARAkTestClid_0123456789abcdefABCDEF-_xyz",
    )


def test_a_message_without_a_readable_timestamp_is_dated_on_receipt(post, number, leads_spy):
    body = raw("webhook_messages__plain_text").replace(b'"1795003600"', b'"soon"')
    post(body)

    result = drain(batch_size=10)

    assert result.processed == 1
    event = WebhookEvent.objects.get()
    assert leads_spy.messages[0]["message"].sent_at == event.received_at
