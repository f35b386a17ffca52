"""``capi_dispatch``, ``capi_resend``, the django-q2 tasks and the admin."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from apps.capi import breaker, tasks
from apps.capi.models import ConversionDestination, ConversionEvent, LeadFormEndpoint
from apps.integrations.scheduling import schedules

from .conftest import make_ticket, move
from .test_dispatch import _destination, pending_events

pytestmark = pytest.mark.django_db

Status = ConversionEvent.Status


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_capi_dispatch_sends_what_is_due_with_progress(tenant_a, sandbox, meta_platform):
    pending_events(tenant_a, _destination(tenant_a), 12)
    output = run("capi_dispatch")
    assert "12 event(s) due." in output
    assert "... claimed 12, sent 12" in output
    assert ConversionEvent.objects.filter(status=Status.SENT).count() == 12


def test_capi_dispatch_first_makes_up_lost_signals(tenant_a, sandbox, meta_platform, kicks):
    ticket = make_ticket(tenant_a)
    move(ticket, "qualified")  # its signal never ran
    output = run("capi_dispatch")
    assert "1 missing conversion row(s) created" in output
    assert ConversionEvent.objects.get(ticket=ticket).status == Status.SENT


def test_capi_resend_failed_since_a_date(tenant_a, sandbox, meta_platform):
    destination = _destination(tenant_a)
    old = pending_events(tenant_a, destination, 2)
    recent = pending_events(tenant_a, destination, 3, start=10)
    ConversionEvent.objects.update(status=Status.FAILED, attempts=3, error_message="HTTP 500")
    ConversionEvent.objects.filter(pk__in=[e.pk for e in old]).update(
        created_at=timezone.now() - timedelta(days=10)
    )
    since = (timezone.now() - timedelta(days=1)).date().isoformat()
    assert "3 event(s) would be resent." in run(
        "capi_resend", "--status", "failed", "--since", since, "--dry-run"
    )
    assert ConversionEvent.objects.filter(status=Status.FAILED).count() == 5

    output = run("capi_resend", "--status", "failed", "--since", since)
    assert "3 event(s) queued again." in output
    assert "sent 3" in output
    sent = ConversionEvent.objects.filter(status=Status.SENT)
    assert set(sent.values_list("event_id", flat=True)) == {e.event_id for e in recent}
    assert ConversionEvent.objects.filter(status=Status.FAILED).count() == 2


def test_capi_resend_refuses_bad_input(tenant_a):
    with pytest.raises(CommandError):
        run("capi_resend", "--since", "yesterday")
    with pytest.raises(CommandError):
        run("capi_resend", "--tenant", "no-such-tenant")
    with pytest.raises(CommandError):
        run("capi_resend", "--status", "sent")


def test_periodic_sweep_is_registered_and_dispatches(tenant_a, sandbox, meta_platform, kicks):
    names = {task.name: task for task in schedules.all()}
    assert names["capi: dispatch"].func == "apps.capi.tasks.sweep"
    assert names["capi: dispatch"].minutes == 1
    ticket = make_ticket(tenant_a)
    move(ticket, "qualified")
    counts = tasks.sweep()
    assert (counts["reconciled"], counts["sent"]) == (1, 1)
    assert tasks.dispatch()["claimed"] == 0


# --- admin ----------------------------------------------------------------------------------


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("staff", "staff@example.com", "pw-staff-1")
    client.force_login(user)
    return client


def test_admin_resend_action(staff_client, tenant_a, meta_platform, kicks):
    events = pending_events(tenant_a, _destination(tenant_a), 2)
    ConversionEvent.objects.update(status=Status.FAILED)
    response = staff_client.post(
        reverse("admin:capi_conversionevent_changelist"),
        {"action": "resend", "_selected_action": [events[0].pk]},
        follow=True,
    )
    assert "1 event queued again." in response.content.decode()
    assert ConversionEvent.objects.get(pk=events[0].pk).status == Status.PENDING


def test_admin_screens_render_and_mask_the_lead_token(staff_client, tenant_a, meta_platform):
    destination = _destination(tenant_a)
    pending_events(tenant_a, destination, 1)
    endpoint = LeadFormEndpoint.objects.create(tenant=tenant_a)
    for name in (
        "capi_conversionevent",
        "capi_conversiondestination",
        "capi_deliveryattempt",
        "capi_conversionmapping",
        "capi_leadformendpoint",
    ):
        page = staff_client.get(reverse(f"admin:{name}_changelist"))
        assert page.status_code == 200, name
        assert endpoint.token not in page.content.decode()
    event = ConversionEvent.objects.get()
    page = staff_client.get(reverse("admin:capi_conversionevent_change", args=[event.pk]))
    assert page.status_code == 200
    assert "whatsapp_business_account_id" in page.content.decode()
    detail = staff_client.get(reverse("admin:capi_leadformendpoint_change", args=[endpoint.pk]))
    assert endpoint.token not in detail.content.decode()


def test_admin_reset_breaker(staff_client, tenant_a, meta_platform):
    destination = _destination(tenant_a)
    now = timezone.now()
    for _ in range(breaker.FAILURE_THRESHOLD):
        breaker.record_failure(destination=destination, now=now, error="boom")
    staff_client.post(
        reverse("admin:capi_conversiondestination_changelist"),
        {"action": "reset_breaker", "_selected_action": [destination.pk]},
    )
    destination.refresh_from_db()
    assert destination.breaker_state == ConversionDestination.Breaker.CLOSED
