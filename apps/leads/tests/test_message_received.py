"""message_received: dedupe, contacts, tickets and expiry, last-touch attribution."""

import logging
from dataclasses import replace
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.leads.inbound import InboundMessage, Referral
from apps.leads.models import (
    AttributionChange,
    Contact,
    LeadSettings,
    Message,
    Ticket,
    TicketTracking,
)
from apps.leads.services import ENRICH_TASK, contact_match, message_received

from .helpers import inbound, inbound_messages, later, load_fixture

pytestmark = pytest.mark.django_db

AD_A = "120212345678900123"


def test_a_redelivered_message_is_recorded_once(tenant_a, queued):
    message = inbound("whatsapp_messages__text_with_referral")

    first = message_received(tenant=tenant_a, message=message)
    again = message_received(tenant=tenant_a, message=message)

    assert again.pk == first.pk
    assert Message.objects.count() == 1
    assert AttributionChange.objects.count() == 1
    assert len(queued) == 1, "a redelivery queues no second enrichment"


def test_the_same_message_id_in_two_tenants_is_two_messages(tenant_a, tenant_b, queued):
    message = inbound("whatsapp_messages__text")

    a = message_received(tenant=tenant_a, message=message)
    b = message_received(tenant=tenant_b, message=message)

    assert a.tenant_id != b.tenant_id
    assert Contact.objects.count() == 2
    assert Message.objects.count() == 2


def test_the_first_message_opens_a_ticket_with_its_contact(tenant_a, queued):
    message = inbound("whatsapp_messages__text")

    ticket = message_received(tenant=tenant_a, message=message)

    contact = ticket.contact
    assert (contact.wa_id, contact.user_id, contact.name) == (
        "5511987654321",
        "BR.1234567890123456789",
        "Ana Souza",
    )
    assert ticket.account_ref == "109876543210987"
    assert ticket.opened_at == ticket.last_message_at == message.sent_at
    row = Message.objects.get()
    assert (row.direction, row.delivery_state, row.text) == (
        "in",
        "received",
        "Pode me mandar o preço com desconto?",
    )
    assert row.referral == {}
    assert queued == [], "no referral: nothing to enrich"


def test_a_contact_with_only_a_user_id_is_matched_and_later_gets_its_wa_id(tenant_a, queued):
    bsuid_only = inbound("whatsapp_messages__bsuid_only")
    assert bsuid_only.wa_id == ""
    first = message_received(tenant=tenant_a, message=bsuid_only)
    assert (first.contact.wa_id, first.contact.user_id) == ("", "BR.1234567890123456789")

    second = message_received(tenant=tenant_a, message=inbound("whatsapp_messages__text"))

    assert second.pk == first.pk
    contact = Contact.objects.get()
    assert (contact.wa_id, contact.user_id, contact.name) == (
        "5511987654321",
        "BR.1234567890123456789",
        "Ana Souza",
    )


def test_a_contact_known_by_wa_id_is_matched_when_the_payload_adds_a_user_id(tenant_a, queued):
    plain = inbound("whatsapp_messages__text", user_id="")
    first = message_received(tenant=tenant_a, message=plain)

    second = message_received(
        tenant=tenant_a,
        message=later(inbound("whatsapp_messages__text"), timedelta(minutes=1), "wamid.2"),
    )

    assert second.pk == first.pk
    assert Contact.objects.get().user_id == "BR.1234567890123456789"


def test_when_the_two_ids_match_two_contacts_the_user_id_wins_and_nothing_is_merged(tenant_a):
    by_phone = Contact.objects.create(tenant=tenant_a, wa_id="5511987654321")
    by_user = Contact.objects.create(tenant=tenant_a, user_id="BR.1")

    found = contact_match(tenant=tenant_a, wa_id="5511987654321", user_id="BR.1")

    assert found.pk == by_user.pk
    by_phone.refresh_from_db()
    by_user.refresh_from_db()
    assert (by_phone.wa_id, by_phone.user_id) == ("5511987654321", "")
    assert (by_user.wa_id, by_user.user_id) == ("", "BR.1")


def test_a_message_needs_an_id_and_a_sender(tenant_a):
    message = inbound("whatsapp_messages__text")
    with pytest.raises(ValueError):
        message_received(tenant=tenant_a, message=replace(message, wa_id="", user_id=""))
    with pytest.raises(ValueError):
        message_received(tenant=tenant_a, message=replace(message, provider_message_id=""))
    with pytest.raises(ValueError):
        message_received(tenant=tenant_a, message=replace(message, channel="sms"))
    assert not Ticket.objects.exists()


