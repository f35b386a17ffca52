"""Campaign sync through the sandbox: interrupted mid-run, rerun, nothing lost or doubled."""

import pytest

from apps.integrations.http import ProviderClient
from apps.integrations.models import SyncRun
from apps.integrations.sync import sync_run_for_connection_now
from apps.sandbox import generator
from apps.tiktok_ads.models import TikTokAdsCampaign
from apps.tiktok_ads.sync import CAMPAIGN_PAGE_SIZE

from .test_contract import AdsContract

pytestmark = pytest.mark.django_db

CAMPAIGN_GET = "/open_api/v1.3/campaign/get/"


@pytest.fixture
def no_backoff(monkeypatch):
    monkeypatch.setattr(ProviderClient, "backoff_base", 0.0)


@pytest.fixture
def ads_connection(owner_client, sandbox):
    conn, _ = AdsContract().connect(owner_client)
    assert len(conn.assets["advertiser_ids"]) >= 2
    return conn


def provider_campaign_ids(connection) -> set[str]:
    return {
        c["campaign_id"]
        for advertiser in connection.assets["advertiser_ids"]
        for c in generator.campaigns(advertiser)
    }


def page_sizes(connection) -> list[int]:
    """How many campaigns each page of the whole walk carries, in order."""
    sizes = []
    for advertiser in connection.assets["advertiser_ids"]:
        count = len(generator.campaigns(advertiser))
        sizes += [
            min(CAMPAIGN_PAGE_SIZE, count - start) for start in range(0, count, CAMPAIGN_PAGE_SIZE)
        ]
    return sizes


def test_full_sync_stores_exactly_the_providers_campaigns(ads_connection, sandbox):
    run = sync_run_for_connection_now(connection=ads_connection, kind="campaigns", trigger="manual")
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    expected = provider_campaign_ids(ads_connection)
    stored = list(TikTokAdsCampaign.objects.values_list("campaign_id", flat=True))
    assert sorted(stored) == sorted(expected)
    assert run.stats["fetched"] == len(expected) == run.stats["created"]
    assert sandbox.calls(CAMPAIGN_GET) == len(page_sizes(ads_connection))
    deleted = TikTokAdsCampaign.objects.filter(secondary_status="CAMPAIGN_STATUS_DELETE")
    assert deleted.exists()


def test_sync_interrupted_after_page_k_resumes_and_ends_exact(ads_connection, sandbox, no_backoff):
    sizes = page_sizes(ads_connection)
    total_pages = len(sizes)
    k = 2
    assert total_pages > k + 1
    sandbox.inject(
        provider="tiktok_ads", path_contains=CAMPAIGN_GET, kind="500", after=k, times=1000
    )
    first = sync_run_for_connection_now(
        connection=ads_connection, kind="campaigns", trigger="manual"
    )
    assert first.status == SyncRun.Status.FAILED
    assert first.stats["fetched"] == sum(sizes[:k])
    assert TikTokAdsCampaign.objects.count() == sum(sizes[:k])

    sandbox.clear()  # the provider recovers; the call counters restart at zero
    second = sync_run_for_connection_now(
        connection=ads_connection, kind="campaigns", trigger="manual"
    )
    assert second.status == SyncRun.Status.SUCCEEDED, second.error
    # Only the pages after the checkpoint were fetched again.
    assert sandbox.calls(CAMPAIGN_GET) == total_pages - k
    expected = provider_campaign_ids(ads_connection)
    stored = list(TikTokAdsCampaign.objects.values_list("campaign_id", flat=True))
    assert len(stored) == len(set(stored)) == len(expected)
    assert set(stored) == expected


def test_a_rerun_updates_in_place(ads_connection, sandbox):
    sync_run_for_connection_now(connection=ads_connection, kind="campaigns", trigger="manual")
    again = sync_run_for_connection_now(
        connection=ads_connection, kind="campaigns", trigger="manual"
    )
    assert again.stats["created"] == 0
    assert again.stats["updated"] == again.stats["fetched"] > 0
    assert TikTokAdsCampaign.objects.count() == len(provider_campaign_ids(ads_connection))
