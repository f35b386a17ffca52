"""Acceptance 3: the last-touch scenario, as one test.

Click ad A opens a ticket attributed to A; a plain message changes nothing; a
click on ad B moves attribution to B with a history row A to B; enrichment of
A finishing after B leaves B intact; after the expiration window the next
message opens a new ticket.
"""

import json
from datetime import timedelta

import pytest

from apps.leads import tasks
from apps.leads.models import AttributionChange, Message, Ticket, TicketTracking
from apps.leads.services import ENRICH_TASK, message_received

from .conftest import details
from .helpers import inbound, later

pytestmark = pytest.mark.django_db

AD_A = "120212345678900123"
AD_B = "120212345678900456"
CLID_A = "ARAkTestClid_0123456789abcdefABCDEF-_xyz"
CLID_B = "ARAkOtherClid_9876543210zyxwvuZYXWVU-_abc"


def history(ticket: Ticket) -> list[tuple[str, str]]:
    return list(
        AttributionChange.objects.filter(ticket=ticket).values_list("from_ad_id", "to_ad_id")
    )


def test_last_touch_scenario(tenant_a, enricher, queued):
    click_a = inbound("whatsapp_messages__text_with_referral")
    plain = inbound("whatsapp_messages__text")
    click_b = inbound("whatsapp_messages__video_referral_other_ad")
    assert click_a.sent_at < plain.sent_at < click_b.sent_at

    # 1. Click on ad A: a ticket opens, attributed to A, enrichment of A queued.
    ticket = message_received(tenant=tenant_a, message=click_a)
    tracking = TicketTracking.objects.get(ticket=ticket)
    assert (ticket.status, ticket.stage, ticket.channel) == ("open", "new", "whatsapp")
    assert (tracking.platform, tracking.ad_id, tracking.ctwa_clid) == ("meta", AD_A, CLID_A)
    assert (tracking.source_type, tracking.media_type) == ("ad", "image")
    assert tracking.headline == "Fale com um consultor"
    assert tracking.source_url == "https://fb.me/4xYzAbCdE"
    assert tracking.enrichment_status == "pending"
    assert history(ticket) == [("", AD_A)]
    assert queued == [(ENRICH_TASK, (tracking.pk, AD_A))]

    # 2. A plain message on the same ticket changes nothing.
    assert message_received(tenant=tenant_a, message=plain).pk == ticket.pk
    unchanged = TicketTracking.objects.get(pk=tracking.pk)
    assert (unchanged.ad_id, unchanged.ctwa_clid, unchanged.headline) == (
        AD_A,
        CLID_A,
        "Fale com um consultor",
    )
    assert unchanged.attributed_at == click_a.sent_at
    assert history(ticket) == [("", AD_A)]
    assert len(queued) == 1

    # 3. Enrichment of A is asked; while the platform answers, the contact clicks ad B.
    #    B takes the attribution with a history row A -> B; A's late answer is dropped.
    def b_arrives_during_the_call():
        message_received(tenant=tenant_a, message=click_b)
        return details(AD_A, "A")

    enricher.answers[AD_A] = b_arrives_during_the_call
    enricher.answers[AD_B] = details(AD_B, "B")
    assert tasks.enrich_tracking(tracking.pk, AD_A) == "stale"

    tracking.refresh_from_db()
    assert Ticket.objects.count() == 1, "ad B landed on the same open ticket"
    assert (tracking.ad_id, tracking.ctwa_clid, tracking.media_type) == (AD_B, CLID_B, "video")
    assert tracking.campaign_name == "" and tracking.ad_name == "", "A's names never landed"
    assert tracking.enrichment_status == "pending"
    assert history(ticket) == [("", AD_A), (AD_A, AD_B)]
    change = AttributionChange.objects.get(from_ad_id=AD_A)
    assert change.message.provider_message_id == click_b.provider_message_id
    assert queued[-1] == (ENRICH_TASK, (tracking.pk, AD_B))

    # B's enrichment completes; A's task delivered again later finds B and writes nothing.
    assert tasks.enrich_tracking(tracking.pk, AD_B) == "completed"
    assert tasks.enrich_tracking(tracking.pk, AD_A) == "stale"
    tracking.refresh_from_db()
    assert (tracking.ad_id, tracking.campaign_name, tracking.adset_name, tracking.ad_name) == (
        AD_B,
        "Campaign B",
        "Ad set B",
        "Ad B",
    )
    assert (tracking.enrichment_status, tracking.enriched_ad_id) == ("completed", AD_B)
    assert enricher.calls == [(tenant_a.pk, AD_A), (tenant_a.pk, AD_B)]

    # 4. Eight days later (the default window is 7), the next message opens a new ticket.
    after_window = later(plain, timedelta(days=8), "wamid.after-the-window")
    new_ticket = message_received(tenant=tenant_a, message=after_window)
    ticket.refresh_from_db()
    assert new_ticket.pk != ticket.pk
    assert (ticket.status, new_ticket.status) == ("expired", "open")
    assert ticket.closed_at is not None
    assert new_ticket.contact_id == ticket.contact_id
    assert not TicketTracking.objects.filter(ticket=new_ticket).exists(), "a plain message: organic"
    assert TicketTracking.objects.get(ticket=ticket).ad_id == AD_B, "the old ticket keeps B"
    assert Message.objects.filter(ticket=ticket).count() == 3
    assert Message.objects.filter(ticket=new_ticket).count() == 1


