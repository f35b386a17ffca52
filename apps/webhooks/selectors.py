"""What the hub's Webhooks tab shows a tenant: its events, as routed by the handlers."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count
from django.utils import timezone

from apps.tenants.models import Tenant

from .models import WebhookEvent
from .registry import webhooks

RECENT = 25


def webhook_activity(*, tenant: Tenant, hours: int = 24) -> dict:
    """Counts per source and status over ``hours``, and the latest events: two queries."""
    since = timezone.now() - timedelta(hours=hours)
    rows = (
        WebhookEvent.objects.for_tenant(tenant)
        .filter(received_at__gte=since)
        .values("source", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    labels = {source.key: source.label for source in webhooks.sources()}
    per_source: dict[str, dict] = {}
    for row in rows:
        entry = per_source.setdefault(
            row["source"], {"label": labels.get(row["source"], row["source"]), "counts": {}}
        )
        entry["counts"][row["status"]] = row["n"]
    recent = list(
        WebhookEvent.objects.for_tenant(tenant)
        .only(
            "source",
            "event_type",
            "status",
            "attempts",
            "received_at",
            "processed_at",
            "last_error",
        )
        .order_by("-received_at", "-id")[:RECENT]
    )
    return {"per_source": per_source, "recent": recent, "hours": hours}
