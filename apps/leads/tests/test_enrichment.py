"""Enrichment: the registered enricher's answer, written only for the ad it was asked about."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.leads import services, tasks
from apps.leads.enrichment import EnrichmentUnavailable, enrichers
from apps.leads.models import TicketTracking
from apps.leads.services import (
    ENRICH_TASK,
    ENRICHMENT_LEASE,
    ENRICHMENT_MAX_ATTEMPTS,
    enrichment_retry_delay,
    message_received,
)

from .conftest import details
from .helpers import inbound

pytestmark = pytest.mark.django_db

AD_A = "120212345678900123"


@pytest.fixture
def tracking(tenant_a, queued) -> TicketTracking:
    ticket = message_received(
        tenant=tenant_a, message=inbound("whatsapp_messages__text_with_referral")
    )
    return TicketTracking.objects.get(ticket=ticket)


def test_a_completed_lookup_writes_the_names_and_ids(tracking, enricher, tenant_a):
    enricher.answers[AD_A] = details(AD_A, "A")

    assert tasks.enrich_tracking(tracking.pk, AD_A) == "completed"

    tracking.refresh_from_db()
    assert enricher.calls == [(tenant_a.pk, AD_A)]
    assert (tracking.campaign_id, tracking.campaign_name) == (f"{AD_A}2", "Campaign A")
    assert (tracking.adset_id, tracking.adset_name, tracking.ad_name) == (
        f"{AD_A}1",
        "Ad set A",
        "Ad A",
    )
    assert (tracking.account_id, tracking.account_name) == ("act_1234567890", "Acme Ads")
    assert (tracking.enrichment_status, tracking.enrichment_error) == ("completed", "")
    assert tracking.enrichment_attempts == 1
    assert tracking.enrichment_next_attempt_at is None
    assert tracking.enriched_at is not None


def test_running_the_task_again_after_completion_calls_nobody(tracking, enricher):
    enricher.answers[AD_A] = details(AD_A, "A")
    tasks.enrich_tracking(tracking.pk, AD_A)

    assert tasks.enrich_tracking(tracking.pk, AD_A) == "completed"
    assert len(enricher.calls) == 1


def test_a_task_for_an_ad_the_ticket_left_calls_nobody(tracking, enricher):
    TicketTracking.objects.filter(pk=tracking.pk).update(ad_id="another")
    assert tasks.enrich_tracking(tracking.pk, AD_A) == "stale"
    assert tasks.enrich_tracking(999999, AD_A) == "stale"
    assert enricher.calls == []


def test_unavailable_fails_at_once_with_its_reason(tracking, enricher):
    enricher.answers[AD_A] = EnrichmentUnavailable(
        "No connected Facebook profile reaches ad account act_1234567890."
    )

    assert tasks.enrich_tracking(tracking.pk, AD_A) == "failed"

    tracking.refresh_from_db()
    assert tracking.enrichment_status == "failed"
    assert tracking.enrichment_error == (
        "No connected Facebook profile reaches ad account act_1234567890."
    )
    assert tracking.enrichment_next_attempt_at is None
    assert services.enrichment_sweep(now=timezone.now() + timedelta(days=1)) == 0


def test_a_transient_error_is_retried_with_backoff(tracking, enricher, queued):
    enricher.answers[AD_A] = ConnectionError("graph.facebook.com timed out")
    before = timezone.now()

    assert tasks.enrich_tracking(tracking.pk, AD_A) == "retry"

    tracking.refresh_from_db()
    assert tracking.enrichment_status == "pending"
    assert tracking.enrichment_attempts == 1
    assert "timed out" in tracking.enrichment_error
    due = tracking.enrichment_next_attempt_at
    assert before + timedelta(minutes=1) <= due <= timezone.now() + timedelta(minutes=1)

    # Not due yet: the sweep leaves it; once due, the sweep queues it once.
    queued.clear()
    assert services.enrichment_sweep(now=due - timedelta(seconds=1)) == 0
    assert services.enrichment_sweep(now=due) == 1
    assert queued == [(ENRICH_TASK, (tracking.pk, AD_A))]
    assert services.enrichment_sweep(now=due) == 0, "queued rows are leased"

    enricher.answers[AD_A] = details(AD_A, "A")
    assert tasks.enrich_tracking(tracking.pk, AD_A) == "completed"
    tracking.refresh_from_db()
    assert (tracking.enrichment_attempts, tracking.campaign_name) == (2, "Campaign A")


def test_retries_give_up_after_the_last_attempt(tracking, enricher):
    enricher.answers[AD_A] = RuntimeError("Graph said 17: User request limit reached")

    outcomes = [tasks.enrich_tracking(tracking.pk, AD_A) for _ in range(ENRICHMENT_MAX_ATTEMPTS)]

    assert outcomes == ["retry"] * (ENRICHMENT_MAX_ATTEMPTS - 1) + ["failed"]
    tracking.refresh_from_db()
    assert tracking.enrichment_status == "failed"
    assert f"Gave up after {ENRICHMENT_MAX_ATTEMPTS} attempts" in tracking.enrichment_error
    assert "request limit" in tracking.enrichment_error


def test_backoff_doubles_up_to_an_hour():
    assert [enrichment_retry_delay(n) for n in (1, 2, 3, 7, 20)] == [
        timedelta(minutes=1),
        timedelta(minutes=2),
        timedelta(minutes=4),
        timedelta(hours=1),
        timedelta(hours=1),
    ]


def test_a_token_in_an_error_is_never_stored(tracking, enricher):
    enricher.answers[AD_A] = RuntimeError(
        "GET /v25.0/120212345678900123?access_token=EAAGm0PX4ZCpsBAKZAZBz9 failed"
    )
    tasks.enrich_tracking(tracking.pk, AD_A)
    tracking.refresh_from_db()
    assert "EAAGm0PX4ZCpsBAKZAZBz9" not in tracking.enrichment_error


def test_a_task_the_queue_lost_is_queued_again_by_the_sweep(tracking, queued):
    assert tracking.enrichment_next_attempt_at is not None
    queued.clear()
    assert services.enrichment_sweep(now=timezone.now()) == 0
    later = timezone.now() + ENRICHMENT_LEASE + timedelta(seconds=1)
    assert services.enrichment_sweep(now=later) == 1
    assert queued == [(ENRICH_TASK, (tracking.pk, AD_A))]


def test_a_platform_without_enricher_fails_with_a_reason(tracking, monkeypatch):
    monkeypatch.setattr(enrichers, "_paths", {})
    assert tasks.enrich_tracking(tracking.pk, AD_A) == "failed"
    tracking.refresh_from_db()
    assert "meta" in tracking.enrichment_error


def test_a_fresh_answer_for_the_same_ad_is_reused(tenant_a, tracking, enricher, queued):
    enricher.answers[AD_A] = details(AD_A, "A")
    tasks.enrich_tracking(tracking.pk, AD_A)
    other = inbound(
        "whatsapp_messages__text_with_referral",
        wa_id="5511900001111",
        user_id="",
        provider_message_id="wamid.other-contact",
    )
    second = TicketTracking.objects.get(ticket=message_received(tenant=tenant_a, message=other))

    assert tasks.enrich_tracking(second.pk, AD_A) == "completed"

    second.refresh_from_db()
    assert second.campaign_name == "Campaign A"
    assert len(enricher.calls) == 1, "the platform was asked once for both tickets"


def test_another_tenants_answer_is_never_reused(tenant_a, tenant_b, tracking, enricher, queued):
    enricher.answers[AD_A] = details(AD_A, "A")
    tasks.enrich_tracking(tracking.pk, AD_A)
    ticket_b = message_received(
        tenant=tenant_b, message=inbound("whatsapp_messages__text_with_referral")
    )
    tracking_b = TicketTracking.objects.get(ticket=ticket_b)

    tasks.enrich_tracking(tracking_b.pk, AD_A)

    assert enricher.calls == [(tenant_a.pk, AD_A), (tenant_b.pk, AD_A)]


def test_staff_can_ask_for_another_lookup(tracking, enricher, queued):
    enricher.answers[AD_A] = EnrichmentUnavailable("no profile")
    tasks.enrich_tracking(tracking.pk, AD_A)
    queued.clear()

    assert services.tracking_enrich_again(trackings=TicketTracking.objects.all()) == 1

    tracking.refresh_from_db()
    assert (tracking.enrichment_status, tracking.enrichment_attempts) == ("pending", 0)
    assert queued == [(ENRICH_TASK, (tracking.pk, AD_A))]
