"""The ad_accounts and insights sync kinds: paging, bulk upserts, links, lookback, backfill."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from io import StringIO
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.core.management import call_command
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.integrations.models import ConnectionStatus, SyncRun
from apps.integrations.sync import SyncWindow, sync_kinds, sync_run_for_connection_now
from apps.integrations.testing import load_fixture
from apps.meta_ads.models import MetaAdAccount, MetaAdAccountAccess, MetaAdInsight, MetaProfile
from apps.meta_ads.sync import (
    INSIGHTS_LOOKBACK_DAYS,
    accounts_led_by,
    insight_days,
)
from apps.sandbox import meta_data

from .conftest import connect_profile

pytestmark = pytest.mark.django_db

APP = "meta_ads"
GRAPH = "https://graph.facebook.com/v25.0"
ONLINE = "1585564276644314"


@pytest.fixture
def real_hosts(settings):
    settings.META_GRAPH_BASE = "https://graph.facebook.com"
    settings.META_GRAPH_VERSION = "v25.0"
    settings.META_APP_SECRET = "test_app_secret"


@pytest.fixture
def mocked(real_hosts):
    with responses.RequestsMock() as rsps:
        yield rsps


def make_profile(tenant, n: int = 1, status=ConnectionStatus.CONNECTED) -> MetaProfile:
    return MetaProfile.objects.create(
        tenant=tenant,
        access_token=f"EAAprofile{n}token0000000000000000000000",
        external_user_id=f"1016000000000000{n}",
        display_name=f"Profile {n}",
        status=status,
    )


def make_account(tenant, account_id: str, *, tracked=True, tz="America/Sao_Paulo", profiles=()):
    account = MetaAdAccount.objects.create(
        tenant=tenant,
        account_id=account_id,
        name=f"Account {account_id[-4:]}",
        currency="BRL",
        status=1,
        timezone_name=tz,
        tracking_enabled=tracked,
        synced_at=timezone.now(),
    )
    for profile in profiles:
        MetaAdAccountAccess.objects.create(
            tenant=tenant, profile=profile, ad_account=account, seen_at=timezone.now()
        )
    return account


def test_both_kinds_are_registered_with_schedules():
    kinds = {k.kind: k for k in sync_kinds.for_product("meta_ads")}

    assert set(kinds) == {"ad_accounts", "insights"}
    assert kinds["ad_accounts"].schedule_minutes and kinds["insights"].schedule_minutes
    assert kinds["insights"].unique_fields == ("ad_account", "ad_id", "date")
    assert kinds["insights"].window_step == timedelta(days=30)


# --- ad accounts --------------------------------------------------------------------------


def test_ad_accounts_are_paged_upserted_and_linked_to_the_profile(mocked, tenant_a):
    profile = make_profile(tenant_a)
    mocked.get(f"{GRAPH}/me/adaccounts", json=load_fixture(APP, "me_adaccounts__page1"))
    mocked.get(f"{GRAPH}/me/adaccounts", json=load_fixture(APP, "me_adaccounts__page2"))

    run = sync_run_for_connection_now(connection=profile, kind="ad_accounts", trigger="manual")

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.stats["fetched"] == 3 and run.stats["created"] == 3
    second_query = parse_qs(urlsplit(mocked.calls[1].request.url).query)
    assert second_query["after"] == ["QVFIUnN6Ym1RdE9hZAG5"]
    accounts = {a.account_id: a for a in MetaAdAccount.objects.for_tenant(tenant_a)}
    assert accounts[ONLINE].name == "Loja Online"
    assert accounts[ONLINE].currency == "BRL"
    assert accounts[ONLINE].status == 1
    assert accounts[ONLINE].business_name == "Loja Online Ltda"
    assert accounts["1722000000000003"].is_trackable is False  # disabled
    assert not any(a.tracking_enabled for a in accounts.values())  # off by default
    assert set(profile.ad_accounts.values_list("account_id", flat=True)) == set(accounts)


def test_a_resync_keeps_the_admin_choices_and_forgets_accounts_no_longer_reached(mocked, tenant_a):
    profile = make_profile(tenant_a)
    mocked.get(f"{GRAPH}/me/adaccounts", json=load_fixture(APP, "me_adaccounts__page1"))
    mocked.get(f"{GRAPH}/me/adaccounts", json=load_fixture(APP, "me_adaccounts__page2"))
    sync_run_for_connection_now(connection=profile, kind="ad_accounts", trigger="manual")
    MetaAdAccount.objects.filter(account_id=ONLINE).update(
        tracking_enabled=True, pixel_id="812345678901234", pixel_name="Pixel"
    )
    only_first_page = load_fixture(APP, "me_adaccounts__page1")
    del only_first_page["paging"]["next"]
    mocked.get(f"{GRAPH}/me/adaccounts", json=only_first_page)

    run = sync_run_for_connection_now(connection=profile, kind="ad_accounts", trigger="manual")

    assert run.stats["updated"] == 2
    online = MetaAdAccount.objects.get(account_id=ONLINE)
    assert (online.tracking_enabled, online.pixel_id) == (True, "812345678901234")
    assert set(profile.ad_accounts.values_list("account_id", flat=True)) == {
        "1549833454461777",
        ONLINE,
    }
    # The account row itself stays (another profile may still reach it; its data is kept).
    assert MetaAdAccount.objects.filter(account_id="1722000000000003").exists()


def test_ad_accounts_page_costs_a_fixed_number_of_queries(mocked, tenant_a):
    profile = make_profile(tenant_a)
    page = load_fixture(APP, "me_adaccounts__page1")
    del page["paging"]["next"]
    page["data"] = [
        {**page["data"][0], "id": f"act_{n}", "account_id": str(n), "name": f"A{n}"}
        for n in range(1000, 1050)
    ]
    mocked.get(f"{GRAPH}/me/adaccounts", json=page)

    with CaptureQueriesContext(db_connection) as queries:
        run = sync_run_for_connection_now(connection=profile, kind="ad_accounts", trigger="manual")

    assert run.stats["created"] == 50
    assert MetaAdAccountAccess.objects.filter(profile=profile).count() == 50
    assert (
        len(queries) < 40
    )  # no query per account (50 accounts; PostgreSQL upserts take 4 statements, SQLite 2)


def test_a_dead_token_during_the_sync_marks_the_profile_expired(mocked, tenant_a):
    profile = make_profile(tenant_a)
    mocked.get(
        f"{GRAPH}/me/adaccounts", status=400, json=load_fixture(APP, "error__expired_token_190")
    )

    run = sync_run_for_connection_now(connection=profile, kind="ad_accounts", trigger="manual")

    assert run.status == SyncRun.Status.FAILED
    assert "TokenExpired" in run.error
    profile.refresh_from_db()
    assert profile.status == ConnectionStatus.EXPIRED
    assert "190/463" in profile.last_error


# --- insights -------------------------------------------------------------------------------


def test_insight_rows_are_read_from_strings_and_actions(mocked, tenant_a):
    profile = make_profile(tenant_a)
    account = make_account(tenant_a, ONLINE, profiles=[profile])
    mocked.get(f"{GRAPH}/act_{ONLINE}/insights", json=load_fixture(APP, "act_insights__page1"))
    mocked.get(f"{GRAPH}/act_{ONLINE}/insights", json=load_fixture(APP, "act_insights__page2"))

    run = sync_run_for_connection_now(connection=profile, kind="insights", trigger="manual")

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.stats == {"fetched": 4, "created": 3, "updated": 0, "skipped": 1, "errors": 0}
    rows = {(r.ad_id, r.date): r for r in MetaAdInsight.objects.filter(ad_account=account)}
    first = rows[("120212345678900123", date(2026, 11, 20))]
    assert first.spend == Decimal("14.35")
    assert (first.impressions, first.clicks) == (1532, 41)
    assert first.messaging_conversations_started == 12
    assert first.currency == "BRL"
    assert first.campaign_name == "Conversas WhatsApp 1"
    assert first.adset_name == "Público Amplo"
    traffic = rows[("120212345678903333", date(2026, 11, 20))]
    assert traffic.messaging_conversations_started is None  # not a messaging ad
    late = rows[("120212345678900123", date(2026, 11, 21))]
    assert (late.spend, late.clicks) == (Decimal("9.80"), 0)  # missing count: 0


def test_insights_rerun_updates_the_same_rows(mocked, tenant_a):
    profile = make_profile(tenant_a)
    make_account(tenant_a, ONLINE, profiles=[profile])
    for _ in range(2):
        mocked.get(f"{GRAPH}/act_{ONLINE}/insights", json=load_fixture(APP, "act_insights__page1"))
        mocked.get(f"{GRAPH}/act_{ONLINE}/insights", json=load_fixture(APP, "act_insights__page2"))

    sync_run_for_connection_now(connection=profile, kind="insights", trigger="manual")
    run = sync_run_for_connection_now(connection=profile, kind="insights", trigger="manual")

    assert (run.stats["created"], run.stats["updated"]) == (0, 3)
    assert MetaAdInsight.objects.count() == 3


def test_only_tracked_accounts_are_fetched(mocked, tenant_a):
    profile = make_profile(tenant_a)
    make_account(tenant_a, ONLINE, tracked=False, profiles=[profile])

    run = sync_run_for_connection_now(connection=profile, kind="insights", trigger="manual")

    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.stats["fetched"] == 0
    assert len(mocked.calls) == 0


def test_each_tracked_account_is_led_by_its_first_working_profile(tenant_a):
    first, second, third = (make_profile(tenant_a, n) for n in (1, 2, 3))
    shared = make_account(tenant_a, "1001", profiles=[first, second])
    own = make_account(tenant_a, "1002", profiles=[second])
    make_account(tenant_a, "1003", tracked=False, profiles=[third])

    assert accounts_led_by(first) == [shared]
    assert accounts_led_by(second) == [own]
    assert accounts_led_by(third) == []

    first.status = ConnectionStatus.EXPIRED
    first.save()
    assert accounts_led_by(first) == []
    assert accounts_led_by(second) == [shared, own]


def test_unbounded_runs_re_pull_the_lookback_in_the_account_time_zone():
    now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # still the 22nd in São Paulo

    since, until = insight_days(window=SyncWindow(), zone_name="America/Sao_Paulo", now=now)

    assert until == date(2026, 11, 22)
    assert since == until - timedelta(days=INSIGHTS_LOOKBACK_DAYS)
    assert insight_days(window=SyncWindow(), zone_name="Asia/Tokyo", now=now)[1] == date(
        2026, 11, 23
    )


def test_bounded_windows_are_calendar_days_capped_at_today():
    window = SyncWindow(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 31, tzinfo=UTC))
    now = datetime(2026, 11, 23, 12, tzinfo=UTC)

    assert insight_days(window=window, zone_name="UTC", now=now) == (
        date(2026, 10, 1),
        date(2026, 10, 30),
    )
    future = SyncWindow(datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC))
    assert insight_days(window=future, zone_name="UTC", now=now) == (
        date(2026, 11, 20),
        date(2026, 11, 23),
    )


# --- backfill through the sandbox -------------------------------------------------------------


def test_backfill_command_fetches_every_day_once_and_a_rerun_duplicates_nothing(
    owner_client, sandbox, tenant_a
):
    connect_profile(owner_client, 0)
    connect_profile(owner_client, 1)
    shared = meta_data.ad_accounts()[1]
    MetaAdAccount.objects.filter(account_id=shared.account_id).update(tracking_enabled=True)
    since = timezone.localdate() - timedelta(days=40)
    out = StringIO()

    call_command(
        "backfill",
        "meta_ads",
        "insights",
        "--tenant",
        "acme",
        "--since",
        since.isoformat(),
        stdout=out,
    )

    expected = meta_data.insight_rows(shared, since, timezone.localdate())
    stored = MetaAdInsight.objects.for_tenant(tenant_a)
    assert stored.count() == len(expected) > 0
    assert {(r.ad_id, r.date) for r in stored} == {
        (row["ad_id"], date.fromisoformat(row["date_start"])) for row in expected
    }
    text = out.getvalue()
    assert "Backfill meta_ads/insights for acme" in text
    assert "window 1/2" in text  # 41 days cut into 30-day windows, with progress lines
    assert f"created={len(expected)}" in text

    again = StringIO()
    call_command(
        "backfill",
        "meta_ads",
        "insights",
        "--tenant",
        "acme",
        "--since",
        since.isoformat(),
        stdout=again,
    )
    assert MetaAdInsight.objects.for_tenant(tenant_a).count() == len(expected)
    assert "created=0" in again.getvalue()
    assert f"updated={len(expected)}" in again.getvalue()


def test_backfill_refuses_beyond_37_months(owner_client, sandbox):
    from django.core.management.base import CommandError

    connect_profile(owner_client, 0)
    with pytest.raises(CommandError, match="reaches back"):
        call_command(
            "backfill",
            "meta_ads",
            "insights",
            "--tenant",
            "acme",
            "--since",
            "2020-01-01",
            stdout=StringIO(),
        )
