import pytest
from django.utils import timezone

from apps.integrations.models import SyncRun

pytestmark = pytest.mark.django_db


def test_metrics_are_hidden_in_production_without_the_token(client, settings):
    settings.DEBUG = False
    settings.METRICS_TOKEN = "s3cret-metrics-token"

    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    assert (
        client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-metrics-token").status_code == 200
    )


def test_metrics_report_sync_runs_and_queue_depth(client, settings, tenant_a):
    settings.DEBUG = True
    settings.METRICS_TOKEN = ""
    now = timezone.now()
    for seconds in (3, 5):
        SyncRun.objects.create(
            tenant=tenant_a, product="tiktok_ads", kind="campaigns", connection_id=1,
            status=SyncRun.Status.SUCCEEDED, trigger="manual",
            started_at=now - timezone.timedelta(seconds=seconds), finished_at=now,
        )  # fmt: skip

    response = client.get("/metrics")
    text = response.content.decode()

    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    assert 'hub_sync_runs{kind="campaigns",product="tiktok_ads",status="succeeded"} 2' in text
    assert 'hub_sync_run_seconds_total{kind="campaigns",product="tiktok_ads"} 8' in text
    assert "# TYPE hub_task_queue_depth gauge" in text
