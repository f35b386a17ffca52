"""The periodic expiry of open tickets, per tenant setting, in a constant number of queries."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.leads import tasks
from apps.leads.models import Contact, LeadSettings, Ticket
from apps.leads.services import tickets_expire_due

pytestmark = pytest.mark.django_db


def open_ticket(tenant, *, idle: timedelta, n: int) -> Ticket:
    contact = Contact.objects.create(tenant=tenant, wa_id=f"55119000{n:05d}")
    at = timezone.now() - idle
    return Ticket.objects.create(
        tenant=tenant, contact=contact, channel="whatsapp", last_message_at=at, opened_at=at
    )


def test_open_tickets_expire_after_their_tenants_window(tenant_a, tenant_b, make_tenant):
    LeadSettings.objects.create(tenant=tenant_b, ticket_expiration_days=2)
    a_fresh = open_ticket(tenant_a, idle=timedelta(days=6), n=1)
    a_stale = open_ticket(tenant_a, idle=timedelta(days=8), n=2)
    b_fresh = open_ticket(tenant_b, idle=timedelta(days=1), n=3)
    b_stale = open_ticket(tenant_b, idle=timedelta(days=3), n=4)
    closed = open_ticket(tenant_a, idle=timedelta(days=30), n=5)
    Ticket.objects.filter(pk=closed.pk).update(status="closed")

    assert tasks.expire_tickets() == 2

    status = dict(Ticket.objects.values_list("pk", "status"))
    assert status == {
        a_fresh.pk: "open",
        a_stale.pk: "expired",
        b_fresh.pk: "open",
        b_stale.pk: "expired",
        closed.pk: "closed",
    }
    assert Ticket.objects.get(pk=a_stale.pk).closed_at is not None


def test_expiry_costs_one_update_per_setting_in_use(tenant_a, tenant_b, make_tenant):
    LeadSettings.objects.create(tenant=tenant_b, ticket_expiration_days=2)
    for n in range(30):
        open_ticket(tenant_a if n % 2 else tenant_b, idle=timedelta(days=n, hours=12), n=n)

    with CaptureQueriesContext(connection) as ctx:
        expired = tickets_expire_due()

    # tenant A (odd n, default 7 days): n = 7..29, 12 tickets; tenant B (even n, 2 days):
    # n = 2..28, 14 tickets.
    assert expired == 12 + 14
    assert len(ctx.captured_queries) == 3, "settings, default tenants, one per setting in use"
