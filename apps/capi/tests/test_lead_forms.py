"""TikTok lead forms: the per-tenant webhook URL, the optional signature, the re-fetch, the ticket."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone

from apps.capi import services
from apps.capi.dispatch import dispatch
from apps.capi.models import ConversionEvent
from apps.leads.models import Channel, Message, Ticket, TicketTracking
from apps.sandbox import generator
from apps.sandbox.views.capi import sandbox_lead
from apps.tiktok_ads.models import TikTokAdsConnection, TikTokAdvertiser, TikTokPixel
from apps.tiktok_ads.webhooks import signature_valid
from apps.webhooks.models import WebhookEvent
from apps.webhooks.services import drain, drain_kicker

from .conftest import fixture, move

pytestmark = pytest.mark.django_db

LEAD_ID = "7301234567890123457"  # odd: the sandbox's lead carries a ttclid


@pytest.fixture(autouse=True)
def _no_drain_tasks(monkeypatch):
    monkeypatch.setattr("apps.webhooks.services._queue_drain", lambda: None)
    drain_kicker.reset()


@pytest.fixture
def advertiser_id() -> str:
    account = generator.identities("tiktok_ads")[0].account_id
    return generator.advertisers(account)[0]["advertiser_id"]


@pytest.fixture
def connected(tenant_a, tiktok_token, advertiser_id) -> TikTokAdsConnection:
    """Tenant A's TikTok Ads connection (a real sandbox token) and its advertiser."""
    connection = TikTokAdsConnection.objects.create(tenant=tenant_a, access_token=tiktok_token)
    TikTokAdvertiser.objects.create(
        tenant=tenant_a,
        connection=connection,
        advertiser_id=advertiser_id,
        name="Backpacks Official",
        synced_at=timezone.now(),
    )
    return connection


def delivery(advertiser_id: str, lead_id: str = LEAD_ID) -> bytes:
    body = fixture("lead_webhook__lead")
    body["entry"][0].update(id=lead_id, advertiser_id=advertiser_id)
    return json.dumps(body).encode()


def post(client, token: str, body: bytes, **headers):
    return client.post(
        f"/webhooks/tiktok-ads/{token}/", data=body, content_type="application/json", **headers
    )