def test_expiration_follows_the_tenants_setting(tenant_a, queued):
    LeadSettings.objects.create(tenant=tenant_a, ticket_expiration_days=2)
    first = inbound("whatsapp_messages__text")
    ticket = message_received(tenant=tenant_a, message=first)

    within = message_received(
        tenant=tenant_a, message=later(first, timedelta(days=2), "wamid.within")
    )
    assert within.pk == ticket.pk, "exactly the window is not older than it"

    after = message_received(
        tenant=tenant_a, message=later(first, timedelta(days=4, seconds=1), "wamid.after")
    )
    assert after.pk != ticket.pk
    ticket.refresh_from_db()
    assert ticket.status == "expired"


def test_a_late_older_message_does_not_move_last_message_at_back(tenant_a, queued):
    first = inbound("whatsapp_messages__text")
    ticket = message_received(tenant=tenant_a, message=first)
    older = later(first, -timedelta(hours=1), "wamid.older")

    message_received(tenant=tenant_a, message=older)

    ticket.refresh_from_db()
    assert ticket.last_message_at == first.sent_at
    assert Message.objects.filter(ticket=ticket).count() == 2


def test_a_status_ad_without_ctwa_clid_still_attributes_by_ad_id(tenant_a, queued):
    message = inbound("whatsapp_messages__status_ad_referral_without_ctwa_clid")

    ticket = message_received(tenant=tenant_a, message=message)

    tracking = TicketTracking.objects.get(ticket=ticket)
    assert (tracking.ad_id, tracking.ctwa_clid) == ("120212345678900789", "")
    assert not tracking.has_click_id
    assert queued == [(ENRICH_TASK, (tracking.pk, "120212345678900789"))]


def test_a_new_click_on_another_ad_without_clid_clears_the_old_click_id(tenant_a, queued):
    click_a = inbound("whatsapp_messages__text_with_referral")
    ticket = message_received(tenant=tenant_a, message=click_a)
    status_ad = later(click_a, timedelta(minutes=5), "wamid.status-ad")
    status_ad = replace(status_ad, referral=Referral(ad_id="999", source_type="ad"))

    message_received(tenant=tenant_a, message=status_ad)

    tracking = TicketTracking.objects.get(ticket=ticket)
    assert (tracking.ad_id, tracking.ctwa_clid) == ("999", ""), "the click id belongs to A's touch"


def test_clicking_the_same_ad_again_refreshes_the_touch_without_history_or_lookup(tenant_a, queued):
    click = inbound("whatsapp_messages__text_with_referral")
    ticket = message_received(tenant=tenant_a, message=click)
    TicketTracking.objects.filter(ticket=ticket).update(
        campaign_name="Campaign A", enrichment_status="completed", enriched_ad_id=AD_A
    )
    again = later(click, timedelta(hours=2), "wamid.again")
    again = replace(again, referral=replace(click.referral, ctwa_clid="ARAkNewerClid"))

    message_received(tenant=tenant_a, message=again)

    tracking = TicketTracking.objects.get(ticket=ticket)
    assert (tracking.ad_id, tracking.ctwa_clid, tracking.attributed_at) == (
        AD_A,
        "ARAkNewerClid",
        again.sent_at,
    )
    assert (tracking.campaign_name, tracking.enrichment_status) == ("Campaign A", "completed")
    assert AttributionChange.objects.count() == 1
    assert len(queued) == 1


def test_a_referral_older_than_the_current_touch_changes_nothing(tenant_a, queued):
    click_b = inbound("whatsapp_messages__video_referral_other_ad")
    ticket = message_received(tenant=tenant_a, message=click_b)
    # A's click was sent before B's but delivered after it.
    click_a = inbound("whatsapp_messages__text_with_referral")
    assert click_a.sent_at < click_b.sent_at

    message_received(tenant=tenant_a, message=click_a)

    tracking = TicketTracking.objects.get(ticket=ticket)
    assert tracking.ad_id == "120212345678900456"
    assert AttributionChange.objects.count() == 1
    assert Message.objects.get(provider_message_id=click_a.provider_message_id).referral[
        "ad_id"
    ] == (AD_A), "the older touch is still kept on its message"


