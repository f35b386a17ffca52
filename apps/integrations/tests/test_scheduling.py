from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import Schedule

from apps.integrations import tasks
from apps.integrations.models import SyncRun
from apps.integrations.scheduling import schedules, schedules_install
from apps.tiktok_ads.models import TikTokAdsConnection
from apps.tiktok_content.models import TikTokContentConnection

pytestmark = pytest.mark.django_db


def test_every_declared_schedule_exists_after_migrate():
    names = set(Schedule.objects.values_list("name", flat=True))
    assert {task.name for task in schedules.all()} <= names
    sweep = Schedule.objects.get(name="integrations: refresh tokens")
    assert (sweep.func, sweep.schedule_type, sweep.minutes) == (
        "apps.integrations.tasks.refresh_sweep",
        Schedule.MINUTES,
        5,
    )


def test_reinstalling_keeps_the_interval_staff_set_and_creates_no_duplicates():
    Schedule.objects.filter(name="integrations: refresh tokens").update(minutes=15)
    schedules_install()
    schedules_install()
    sweep = Schedule.objects.filter(name="integrations: refresh tokens")
    assert sweep.count() == 1 and sweep.get().minutes == 15


def test_refresh_sweep_queues_one_task_per_connection_expiring_soon(
    tenant_a, tenant_b, monkeypatch
):
    queued = []
    monkeypatch.setattr(
        "apps.integrations.tasks.enqueue", lambda func, *args: queued.append((func, args))
    )
    soon = TikTokContentConnection.objects.create(
        tenant=tenant_a,
        access_token="a",
        refresh_token="r",
        access_expires_at=timezone.now() + timedelta(minutes=3),
        refresh_expires_at=timezone.now() + timedelta(days=100),
    )
    TikTokContentConnection.objects.create(
        tenant=tenant_b,
        access_token="b",
        refresh_token="r",
        access_expires_at=timezone.now() + timedelta(hours=3),
        refresh_expires_at=timezone.now() + timedelta(days=2),
    )
    result = tasks.refresh_sweep()
    assert queued == [("apps.integrations.tasks.refresh_connection", ("tiktok_content", soon.pk))]
    assert result == {"queued": 1, "expiring": 1}


def test_sync_sweep_starts_due_kinds_once(tenant_a, monkeypatch):
    queued = []
    monkeypatch.setattr(
        "apps.integrations.scheduling.enqueue", lambda func, *args: queued.append(args)
    )
    from apps.integrations.sync import sync_kinds

    conn = TikTokAdsConnection.objects.create(tenant=tenant_a, access_token="t")
    scheduled = {k.kind for k in sync_kinds.for_product("tiktok_ads") if k.schedule_minutes}
    assert tasks.sync_sweep() == len(scheduled)
    runs = list(SyncRun.objects.all())
    assert {r.kind for r in runs} == scheduled
    assert {(r.connection_id, r.trigger) for r in runs} == {(conn.pk, "schedule")}
    assert sorted(queued) == sorted((r.pk,) for r in runs)
    # Not due again until the interval has passed.
    SyncRun.objects.update(status="succeeded")
    assert tasks.sync_sweep() == 0