def signature(body: bytes, *, at: int | None = None, secret: str | None = None) -> str:
    at = int(time.time()) if at is None else at
    key = (secret or settings.TIKTOK_APP_SECRET).encode()
    digest = hmac.new(key, str(at).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={at},s={digest}"


# --- the URL and the signature -------------------------------------------------------------


def test_unknown_or_missing_token_is_refused_and_nothing_stored(client, tenant_a, advertiser_id):
    services.lead_endpoint_for(tenant_a)
    body = delivery(advertiser_id)
    assert post(client, "not-a-token", body).status_code == 401
    assert (
        client.post("/webhooks/tiktok-ads/", data=body, content_type="application/json").status_code
        == 401
    )
    assert not WebhookEvent.objects.exists()


def test_a_delivery_to_the_tenants_url_is_stored_once_without_the_answers(
    client, tenant_a, advertiser_id
):
    token = services.lead_endpoint_for(tenant_a).token
    body = delivery(advertiser_id)
    assert post(client, token, body).status_code == 200
    assert post(client, token, body).status_code == 200  # TikTok delivers at least once
    event = WebhookEvent.objects.get()
    assert (event.source, event.event_id, event.event_type, event.account_ref) == (
        "tiktok-ads",
        f"lead:{LEAD_ID}",
        "lead",
        token,
    )
    assert "changes" not in event.payload
    assert "ana.silva@example.com" not in json.dumps(event.payload)


def test_a_present_signature_must_be_valid(client, tenant_a, advertiser_id):
    token = services.lead_endpoint_for(tenant_a).token
    body = delivery(advertiser_id)
    assert (
        post(client, token, body, HTTP_TIKTOK_SIGNATURE=signature(body, secret="wrong")).status_code
        == 401
    )
    stale = signature(body, at=int(time.time()) - 3600)
    assert post(client, token, body, HTTP_TIKTOK_SIGNATURE=stale).status_code == 401
    assert post(client, token, body, HTTP_TIKTOK_SIGNATURE="t=abc,s=").status_code == 401
    assert not WebhookEvent.objects.exists()
    assert post(client, token, body, HTTP_TIKTOK_SIGNATURE=signature(body)).status_code == 200
    assert WebhookEvent.objects.count() == 1


def test_signature_is_over_the_raw_body():
    body = b'{"object": 1, "entry": []}'
    header = signature(body, at=1_800_000_000)
    assert signature_valid(
        header=header, body=body, secret=settings.TIKTOK_APP_SECRET, now=1_800_000_010
    )
    assert not signature_valid(
        header=header,
        body=b'{"object":1,"entry":[]}',
        secret=settings.TIKTOK_APP_SECRET,
        now=1_800_000_010,
    )


def test_a_rotated_url_stops_working(client, tenant_a, advertiser_id):
    old = services.lead_endpoint_for(tenant_a).token
    services.lead_endpoint_rotate(tenant=tenant_a)
    assert post(client, old, delivery(advertiser_id)).status_code == 401


def test_other_objects_are_stored_and_ignored(client, tenant_a, connected):
    token = services.lead_endpoint_for(tenant_a).token
    body = json.dumps(fixture("lead_webhook__ad_review")).encode()
    assert post(client, token, body).status_code == 200
    drain()
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.IGNORED


def test_a_body_that_is_not_a_lead_delivery_is_400(client, tenant_a):
    token = services.lead_endpoint_for(tenant_a).token
    assert post(client, token, b'{"object": 1}').status_code == 400
    assert (
        post(client, token, b'{"object": 1, "entry": [{"advertiser_id": "1"}]}').status_code == 400
    )


# --- the handler -----------------------------------------------------------------------------


def test_a_lead_becomes_a_ticket_from_the_refetched_lead(
    client, tenant_a, sandbox, connected, advertiser_id, caplog
):
    token = services.lead_endpoint_for(tenant_a).token
    post(client, token, delivery(advertiser_id))
    with caplog.at_level(logging.INFO):
        assert drain().processed == 1

    fetched = sandbox_lead(advertiser_id, LEAD_ID)
    meta = fetched["meta_data"]
    ticket = Ticket.objects.get()
    assert (ticket.tenant_id, ticket.channel, ticket.account_ref) == (
        tenant_a.pk,
        Channel.TIKTOK_LEAD_FORM,
        advertiser_id,
    )
    assert ticket.contact.name == fetched["lead_data"]["name"]
    tracking = TicketTracking.objects.get(ticket=ticket)
    assert (tracking.platform, tracking.ad_id, tracking.campaign_id, tracking.adset_id) == (
        "tiktok",
        meta["ad_id"],
        meta["campaign_id"],
        meta["adgroup_id"],
    )
    assert tracking.ttclid == fetched["lead_data"]["ttclid"]
    assert tracking.enrichment_status == "completed"
    message = Message.objects.get()
    assert message.provider_message_id == LEAD_ID
    assert fetched["lead_data"]["email"] in message.text
    event = WebhookEvent.objects.get()
    assert (event.status, event.tenant_id) == (WebhookEvent.Status.PROCESSED, tenant_a.pk)
    # What the webhook said is not trusted: the lead was read again with the tenant's token.
    assert sandbox.calls("/lead/get/") == 1
    # PII is masked in the logs.
    logged = caplog.text
    assert fetched["lead_data"]["email"] not in logged
    assert fetched["lead_data"]["phone_number"] not in logged
    assert fetched["lead_data"]["name"] not in logged
    assert f"tiktok lead {LEAD_ID}" in logged


def test_the_same_lead_twice_is_one_ticket(client, tenant_a, sandbox, connected, advertiser_id):
    from apps.webhooks.services import events_replay

    token = services.lead_endpoint_for(tenant_a).token
    post(client, token, delivery(advertiser_id))
    drain()
    events_replay(WebhookEvent.objects.all())  # a replay after a fix, say
    drain()
    assert Ticket.objects.count() == 1
    assert Message.objects.count() == 1
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED


def test_a_lead_of_an_advertiser_the_tenant_has_not_connected_is_unroutable(
    client, tenant_a, sandbox, connected
):
    token = services.lead_endpoint_for(tenant_a).token
    post(client, token, delivery("7000000000000000009"))
    drain()
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.UNROUTABLE
    assert sandbox.calls("/lead/get/") == 0
    assert not Ticket.objects.exists()


def test_without_a_tiktok_connection_the_lead_waits_as_unroutable(
    client, tenant_a, sandbox, advertiser_id
):
    token = services.lead_endpoint_for(tenant_a).token
    post(client, token, delivery(advertiser_id))
    drain()
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.UNROUTABLE


def test_a_failed_refetch_is_retried_not_trusted(
    client, tenant_a, sandbox, connected, advertiser_id, monkeypatch
):
    monkeypatch.setattr(time, "sleep", lambda seconds: None)  # the client's own retries
    sandbox.inject(provider="tiktok_ads", path_contains="/lead/get/", kind="500", times=10)
    token = services.lead_endpoint_for(tenant_a).token
    post(client, token, delivery(advertiser_id))
    result = drain()
    assert result.retried == 1
    assert not Ticket.objects.exists()


# --- end to end: lead form -> ticket -> qualified -> TikTok Events API ---------------------


def test_a_lead_form_ticket_converts_through_the_tiktok_pixel(
    client, tenant_a, sandbox, connected, advertiser_id, kicks, django_capture_on_commit_callbacks
):
    """The real TikTok Ads registration: the conversion pixel chosen on the card, its token."""
    TikTokPixel.objects.create(
        tenant=tenant_a,
        connection=connected,
        advertiser_id=advertiser_id,
        pixel_id="7436427635480567890",
        pixel_code="CUIVTBIE2FSNIPZQ4IYE",
        name="Website pixel 1",
        is_conversion_pixel=True,
        synced_at=timezone.now(),
    )
    token = services.lead_endpoint_for(tenant_a).token
    post(client, token, delivery(advertiser_id))
    drain()
    ticket = Ticket.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        move(ticket, "qualified")
    with django_capture_on_commit_callbacks(execute=True):
        move(ticket, "won", value=Decimal("420.00"), currency="BRL")
    dispatch()

    sent = ConversionEvent.objects.order_by("pk")
    assert [(e.event_name, e.status) for e in sent] == [("Lead", "sent"), ("Purchase", "sent")]
    [call] = [c for c in sandbox.mock.calls if "event/track" in c.request.url]
    body = json.loads(call.request.body)
    assert body["event_source_id"] == "CUIVTBIE2FSNIPZQ4IYE"
    assert call.request.headers["Access-Token"] == connected.access_token.reveal()
    assert (
        body["data"][0]["user"]["ttclid"]
        == sandbox_lead(advertiser_id, LEAD_ID)["lead_data"]["ttclid"]
    )
