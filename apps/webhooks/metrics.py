"""Webhook figures for ``/metrics``: events stored by status, deliveries refused."""

from __future__ import annotations

from django.db.models import Count

from apps.integrations.metrics import Metric, counter_values

from .models import WebhookEvent
from .registry import webhooks

REJECTED = "webhooks_rejected"
REASONS = ("signature", "payload", "too_large", "content_type")


def collect() -> list[Metric]:
    events = Metric("hub_webhook_events", "gauge", "Webhook events stored, by source and status.")
    rows = WebhookEvent.objects.values("source", "status").annotate(n=Count("id")).order_by()
    events.samples = [({"source": r["source"], "status": r["status"]}, r["n"]) for r in rows]
    rejected = Metric(
        "hub_webhook_deliveries_rejected_total",
        "counter",
        "Webhook deliveries refused before storing, by source and reason.",
    )
    label_sets = [
        {"source": source.key, "reason": reason}
        for source in webhooks.sources()
        for reason in REASONS
    ]
    rejected.samples = counter_values(REJECTED, label_sets)
    return [events, rejected]
