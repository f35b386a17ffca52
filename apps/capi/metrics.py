"""Conversion figures for ``/metrics``: events on record by platform and status, and the backlog.

One aggregate query at scrape time, like every collector (see
:mod:`apps.integrations.metrics`): every web process answers the same numbers.
"""

from __future__ import annotations

from django.db.models import Count

from apps.integrations.metrics import Metric

from .models import ConversionEvent


def collect() -> list[Metric]:
    events = Metric(
        "hub_conversions",
        "gauge",
        "Conversion events on record, by platform and status (pending is the backlog).",
    )
    rows = ConversionEvent.objects.values("platform", "status").annotate(n=Count("id")).order_by()
    events.samples = [
        ({"platform": row["platform"], "status": row["status"]}, row["n"]) for row in rows
    ]
    return [events]
