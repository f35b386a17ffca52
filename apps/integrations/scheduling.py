"""Periodic tasks declared in one place, and enqueueing work after commit.

Apps register their :class:`PeriodicTask` entries in ``AppConfig.ready()``;
after ``migrate`` they are created in django-q2's Schedule table if missing.
An existing schedule keeps the interval staff set in the admin; only its
function path is brought up to date.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction

from .models import Connection, SyncRun

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicTask:
    name: str
    func: str
    minutes: int
    args: str = ""


class ScheduleRegistry:
    def __init__(self) -> None:
        self._tasks: dict[str, PeriodicTask] = {}

    def register(self, task: PeriodicTask) -> PeriodicTask:
        self._tasks[task.name] = task
        return task

    def all(self) -> list[PeriodicTask]:
        return list(self._tasks.values())


schedules = ScheduleRegistry()


def schedules_install(**kwargs) -> None:
    """post_migrate handler: create missing schedules, keep staff-edited intervals."""
    from django_q.models import Schedule

    for task in schedules.all():
        schedule, created = Schedule.objects.get_or_create(
            name=task.name,
            defaults={
                "func": task.func,
                "args": task.args or None,
                "schedule_type": Schedule.MINUTES,
                "minutes": task.minutes,
                "repeats": -1,
            },
        )
        if not created and schedule.func != task.func:
            schedule.func = task.func
            schedule.save(update_fields=["func"])


def enqueue(func: str, *args, **kwargs) -> None:
    """Queue a task once the current transaction commits (never for rolled-back work)."""
    from django_q.tasks import async_task

    transaction.on_commit(lambda: async_task(func, *args, **kwargs))


def sync_enqueue_all(*, connection: Connection, trigger: str) -> list[SyncRun]:
    """Start a run of every sync kind the product registered and queue them."""
    from .sync import sync_kinds, sync_run_start

    runs = []
    for kind in sync_kinds.for_product(connection.provider_key):
        run = sync_run_start(connection=connection, kind=kind.kind, trigger=trigger)
        if run.status == SyncRun.Status.QUEUED:
            enqueue("apps.integrations.tasks.run_sync", run.pk)
        runs.append(run)
    return runs


def sync_enqueue_due(*, now) -> int:
    """Start every scheduled sync kind whose last run is older than its interval.

    Two queries per kind (live connections, their latest run), whatever the
    number of connections.
    """
    from datetime import timedelta

    from django.db.models import Max

    from .registry import providers
    from .sync import sync_kinds, sync_run_start

    started = 0
    for kind in sync_kinds.all():
        if not kind.schedule_minutes:
            continue
        provider = providers.get(kind.product)
        connections = list(provider.model.objects.live().select_related("tenant"))
        latest = dict(
            SyncRun.objects.filter(
                product=kind.product,
                kind=kind.kind,
                connection_id__in=[c.pk for c in connections],
            )
            .values_list("connection_id")
            .annotate(last=Max("created_at"))
        )
        due_before = now - timedelta(minutes=kind.schedule_minutes)
        for connection in connections:
            last = latest.get(connection.pk)
            if last is not None and last > due_before:
                continue
            run = sync_run_start(
                connection=connection, kind=kind.kind, trigger=SyncRun.Trigger.SCHEDULE
            )
            if run.status == SyncRun.Status.QUEUED:
                enqueue("apps.integrations.tasks.run_sync", run.pk)
                started += 1
    return started
