"""``/metrics``: operational counters in the Prometheus text format.

Figures come from the tables themselves (sync runs, webhook events,
conversions, the task queue) at scrape time, each collector one aggregate
query, so every web process answers the same numbers and nothing is kept in
process memory. Apps add collectors in ``AppConfig.ready()``::

    collectors.register("apps.webhooks.metrics.collect")

A collector returns a list of :class:`Metric`.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, DurationField, ExpressionWrapper, F, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.module_loading import import_string

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class Metric:
    name: str
    kind: str  # counter | gauge
    help: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)

    def render(self) -> str:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]
        for labels, value in self.samples:
            lines.append(f"{self.name}{_labels(labels)} {_number(value)}")
        return "\n".join(lines)


def _escape(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items())) + "}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class CollectorRegistry:
    def __init__(self) -> None:
        self._paths: list[str] = []

    def register(self, path: str) -> None:
        if path not in self._paths:
            self._paths.append(path)

    def collect(self) -> list[Metric]:
        return [metric for path in self._paths for metric in import_string(path)()]


collectors = CollectorRegistry()


# --- counters kept in the shared cache (events that leave no row behind) --------


def counter_key(name: str, **labels: str) -> str:
    return "metric:" + name + ":" + ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def counter_increment(name: str, **labels: str) -> None:
    """Count an event that leaves no row (a rejected webhook). Shared by every process."""
    key = counter_key(name, **labels)
    cache.add(key, 0, timeout=None)
    try:
        cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=None)


def counter_values(name: str, label_sets: list[dict[str, str]]) -> list[tuple[dict, float]]:
    keys = {counter_key(name, **labels): labels for labels in label_sets}
    found = cache.get_many(list(keys))
    return [(labels, found[key]) for key, labels in keys.items() if key in found]


# --- the core's own collectors --------------------------------------------------


def collect_sync_runs() -> list[Metric]:
    from .models import SyncRun

    runs = Metric("hub_sync_runs", "gauge", "Sync runs on record, by product, kind and status.")
    seconds = Metric(
        "hub_sync_run_seconds_total",
        "counter",
        "Total duration of finished sync runs on record, by product and kind.",
    )
    duration = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    rows = SyncRun.objects.values("product", "kind", "status").annotate(
        n=Count("id"), took=Sum(duration)
    )
    totals: dict[tuple[str, str], float] = {}
    for row in rows.order_by():
        runs.samples.append(
            ({"product": row["product"], "kind": row["kind"], "status": row["status"]}, row["n"])
        )
        if row["took"] is not None:
            key = (row["product"], row["kind"])
            totals[key] = totals.get(key, 0.0) + row["took"].total_seconds()
    seconds.samples = [({"product": p, "kind": k}, v) for (p, k), v in sorted(totals.items())]
    return [runs, seconds]


def collect_queue() -> list[Metric]:
    from django_q.brokers import get_broker

    depth = Metric("hub_task_queue_depth", "gauge", "Tasks waiting in the django-q2 broker.")
    try:
        depth.samples.append(({}, get_broker().queue_size() or 0))
    except Exception:  # a broker that is down is reported by /healthz
        depth.samples.append(({}, -1))
    return [depth]


collectors.register("apps.integrations.metrics.collect_sync_runs")
collectors.register("apps.integrations.metrics.collect_queue")


def _authorized(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        return settings.DEBUG
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return hmac.compare_digest(given.encode(), token.encode())


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Open in development; in production only with ``Authorization: Bearer $METRICS_TOKEN``."""
    if not _authorized(request):
        raise Http404
    body = "\n".join(metric.render() for metric in collectors.collect()) + "\n"
    return HttpResponse(body, content_type=CONTENT_TYPE)