def test_a_post_referral_is_recorded_but_not_looked_up_as_an_ad(tenant_a, queued):
    message = inbound("whatsapp_messages__post_referral")

    ticket = message_received(tenant=tenant_a, message=message)

    tracking = TicketTracking.objects.get(ticket=ticket)
    assert (tracking.source_type, tracking.ad_id) == ("post", "555666777888999")
    assert tracking.enrichment_status == "failed"
    assert "not an ad" in tracking.enrichment_error
    assert queued == []


def test_every_message_of_a_delivery_lands_once(tenant_a, queued):
    payload = load_fixture("whatsapp_messages__text_with_referral")
    [message] = inbound_messages(payload)
    second = later(message, timedelta(seconds=5), "wamid.second")
    second = replace(second, referral=None)

    for item in [message, second, message]:
        message_received(tenant=tenant_a, message=item)

    assert Ticket.objects.count() == 1
    assert Message.objects.count() == 2


def test_recording_a_message_costs_a_bounded_number_of_queries(tenant_a, queued):
    first = inbound("whatsapp_messages__text_with_referral")
    message_received(tenant=tenant_a, message=first)
    next_one = later(inbound("whatsapp_messages__video_referral_other_ad"), timedelta(0), "wamid.q")

    with CaptureQueriesContext(connection) as ctx:
        message_received(tenant=tenant_a, message=next_one)

    assert len(ctx.captured_queries) <= 12


def test_no_pii_reaches_the_logs(tenant_a, queued, caplog):
    caplog.set_level(logging.DEBUG, logger="apps.leads")
    first = inbound("whatsapp_messages__text_with_referral")
    message_received(tenant=tenant_a, message=first)
    message_received(tenant=tenant_a, message=later(first, timedelta(days=30), "wamid.late"))
    message_received(tenant=tenant_a, message=later(first, -timedelta(days=60), "wamid.old"))
    Contact.objects.create(tenant=tenant_a, user_id="BR.other")
    contact_match(tenant=tenant_a, wa_id=first.wa_id, user_id="BR.other")

    assert caplog.records, "the expiry and the ambiguous contact were logged"
    text = caplog.text
    for secret in (first.wa_id, first.user_id, "BR.other", first.contact_name, first.text):
        assert secret not in text


def test_an_inbound_message_without_account_ref_is_fine(tenant_a, queued):
    message = InboundMessage(
        channel="whatsapp",
        provider_message_id="wamid.x",
        sent_at=inbound("whatsapp_messages__text").sent_at,
        wa_id="5511911112222",
    )
    ticket = message_received(tenant=tenant_a, message=message)
    assert ticket.account_ref == "" and str(ticket.contact) == "5511911112222"


def test_the_database_refuses_a_second_open_ticket_for_a_contact_and_channel(tenant_a, queued):
    from django.db import IntegrityError, transaction

    ticket = message_received(tenant=tenant_a, message=inbound("whatsapp_messages__text"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Ticket.objects.create(
            tenant=tenant_a,
            contact=ticket.contact,
            channel="whatsapp",
            last_message_at=ticket.last_message_at,
            opened_at=ticket.opened_at,
        )
    Ticket.objects.create(
        tenant=tenant_a,
        contact=ticket.contact,
        channel="tiktok_shop",
        last_message_at=ticket.last_message_at,
        opened_at=ticket.opened_at,
    )


def test_a_pass_that_loses_a_race_is_retried_once(tenant_a, queued, monkeypatch):
    from django.db import IntegrityError

    from apps.leads import services

    real = services._message_record
    passes = []

    def loses_first(tenant, message):
        passes.append(1)
        if len(passes) == 1:
            raise IntegrityError("UNIQUE constraint failed: the other worker won")
        return real(tenant, message)

    monkeypatch.setattr(services, "_message_record", loses_first)

    ticket = message_received(tenant=tenant_a, message=inbound("whatsapp_messages__text"))

    assert len(passes) == 2
    assert Message.objects.get().ticket_id == ticket.pk


def test_a_referral_without_an_ad_id_attributes_nothing(tenant_a, queued):
    message = inbound("whatsapp_messages__text_with_referral")
    message = replace(message, referral=replace(message.referral, ad_id=""))

    ticket = message_received(tenant=tenant_a, message=message)

    assert not TicketTracking.objects.filter(ticket=ticket).exists()
    assert queued == []
    assert Message.objects.get().referral["source_url"] == "https://fb.me/4xYzAbCdE"
