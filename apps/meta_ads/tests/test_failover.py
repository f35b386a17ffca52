"""Acceptance 4: two profiles reach one ad account; one token dies; the other carries on.

Everything goes through the hub's views and the sandbox (in process): two
sandbox Facebook users log in, both reach the sandbox's shared ad account,
the first user's authorization is revoked at the (emulated) provider, and
enrichment and insights for the shared account still work.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from apps.integrations.models import ConnectionStatus, SyncRun
from apps.integrations.sync import sync_run_for_connection_now
from apps.leads.enrichment import AdDetails, EnrichmentUnavailable, enrichers
from apps.meta_ads.models import MetaAdAccount, MetaAdInsight
from apps.sandbox import grants, meta_data

from .conftest import connect_profile, sandbox_user

pytestmark = pytest.mark.django_db

SHARED = meta_data.ad_accounts()[1]
ONLY_FIRST = meta_data.ad_accounts()[0]


@pytest.fixture
def two_profiles(owner_client, sandbox):
    first = connect_profile(owner_client, 0)
    second = connect_profile(owner_client, 1)
    return first, second


@pytest.fixture
def shared_tracked(owner_client, two_profiles, tenant_a) -> MetaAdAccount:
    account = MetaAdAccount.objects.for_tenant(tenant_a).get(account_id=SHARED.account_id)
    response = owner_client.post(
        reverse("meta_ads:ad_account_tracking", args=[account.pk]), {"enabled": "on"}
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.tracking_enabled
    return account


def revoke_in_the_sandbox(index: int) -> None:
    """The user removes the app on Facebook: every token they gave dies (190/458)."""
    assert grants.revoke_account(provider="meta", account_id=sandbox_user(index).account_id)


def test_an_account_reached_by_two_profiles_is_listed_once(owner_client, two_profiles, tenant_a):
    first, second = two_profiles

    body = owner_client.get(reverse("integrations:hub"), {"tab": "meta"}).content.decode()

    assert body.count(f'data-account="{SHARED.account_id}"') == 1
    row = re.search(rf'data-account="{SHARED.account_id}".*?</li>', body, re.S).group(0)
    assert first.display_name in row and second.display_name in row
    assert (
        MetaAdAccount.objects.for_tenant(tenant_a).filter(account_id=SHARED.account_id).count() == 1
    )
    assert set(
        MetaAdAccount.objects.get(account_id=SHARED.account_id).profiles.values_list(
            "pk", flat=True
        )
    ) == {first.pk, second.pk}
    # Each profile also reaches an account of its own: three accounts in all.
    assert MetaAdAccount.objects.for_tenant(tenant_a).count() == 3


def test_enrichment_falls_over_to_the_second_profile(two_profiles, shared_tracked, tenant_a):
    first, second = two_profiles
    ad = meta_data.default_ad()
    assert ad.account_id == SHARED.account_id
    revoke_in_the_sandbox(0)

    details = enrichers.get("meta")(tenant_a, ad.ad_id)

    assert details == AdDetails(
        ad_id=ad.ad_id,
        ad_name=ad.name,
        adset_id=ad.adset_id,
        adset_name=ad.adset_name,
        campaign_id=ad.campaign_id,
        campaign_name=ad.campaign_name,
        account_id=SHARED.account_id,
        account_name=SHARED.name,
    )
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == ConnectionStatus.EXPIRED  # Meta said 190: the card asks to reconnect
    assert "not authorized" in first.last_error
    assert second.status in (ConnectionStatus.CONNECTED, ConnectionStatus.EXPIRING)


def test_insights_of_the_shared_account_fall_over_mid_run(two_profiles, shared_tracked, tenant_a):
    first, second = two_profiles
    revoke_in_the_sandbox(0)

    # The first profile leads the shared account (lowest id) and its token is dead.
    run = sync_run_for_connection_now(connection=first, kind="insights", trigger="manual")

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    rows = MetaAdInsight.objects.for_tenant(tenant_a)
    assert rows.exists()
    assert set(rows.values_list("ad_account__account_id", flat=True)) == {SHARED.account_id}
    first.refresh_from_db()
    assert first.status == ConnectionStatus.EXPIRED

    # From now on the second profile leads the account; its own run covers it.
    MetaAdInsight.objects.all().delete()
    run = sync_run_for_connection_now(connection=second, kind="insights", trigger="manual")
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.stats["created"] == rows.count() > 0


def test_after_the_revoke_enrichment_of_a_known_ad_uses_the_account(
    two_profiles, shared_tracked, tenant_a
):
    first, _second = two_profiles
    sync_run_for_connection_now(connection=first, kind="insights", trigger="manual")
    ad_id = MetaAdInsight.objects.for_tenant(tenant_a).values_list("ad_id", flat=True).first()
    revoke_in_the_sandbox(0)

    details = enrichers.get("meta")(tenant_a, ad_id)

    assert details.account_id == SHARED.account_id
    assert details.campaign_name
    first.refresh_from_db()
    assert first.status == ConnectionStatus.EXPIRED


def test_when_no_profile_reaches_the_account_enrichment_says_so(
    two_profiles, shared_tracked, tenant_a
):
    first, second = two_profiles
    sync_run_for_connection_now(connection=first, kind="insights", trigger="manual")
    ad_id = MetaAdInsight.objects.for_tenant(tenant_a).values_list("ad_id", flat=True).first()
    revoke_in_the_sandbox(0)
    revoke_in_the_sandbox(1)

    with pytest.raises(EnrichmentUnavailable) as caught:
        enrichers.get("meta")(tenant_a, ad_id)

    assert str(caught.value) == f"no connected profile reaches ad account act_{SHARED.account_id}"
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (ConnectionStatus.EXPIRED, ConnectionStatus.EXPIRED)


def test_an_ad_of_an_account_only_the_revoked_profile_reached_is_unavailable(
    two_profiles, tenant_a
):
    ad = meta_data.ads_of(ONLY_FIRST.account_id)[0]
    revoke_in_the_sandbox(0)

    with pytest.raises(EnrichmentUnavailable, match="no connected profile reaches"):
        enrichers.get("meta")(tenant_a, ad.ad_id)


def test_no_profile_at_all(tenant_a, db):
    with pytest.raises(EnrichmentUnavailable, match=r"ad account of ad 120200000000000001"):
        enrichers.get("meta")(tenant_a, "120200000000000001")
