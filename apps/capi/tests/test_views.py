"""The Conversions tab: log with filters, destination health, test events, resend, mapping."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.capi import breaker
from apps.capi.models import (
    ConversionDestination,
    ConversionEvent,
    ConversionMapping,
    DeliveryAttempt,
    LeadFormEndpoint,
)
from apps.tenants.models import Membership

from .conftest import META_DATASET, TIKTOK_PIXEL_CODE
from .test_dispatch import _destination, pending_events

pytestmark = pytest.mark.django_db

Status = ConversionEvent.Status
HUB = "/integrations/?tab=conversions"


def _rows(response) -> str:
    return response.content.decode()


def test_tab_shows_log_health_and_mapping(owner_client, tenant_a, meta_platform):
    destination = _destination(tenant_a)
    events = pending_events(tenant_a, destination, 3)
    now = timezone.now()
    ConversionEvent.objects.filter(pk=events[0].pk).update(
        status=Status.SENT, sent_at=now, events_received=3, trace_id="AtraceXYZ"
    )
    ConversionEvent.objects.filter(pk=events[1].pk).update(
        status=Status.FAILED, updated_at=now, error_code="100", error_message="Invalid parameter"
    )
    page = owner_client.get(HUB)
    html = _rows(page)
    assert page.status_code == 200
    assert f'data-destination="meta:{META_DATASET}"' in html
    assert "AtraceXYZ" in html and "Invalid parameter" in html
    health = page.context["health"]
    assert [(h.sent_24h, h.failed_24h, h.pending) for h in health] == [(1, 1, 1)]
    assert health[0].breaker_state == "closed"
    assert 'name="meta_qualified"' in html
    assert "/webhooks/tiktok-ads/" in html  # the lead webhook URL, for admins


def test_filters_narrow_the_log(owner_client, tenant_a, meta_platform, tiktok_platform):
    meta = pending_events(tenant_a, _destination(tenant_a), 2)
    tiktok = pending_events(tenant_a, _destination(tenant_a, "tiktok"), 2, start=50)
    ConversionEvent.objects.filter(pk=meta[0].pk).update(status=Status.FAILED)
    yesterday = timezone.now() - timedelta(days=1)
    ConversionEvent.objects.filter(pk=tiktok[0].pk).update(created_at=yesterday)

    def shown(query: str) -> set[str]:
        page = owner_client.get(f"{HUB}&{query}")
        return {e.event_id for e in page.context["events_page"].events}

    assert shown("platform=tiktok") == {"lead-50", "lead-51"}
    assert shown("status=failed") == {"lead-0"}
    assert shown("event=Lead") == {"lead-50", "lead-51"}
    day = yesterday.date().isoformat()
    assert shown(f"since={day}&until={day}") == {"lead-50"}
    assert shown("platform=nonsense&status=bogus&since=31-02-2026") == {
        "lead-0",
        "lead-1",
        "lead-50",
        "lead-51",
    }


def test_tab_renders_in_a_fixed_number_of_queries(
    owner_client, tenant_a, meta_platform, django_assert_max_num_queries
):
    def render() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            assert owner_client.get(HUB).status_code == 200
        return len(captured)

    pending_events(tenant_a, _destination(tenant_a), 2)
    render()  # the first render of an admin creates the lead webhook URL
    few = render()
    pending_events(tenant_a, _destination(tenant_a, "tiktok"), 120, start=100)
    many = render()
    assert few == many
    assert many <= 10, many


def test_htmx_tab_switch_returns_only_the_panel(owner_client, tenant_a, meta_platform):
    page = owner_client.get(HUB, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="hub-panel")
    html = _rows(page)
    assert 'id="capi-panel"' in html
    assert "<html" not in html


def test_resend_puts_failed_events_back_with_the_same_ids(owner_client, tenant_a, meta_platform):
    events = pending_events(tenant_a, _destination(tenant_a), 3)
    ConversionEvent.objects.filter(pk__in=[e.pk for e in events[:2]]).update(
        status=Status.FAILED, attempts=4, error_message="boom"
    )
    ConversionEvent.objects.filter(pk=events[2].pk).update(status=Status.SENT)
    response = owner_client.post(
        reverse("capi:resend"), {"event": [events[0].pk, events[2].pk], "status": "failed"}
    )
    assert response.status_code == 302
    assert urlsplit(response["Location"]).query.startswith("tab=conversions")
    statuses = dict(ConversionEvent.objects.values_list("pk", "status"))
    assert statuses == {
        events[0].pk: Status.PENDING,
        events[1].pk: Status.FAILED,
        events[2].pk: Status.SENT,
    }
    resent = ConversionEvent.objects.get(pk=events[0].pk)
    assert (resent.attempts, resent.error_message, resent.event_id) == (0, "", "lead-0")


def test_resend_all_failed_shown_by_the_filters(
    owner_client, tenant_a, meta_platform, tiktok_platform
):
    meta = pending_events(tenant_a, _destination(tenant_a), 2)
    tiktok = pending_events(tenant_a, _destination(tenant_a, "tiktok"), 2, start=10)
    ConversionEvent.objects.update(status=Status.FAILED)
    owner_client.post(reverse("capi:resend"), {"all": "1", "platform": "tiktok"})
    assert set(
        ConversionEvent.objects.filter(status=Status.PENDING).values_list("pk", flat=True)
    ) == {e.pk for e in tiktok}
    assert (
        ConversionEvent.objects.filter(pk__in=[e.pk for e in meta], status=Status.FAILED).count()
        == 2
    )


def test_resend_never_touches_another_tenant(owner_client, tenant_a, tenant_b, meta_platform):
    theirs = pending_events(tenant_b, _destination(tenant_b), 1)
    ConversionEvent.objects.update(status=Status.FAILED)
    owner_client.post(reverse("capi:resend"), {"event": [theirs[0].pk]})
    owner_client.post(reverse("capi:resend"), {"all": "1"})
    assert ConversionEvent.objects.get().status == Status.FAILED


def test_members_look_admins_act(member_client, tenant_a, meta_platform):
    pending_events(tenant_a, _destination(tenant_a), 1)
    ConversionEvent.objects.update(status=Status.FAILED)
    page = member_client.get(HUB)
    html = _rows(page)
    assert page.status_code == 200
    assert "Resend selected" not in html and "Send test event" not in html
    assert "/webhooks/tiktok-ads/" not in html
    for name in ("capi:resend", "capi:test_event", "capi:mapping", "capi:lead_webhook_rotate"):
        assert member_client.post(reverse(name), {"all": "1"}).status_code == 403
    assert ConversionEvent.objects.get().status == Status.FAILED


def test_every_action_needs_csrf(client, owner_a, tenant_a):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(owner_a)
    for name in ("capi:resend", "capi:test_event", "capi:mapping", "capi:lead_webhook_rotate"):
        assert strict.post(reverse(name), {}).status_code == 403


def test_test_event_uses_the_test_event_code(owner_client, tenant_a, sandbox, meta_platform):
    response = owner_client.post(
        reverse("capi:test_event"),
        {"platform": "meta", "external_id": META_DATASET, "test_event_code": "TEST4242"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "Test event sent" in response.content.decode()
    [call] = [c for c in sandbox.mock.calls if "/events" in c.request.url]
    import json

    body = json.loads(call.request.body)
    assert body["test_event_code"] == "TEST4242"
    assert body["data"][0]["event_id"].startswith("test-")
    destination = ConversionDestination.objects.get()
    assert destination.test_event_code == "TEST4242"
    assert destination.last_test_result.startswith("Received")
    assert DeliveryAttempt.objects.get().test is True
    assert not ConversionEvent.objects.exists(), "test events are not conversions"


def test_test_event_on_tiktok_and_a_refusal_is_shown(
    owner_client, tenant_a, sandbox, tiktok_platform
):
    owner_client.post(
        reverse("capi:test_event"),
        {"platform": "tiktok", "external_id": TIKTOK_PIXEL_CODE, "test_event_code": "TEST1"},
    )
    body = next(c for c in sandbox.mock.calls if "event/track" in c.request.url).request.body
    assert b'"test_event_code":"TEST1"' in body
    sandbox.inject(provider="tiktok_ads", path_contains="event/track", kind="expired_token")
    response = owner_client.post(
        reverse("capi:test_event"),
        {"platform": "tiktok", "external_id": TIKTOK_PIXEL_CODE, "test_event_code": "TEST1"},
        follow=True,
    )
    assert "refused the test event" in response.content.decode()


def test_test_event_refuses_unknown_destinations_and_empty_codes(
    owner_client, tenant_a, meta_platform
):
    assert (
        owner_client.post(
            reverse("capi:test_event"),
            {"platform": "meta", "external_id": "999", "test_event_code": "T"},
        ).status_code
        == 404
    )
    response = owner_client.post(
        reverse("capi:test_event"),
        {"platform": "meta", "external_id": META_DATASET, "test_event_code": " "},
        follow=True,
    )
    assert "Enter the test event code" in response.content.decode()


def test_another_tenants_destination_is_404(owner_client, tenant_b, registry_restore):
    ConversionDestination.objects.create(tenant=tenant_b, platform="meta", external_id="777")
    response = owner_client.post(
        reverse("capi:test_event"),
        {"platform": "meta", "external_id": "777", "test_event_code": "T"},
    )
    assert response.status_code == 404


def test_breaker_state_is_shown(owner_client, tenant_a, meta_platform):
    destination = _destination(tenant_a)
    now = timezone.now()
    for _ in range(breaker.FAILURE_THRESHOLD):
        breaker.record_failure(destination=destination, now=now, error="HTTP 500")
    html = _rows(owner_client.get(HUB))
    assert "Open (paused)" in html
    assert "HTTP 500" in html


def test_mapping_is_saved_from_the_tab(owner_client, tenant_a):
    response = owner_client.post(
        reverse("capi:mapping"),
        {
            "meta_qualified": "QualifiedLead",
            "meta_won": "Purchase",
            "meta_target": "ad_account_pixel",
            "tiktok_qualified": "SubmitForm",
            "tiktok_won": "CompletePayment",
        },
    )
    assert response.status_code == 302
    mapping = ConversionMapping.objects.get(tenant=tenant_a)
    assert (mapping.meta_qualified, mapping.meta_target, mapping.tiktok_won) == (
        "QualifiedLead",
        "ad_account_pixel",
        "CompletePayment",
    )
    refused = owner_client.post(reverse("capi:mapping"), {"meta_qualified": "Lead"}, follow=True)
    assert "cannot be sent for this stage" in refused.content.decode()
    assert ConversionMapping.objects.get(tenant=tenant_a).meta_qualified == "QualifiedLead"


def test_rotating_the_lead_webhook_url(owner_client, tenant_a):
    owner_client.get(HUB)
    old = LeadFormEndpoint.objects.get(tenant=tenant_a).token
    owner_client.post(reverse("capi:lead_webhook_rotate"))
    new = LeadFormEndpoint.objects.get(tenant=tenant_a).token
    assert new != old and len(new) >= 40
    assert new in _rows(owner_client.get(HUB))


def test_admin_role_can_act_too(client, make_member, tenant_a):
    admin = make_member(tenant_a, Membership.Role.ADMIN)
    client.force_login(admin)
    assert (
        client.post(reverse("capi:mapping"), {"meta_qualified": "LeadSubmitted"}).status_code == 302
    )
