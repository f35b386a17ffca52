"""Provider timeouts during a sync (issue 11): the run fails, keeps its checkpoint, and the next
run resumes there; nothing lost, nothing doubled. The 5xx storm of the same shape is
``test_campaign_sync.py::test_sync_interrupted_after_page_k_resumes_and_ends_exact``."""

import pytest

from apps.integrations.models import ApiCallLog, SyncRun
from apps.integrations.sync import sync_run_for_connection_now
from apps.tiktok_ads.models import TikTokAdsCampaign

from .test_campaign_sync import (
    CAMPAIGN_GET,
    ads_connection,  # noqa: F401 - fixture
    no_backoff,  # noqa: F401 - fixture
    page_sizes,
    provider_campaign_ids,
)

pytestmark = pytest.mark.django_db


def test_a_storm_of_timeouts_fails_the_run_which_the_next_run_resumes(
    ads_connection,  # noqa: F811
    sandbox,
    no_backoff,  # noqa: F811
):
    sizes = page_sizes(ads_connection)
    k = 2
    sandbox.inject(
        provider="tiktok_ads", path_contains=CAMPAIGN_GET, kind="timeout", after=k, times=1000
    )

    first = sync_run_for_connection_now(
        connection=ads_connection, kind="campaigns", trigger="manual"
    )

    assert first.status == SyncRun.Status.FAILED
    assert "timed out" in first.error.lower() or "timeout" in first.error.lower(), first.error
    # A GET that times out is retried (safe to repeat) before the run gives up.
    assert sandbox.calls(CAMPAIGN_GET) > k + 1
    assert first.stats["fetched"] == sum(sizes[:k])
    assert TikTokAdsCampaign.objects.count() == sum(sizes[:k])
    assert first.checkpoint.get("cursor")  # where the next run starts
    assert ApiCallLog.objects.filter(path__contains="campaign/get").exists()

    sandbox.clear()  # the provider answers again
    second = sync_run_for_connection_now(
        connection=ads_connection, kind="campaigns", trigger="manual"
    )

    assert second.status == SyncRun.Status.SUCCEEDED, second.error
    assert sandbox.calls(CAMPAIGN_GET) == len(sizes) - k  # only the pages not yet stored
    stored = list(TikTokAdsCampaign.objects.values_list("campaign_id", flat=True))
    assert len(stored) == len(set(stored))
    assert set(stored) == provider_campaign_ids(ads_connection)
