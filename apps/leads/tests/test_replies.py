"""Replies from the ticket page and the live thread and list, with a fake channel replier."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.leads import replies
from apps.leads.channels import ReplyRefused, channels
from apps.leads.models import Message, Ticket

from .test_views import make_ticket

pytestmark = pytest.mark.django_db

SENT: list[tuple[int, str]] = []
ANSWERS: list[object] = []


def fake_replier(*, ticket, text: str) -> str:
    SENT.append((ticket.pk, text))
    answer = ANSWERS.pop(0) if ANSWERS else "provider-1"
    if isinstance(answer, Exception):
        raise answer
    return answer


@pytest.fixture
def replier(monkeypatch):
    SENT.clear()
    ANSWERS.clear()
    monkeypatch.setitem(
        channels._repliers, "tiktok_shop", "apps.leads.tests.test_replies.fake_replier"
    )
    return SENT


@pytest.fixture
def queued(monkeypatch):
    calls = []
    monkeypatch.setattr(replies, "enqueue", lambda func, *args: calls.append((func, args)))
    return calls


def url(ticket: Ticket, what: str) -> str:
    return f"/leads/tickets/{ticket.pk}/{what}/"


def test_a_reply_is_recorded_queued_and_sent_once(tenant_a, member_a, replier, queued):
    ticket = make_ticket(tenant_a, 1, channel="tiktok_shop")

    reply = replies.reply_create(ticket=ticket, user=member_a, text="  Hello there  ")

    assert (reply.text, reply.delivery_state, reply.direction) == ("Hello there", "pending", "out")
    assert queued == [(replies.REPLY_TASK, (reply.pk,))]
    assert replies.reply_deliver(message_id=reply.pk) == "sent"
    assert replies.reply_deliver(message_id=reply.pk) == "sent"
    assert replier == [(ticket.pk, "Hello there")]
    reply.refresh_from_db()
    assert (reply.provider_message_id, reply.delivery_state) == ("provider-1", "sent")


def test_a_refusal_is_recorded_with_its_reason_redacted(tenant_a, member_a, replier, queued):
    ticket = make_ticket(tenant_a, 1, channel="tiktok_shop")
    reply = replies.reply_create(ticket=ticket, user=member_a, text="Hi")
    ANSWERS.append(RuntimeError("refused, access_token=ROW_secret_token_value_123456"))

    assert replies.reply_deliver(message_id=reply.pk) == "failed"

    reply.refresh_from_db()
    assert reply.delivery_state == "failed"
    assert "refused" in reply.delivery_error
    assert "ROW_secret_token_value_123456" not in reply.delivery_error


def test_empty_long_and_unsupported_replies_are_refused(tenant_a, member_a, replier, queued):
    ticket = make_ticket(tenant_a, 1, channel="tiktok_shop")
    with pytest.raises(ReplyRefused):
        replies.reply_create(ticket=ticket, user=member_a, text="   ")
    with pytest.raises(ReplyRefused):
        replies.reply_create(ticket=ticket, user=member_a, text="x" * 2001)
    whatsapp = make_ticket(tenant_a, 2)
    with pytest.raises(ReplyRefused):
        replies.reply_create(ticket=whatsapp, user=member_a, text="Hi")
    assert not Message.objects.filter(direction="out").exists()
    assert queued == []


def test_the_sweep_queues_lost_replies_and_fails_those_stuck_mid_send(
    tenant_a, member_a, replier, queued
):
    ticket = make_ticket(tenant_a, 1, channel="tiktok_shop")
    lost = replies.reply_create(ticket=ticket, user=member_a, text="lost")
    stuck = replies.reply_create(ticket=ticket, user=member_a, text="stuck")
    old = timezone.now() - timedelta(minutes=11)
    Message.objects.filter(pk=lost.pk).update(delivery_updated_at=old)
    Message.objects.filter(pk=stuck.pk).update(delivery_state="sending", delivery_updated_at=old)
    queued.clear()

    assert replies.replies_sweep() == 2

    assert queued == [(replies.REPLY_TASK, (lost.pk,))]
    stuck.refresh_from_db()
    assert stuck.delivery_state == "failed" and "outcome is unknown" in stuck.delivery_error
    assert replies.replies_sweep() == 0  # the lost one is leased again


def test_the_ticket_page_offers_the_reply_form_only_where_replies_go(
    tenant_a, member_client, replier
):
    shop_ticket = make_ticket(tenant_a, 1, channel="tiktok_shop")
    whatsapp = make_ticket(tenant_a, 2)

    assert 'id="reply-form"' in member_client.get(url(shop_ticket, "")[:-1]).content.decode()
    assert 'id="reply-form"' not in member_client.get(url(whatsapp, "")[:-1]).content.decode()


def test_replying_over_htmx_returns_the_thread_and_a_fresh_form(
    tenant_a, member_client, replier, queued
):
    ticket = make_ticket(tenant_a, 1, channel="tiktok_shop")

    response = member_client.post(
        url(ticket, "reply"), {"text": "On its way"}, HTTP_HX_REQUEST="true"
    )

    page = response.content.decode()
    assert 'id="ticket-thread"' in page and "On its way" in page and "Queued" in page
    assert 'hx-swap-oob="true"' in page
    refused = member_client.post(url(ticket, "reply"), {"text": ""}, HTTP_HX_REQUEST="true")
    assert "Write a message first." in refused.content.decode()


def test_without_javascript_a_reply_redirects_back_to_the_ticket(
    tenant_a, member_client, replier, queued
):
    ticket = make_ticket(tenant_a, 1, channel="tiktok_shop")
    response = member_client.post(url(ticket, "reply"), {"text": "Plain post"})
    assert response.status_code == 302
    assert response["Location"] == f"/leads/tickets/{ticket.pk}/"
    assert Message.objects.filter(text="Plain post", delivery_state="pending").exists()


def test_replies_need_the_csrf_token_and_a_post(tenant_a, member_a, replier, queued):
    ticket = make_ticket(tenant_a, 1, channel="tiktok_shop")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(member_a)
    assert strict.post(url(ticket, "reply"), {"text": "x"}).status_code == 403
    assert strict.get(url(ticket, "reply")).status_code == 405
    assert not Message.objects.filter(direction="out").exists()


def test_another_tenants_ticket_is_a_404_for_the_thread_and_replies(
    tenant_b, member_client, replier, queued
):
    theirs = make_ticket(tenant_b, 1, channel="tiktok_shop")
    assert member_client.get(url(theirs, "messages")).status_code == 404
    assert member_client.post(url(theirs, "reply"), {"text": "x"}).status_code == 404
    assert not Message.objects.filter(direction="out").exists()


def test_the_thread_answers_204_until_something_changes(
    tenant_a, member_client, member_a, replier, queued
):
    ticket = make_ticket(tenant_a, 1, channel="tiktok_shop")
    first = member_client.get(url(ticket, "messages"))
    version = first.content.decode().split('data-version="')[1].split('"')[0]

    assert member_client.get(url(ticket, "messages"), {"v": version}).status_code == 204

    reply = replies.reply_create(ticket=ticket, user=member_a, text="New")
    changed = member_client.get(url(ticket, "messages"), {"v": version})
    assert changed.status_code == 200 and "New" in changed.content.decode()
    version = changed.content.decode().split('data-version="')[1].split('"')[0]
    replies.reply_deliver(message_id=reply.pk)  # queued -> sent moves the version
    assert member_client.get(url(ticket, "messages"), {"v": version}).status_code == 200


def _count(client, path, **params) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, params)
    assert response.status_code in (200, 204)
    return len(queries)


def test_the_polled_fragments_cost_constant_queries(
    tenant_a, member_client, member_a, replier, queued
):
    ticket = make_ticket(tenant_a, 1, channel="tiktok_shop")
    thread_few = _count(member_client, url(ticket, "messages"))
    board_few = _count(member_client, "/leads/board/")
    for n in range(30):
        replies.reply_create(ticket=ticket, user=member_a, text=f"m{n}")
        make_ticket(tenant_a, 100 + n, channel="tiktok_shop")
    assert _count(member_client, url(ticket, "messages")) == thread_few
    assert _count(member_client, "/leads/board/") == board_few
    # unchanged: 204 for session, user, membership, the ticket and one aggregate
    fragment = member_client.get(url(ticket, "messages")).content.decode()
    thread_version = fragment.split('data-version="')[1].split('"')[0]
    with CaptureQueriesContext(connection) as queries:
        response = member_client.get(url(ticket, "messages"), {"v": thread_version})
    assert response.status_code == 204
    assert len(queries) < thread_few
    version = (
        member_client.get("/leads/board/").content.decode().split('data-version="')[1].split('"')[0]
    )
    unchanged = _count(member_client, "/leads/board/", v=version)
    assert unchanged < board_few


def test_the_list_polls_and_answers_204_until_a_ticket_moves(tenant_a, member_client):
    make_ticket(tenant_a, 1, channel="tiktok_shop")
    page = member_client.get("/leads/").content.decode()
    assert 'hx-get="/leads/board/?v=' in page and 'hx-trigger="every 3s"' in page
    version = page.split('id="ticket-rows"')[1].split('data-version="')[1].split('"')[0]
    assert member_client.get("/leads/board/", {"v": version}).status_code == 204

    make_ticket(tenant_a, 2, channel="tiktok_shop")
    fresh = member_client.get("/leads/board/", {"v": version})
    assert fresh.status_code == 200 and "Contact 2" in fresh.content.decode()