# --- the same scenario through signed webhooks and the inbox drain ----------------------------


PHONE_NUMBER_ID = "109876543210987"


@pytest.fixture
def meta_webhooks(settings, client, tenant_a):
    """Signed POSTs to /webhooks/meta/ (the Meta app's source) and the number routing to tenant A."""
    from apps.meta_ads.models import WhatsAppNumber
    from apps.meta_ads.webhooks import signature_of

    settings.META_APP_SECRET = "test_app_secret"
    WhatsAppNumber.objects.create(
        tenant=tenant_a, phone_number_id=PHONE_NUMBER_ID, waba_id="104523789012345"
    )

    def post(body: bytes):
        return client.post(
            "/webhooks/meta/",
            data=body,
            content_type="application/json",
            HTTP_X_HUB_SIGNATURE_256=signature_of(body, "test_app_secret"),
        )

    return post


def fixture_bytes(name: str, *, shift: timedelta = timedelta(0), message_id: str = "") -> bytes:
    """A fixture as Meta would send it; optionally its message sent later, with another id."""
    from .helpers import FIXTURES

    raw = (FIXTURES / f"{name}.json").read_bytes()
    if not shift and not message_id:
        return raw
    payload = json.loads(raw)
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    message["timestamp"] = str(int(message["timestamp"]) + int(shift.total_seconds()))
    message["id"] = message_id or message["id"]
    return json.dumps(payload, ensure_ascii=False).encode()


def test_last_touch_scenario_through_signed_webhooks(tenant_a, enricher, queued, meta_webhooks):
    from apps.webhooks.models import WebhookEvent
    from apps.webhooks.services import drain

    def deliver(body: bytes) -> None:
        assert meta_webhooks(body).status_code == 200
        result = drain(batch_size=10)
        assert (result.processed, result.failed, result.unroutable) == (result.claimed, 0, 0)

    # 1. Click on ad A.
    deliver(fixture_bytes("whatsapp_messages__text_with_referral"))
    ticket = Ticket.objects.get()
    tracking = TicketTracking.objects.get(ticket=ticket)
    assert (ticket.tenant_id, tracking.ad_id, tracking.ctwa_clid) == (tenant_a.pk, AD_A, CLID_A)
    assert history(ticket) == [("", AD_A)]
    assert queued == [(ENRICH_TASK, (tracking.pk, AD_A))]

    # Meta redelivers the same POST: stored once, nothing changes.
    assert meta_webhooks(fixture_bytes("whatsapp_messages__text_with_referral")).status_code == 200
    assert drain().claimed == 0
    assert Message.objects.count() == 1

    # 2. A plain message changes nothing.
    deliver(fixture_bytes("whatsapp_messages__text"))
    tracking.refresh_from_db()
    assert (tracking.ad_id, tracking.ctwa_clid) == (AD_A, CLID_A)
    assert history(ticket) == [("", AD_A)] and len(queued) == 1

    # 3. A's lookup is under way when the click on ad B arrives through the inbox.
    def b_arrives_during_the_call():
        deliver(fixture_bytes("whatsapp_messages__video_referral_other_ad"))
        return details(AD_A, "A")

    enricher.answers[AD_A] = b_arrives_during_the_call
    enricher.answers[AD_B] = details(AD_B, "B")
    assert tasks.enrich_tracking(*queued[0][1]) == "stale"
    tracking.refresh_from_db()
    assert (tracking.ad_id, tracking.ctwa_clid, tracking.campaign_name) == (AD_B, CLID_B, "")
    assert history(ticket) == [("", AD_A), (AD_A, AD_B)]
    assert tasks.enrich_tracking(*queued[-1][1]) == "completed"
    tracking.refresh_from_db()
    assert (tracking.ad_id, tracking.campaign_name, tracking.ad_name) == (
        AD_B,
        "Campaign B",
        "Ad B",
    )

    # 4. Eight days after the last message, the next one opens a new ticket.
    deliver(
        fixture_bytes(
            "whatsapp_messages__text", shift=timedelta(days=8), message_id="wamid.after-window"
        )
    )
    ticket.refresh_from_db()
    assert ticket.status == "expired"
    new_ticket = Ticket.objects.get(status="open")
    assert new_ticket.contact_id == ticket.contact_id
    assert not TicketTracking.objects.filter(ticket=new_ticket).exists()
    assert set(WebhookEvent.objects.values_list("tenant_id", flat=True)) == {tenant_a.pk}
