"""Pause/resume and daily budgets: validated first, TikTok second, our row and the audit last.

Most tests mock TikTok with ``responses``, so each says exactly what the
Marketing API answers; the last ones go through the real client and the
in-process sandbox, which keeps what was changed across the next sync.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import responses
from django.conf import settings
from django.urls import reverse

from apps.integrations.models import AuditEntry, ConnectionStatus
from apps.integrations.sync import sync_run_for_connection_now
from apps.tenants.models import Membership
from apps.tiktok_ads import actions
from apps.tiktok_ads.models import TikTokAdGroup, TikTokAdsCampaign, TikTokAdvertiser, TikTokPixel

from .test_contract import AdsContract
from .test_selectors import (
    make_ad,
    make_adgroup,
    make_advertiser,
    make_campaign,
    make_connection,
    make_pixel,
)

pytestmark = pytest.mark.django_db

API = "/open_api/v1.3"
HTMX = {"HX-Request": "true"}


def api_url(path: str) -> str:
    return f"{settings.TIKTOK_ADS_API_BASE}{API}/{path}"


def envelope(code: int = 0, message: str = "OK", data: dict | None = None) -> dict:
    return {"code": code, "message": message, "request_id": "req-42", "data": data or {}}


@pytest.fixture
def tiktok():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def conn(tenant_a):
    return make_connection(tenant_a)


@pytest.fixture
def objs(conn):
    make_advertiser(conn, "7001", currency="USD")
    campaign = make_campaign(conn, "c1")
    adgroup = make_adgroup(conn, "g1", campaign, budget=Decimal("50.00"))
    ad = make_ad(conn, "a1", adgroup)
    return {"campaign": campaign, "adgroup": adgroup, "ad": ad}


def sent(mock, index: int = -1) -> dict:
    return json.loads(mock.calls[index].request.body)


# --- status ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, ids_key, setter",
    [
        ("campaign", "campaign_ids", "campaign_set_status"),
        ("adgroup", "adgroup_ids", "adgroup_set_status"),
        ("ad", "ad_ids", "ad_set_status"),
    ],
)
def test_pause_calls_tiktok_then_updates_the_row_and_audits(
    kind, ids_key, setter, objs, owner_a, tiktok
):
    tiktok.post(api_url(f"{kind}/status/update/"), json=envelope(data={"status": "DISABLE"}))
    obj = objs[kind]
    getattr(actions, setter)(user=owner_a, **{kind: obj}, enabled=False)

    body = sent(tiktok)
    assert body["advertiser_id"] == "7001"
    assert body[ids_key] == [getattr(obj, f"{kind}_id")]
    assert body["operation_status"] == "DISABLE"
    obj.refresh_from_db()
    assert obj.operation_status == "DISABLE"
    entry = AuditEntry.objects.get()
    assert (entry.tenant_id, entry.user, entry.product, entry.action) == (
        obj.tenant_id,
        owner_a,
        "tiktok_ads",
        "set_status",
    )
    assert (entry.object_type, entry.object_id) == (kind, getattr(obj, f"{kind}_id"))
    assert entry.before == {"operation_status": "ENABLE"}
    assert entry.after == {"operation_status": "DISABLE"}
    assert (entry.outcome, entry.error) == ("succeeded", "")


def test_resume_sends_enable(objs, owner_a, tiktok):
    campaign = objs["campaign"]
    TikTokAdsCampaign.objects.filter(pk=campaign.pk).update(operation_status="DISABLE")
    campaign.refresh_from_db()
    tiktok.post(api_url("campaign/status/update/"), json=envelope())
    actions.campaign_set_status(user=owner_a, campaign=campaign, enabled=True)
    assert sent(tiktok)["operation_status"] == "ENABLE"
    assert TikTokAdsCampaign.objects.get().operation_status == "ENABLE"


def test_a_provider_refusal_changes_nothing_and_is_audited_as_failed(objs, owner_a, tiktok):
    tiktok.post(
        api_url("campaign/status/update/"),
        json=envelope(40002, "campaign_ids: campaign is in review"),
    )
    with pytest.raises(actions.ActionFailed) as refused:
        actions.campaign_set_status(user=owner_a, campaign=objs["campaign"], enabled=False)
    assert "campaign is in review" in str(refused.value)
    assert TikTokAdsCampaign.objects.get().operation_status == "ENABLE"
    entry = AuditEntry.objects.get()
    assert entry.outcome == "failed"
    assert entry.after == {"operation_status": "DISABLE"}
    assert "campaign is in review" in entry.error and "40002" in entry.error


def test_a_refused_token_asks_for_a_reconnect(objs, owner_a, tiktok):
    tiktok.post(api_url("ad/status/update/"), json=envelope(40105, "Access token is invalid"))
    with pytest.raises(actions.ActionFailed, match="Reconnect TikTok Ads"):
        actions.ad_set_status(user=owner_a, ad=objs["ad"], enabled=False)
    assert AuditEntry.objects.get().outcome == "failed"


def test_missing_permission_names_the_pack(objs, owner_a, tiktok):
    tiktok.post(api_url("campaign/status/update/"), json=envelope(40001, "No permission"))
    with pytest.raises(actions.ActionFailed, match="Manage ads"):
        actions.campaign_set_status(user=owner_a, campaign=objs["campaign"], enabled=False)


def test_a_server_error_is_not_repeated_and_changes_nothing(objs, owner_a, tiktok):
    tiktok.post(api_url("campaign/status/update/"), status=503, json={"message": "busy"})
    with pytest.raises(actions.ActionFailed):
        actions.campaign_set_status(user=owner_a, campaign=objs["campaign"], enabled=False)
    assert len(tiktok.calls) == 1
    assert TikTokAdsCampaign.objects.get().operation_status == "ENABLE"
    assert AuditEntry.objects.get().outcome == "failed"


def test_deleted_objects_cannot_change(conn, owner_a, tiktok):
    make_advertiser(conn)
    gone = make_campaign(conn, "c9", secondary_status="CAMPAIGN_STATUS_DELETE")
    with pytest.raises(actions.ActionRefused, match="deleted"):
        actions.campaign_set_status(user=owner_a, campaign=gone, enabled=True)
    assert len(tiktok.calls) == 0
    assert not AuditEntry.objects.exists()


def test_a_disconnected_account_cannot_change(objs, conn, owner_a, tiktok):
    conn.status = ConnectionStatus.DISCONNECTED
    conn.save()
    campaign = TikTokAdsCampaign.objects.select_related("connection").get()
    with pytest.raises(actions.ActionRefused, match="Reconnect"):
        actions.campaign_set_status(user=owner_a, campaign=campaign, enabled=False)
    assert len(tiktok.calls) == 0


# --- daily budget -------------------------------------------------------------------------


def test_budget_change_calls_tiktok_then_updates_the_row_and_audits(objs, owner_a, tiktok):
    tiktok.post(api_url("adgroup/budget/update/"), json=envelope())
    actions.adgroup_set_daily_budget(user=owner_a, adgroup=objs["adgroup"], budget=Decimal("75.5"))
    body = sent(tiktok)
    assert body["advertiser_id"] == "7001"
    assert body["budget"] == [{"adgroup_id": "g1", "budget": 75.5}]
    assert TikTokAdGroup.objects.get().budget == Decimal("75.50")
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.object_type, entry.object_id, entry.outcome) == (
        "set_daily_budget",
        "adgroup",
        "g1",
        "succeeded",
    )
    assert entry.before == {"budget": "50.00", "budget_mode": "BUDGET_MODE_DAY"}
    assert entry.after == {"budget": "75.50", "budget_mode": "BUDGET_MODE_DAY"}


def test_budget_refused_by_tiktok_changes_nothing(objs, owner_a, tiktok):
    tiktok.post(
        api_url("adgroup/budget/update/"),
        json=envelope(40002, "Budget must be at least 20.00"),
    )
    with pytest.raises(actions.ActionFailed, match="Budget must be at least"):
        actions.adgroup_set_daily_budget(user=owner_a, adgroup=objs["adgroup"], budget=Decimal(30))
    assert TikTokAdGroup.objects.get().budget == Decimal("50.00")
    entry = AuditEntry.objects.get()
    assert entry.outcome == "failed" and entry.after["budget"] == "30.00"


@pytest.mark.parametrize(
    "currency, below, minimum",
    [
        ("USD", "19.99", "20.00"),
        ("EUR", "10", "20.00"),
        ("BRL", "99.99", "100.00"),
        ("JPY", "1999", "2000.00"),
        ("GBP", "5", "20.00"),
    ],
)
def test_budget_below_the_currency_minimum_is_refused_before_any_call(
    conn, owner_a, tiktok, currency, below, minimum
):
    make_advertiser(conn, "7001", currency=currency)
    adgroup = make_adgroup(conn, "g1", make_campaign(conn, "c1"))
    with pytest.raises(actions.ActionRefused) as refused:
        actions.adgroup_set_daily_budget(user=owner_a, adgroup=adgroup, budget=Decimal(below))
    assert f"at least {minimum} {currency}" in str(refused.value)
    assert len(tiktok.calls) == 0
    assert not AuditEntry.objects.exists()
    assert TikTokAdGroup.objects.get().budget == Decimal("50.00")


def test_a_currency_without_local_minimum_lets_tiktok_decide(conn, owner_a, tiktok):
    make_advertiser(conn, "7001", currency="MXN")
    adgroup = make_adgroup(conn, "g1", make_campaign(conn, "c1"))
    tiktok.post(api_url("adgroup/budget/update/"), json=envelope())
    actions.adgroup_set_daily_budget(user=owner_a, adgroup=adgroup, budget=Decimal("1.00"))
    assert len(tiktok.calls) == 1


def test_the_currency_comes_from_connect_until_advertisers_are_synced(tenant_a, owner_a, tiktok):
    conn = make_connection(
        tenant_a,
        assets={"advertiser_ids": ["7001"], "advertisers": [{"id": "7001", "currency": "BRL"}]},
    )
    adgroup = make_adgroup(conn, "g1", make_campaign(conn, "c1"))
    with pytest.raises(actions.ActionRefused, match=r"100\.00 BRL"):
        actions.adgroup_set_daily_budget(user=owner_a, adgroup=adgroup, budget=Decimal("50"))


@pytest.mark.parametrize(
    "budget, message",
    [
        (Decimal("0"), "positive"),
        (Decimal("-5"), "positive"),
        (Decimal("NaN"), "positive"),
        (Decimal("25.555"), "2 decimals"),
        (Decimal("1e15"), "too large"),
    ],
)
def test_malformed_budgets_are_refused_before_any_call(objs, owner_a, tiktok, budget, message):
    with pytest.raises(actions.ActionRefused, match=message):
        actions.adgroup_set_daily_budget(user=owner_a, adgroup=objs["adgroup"], budget=budget)
    assert len(tiktok.calls) == 0


def test_only_daily_budgets_change_here(conn, owner_a, tiktok):
    make_advertiser(conn)
    total = make_adgroup(conn, "g1", make_campaign(conn, "c1"), budget_mode="BUDGET_MODE_TOTAL")
    with pytest.raises(actions.ActionRefused, match="BUDGET_MODE_TOTAL"):
        actions.adgroup_set_daily_budget(user=owner_a, adgroup=total, budget=Decimal("500"))
    assert len(tiktok.calls) == 0


def test_a_deleted_adgroup_budget_cannot_change(conn, owner_a, tiktok):
    make_advertiser(conn)
    gone = make_adgroup(
        conn, "g1", make_campaign(conn, "c1"), secondary_status="ADGROUP_STATUS_DELETE"
    )
    with pytest.raises(actions.ActionRefused, match="deleted"):
        actions.adgroup_set_daily_budget(user=owner_a, adgroup=gone, budget=Decimal("60"))
    assert len(tiktok.calls) == 0


@pytest.mark.parametrize(
    "typed, amount",
    [("25", Decimal("25")), (" 25,50 ", Decimal("25.50")), ("30.1", Decimal("30.1"))],
)
def test_budget_parse_reads_what_people_type(typed, amount):
    assert actions.budget_parse(typed) == amount


@pytest.mark.parametrize("typed", ["", "abc", None, "1.2.3"])
def test_budget_parse_refuses_what_is_not_a_number(typed):
    with pytest.raises(actions.ActionRefused):
        actions.budget_parse(typed)


# --- card choices -------------------------------------------------------------------------


def test_choosing_active_advertisers(conn, tenant_b):
    shoes = make_advertiser(conn, "7001")
    coffee = make_advertiser(conn, "7002")
    stranger = make_advertiser(make_connection(tenant_b), "9001", is_active=False)
    assert (
        actions.advertisers_set_active(tenant=conn.tenant, advertiser_pks=[coffee.pk, stranger.pk])
        == 1
    )
    assert dict(TikTokAdvertiser.objects.values_list("advertiser_id", "is_active")) == {
        "7001": False,
        "7002": True,
        "9001": False,
    }
    with pytest.raises(actions.ActionRefused, match="at least one"):
        actions.advertisers_set_active(tenant=conn.tenant, advertiser_pks=[stranger.pk])
    shoes.refresh_from_db()
    assert shoes.is_active is False


def test_one_conversion_pixel_per_tenant(conn, tenant_b):
    make_advertiser(conn)
    first = make_pixel(conn, "p1", is_conversion_pixel=True)
    second = make_pixel(conn, "p2")
    theirs = make_pixel(make_connection(tenant_b), "p9", is_conversion_pixel=True)
    actions.conversion_pixel_choose(tenant=conn.tenant, pixel=second)
    assert set(
        TikTokPixel.objects.filter(is_conversion_pixel=True).values_list("pixel_id", flat=True)
    ) == {"p2", "p9"}
    actions.conversion_pixel_choose(tenant=conn.tenant, pixel=None)
    assert list(TikTokPixel.objects.filter(is_conversion_pixel=True)) == [theirs]
    with pytest.raises(actions.ActionRefused):
        actions.conversion_pixel_choose(tenant=conn.tenant, pixel=theirs)
    first.refresh_from_db()
    assert not first.is_conversion_pixel


# --- through the views: who may act, and on whose objects ----------------------------------


def _action_urls(objs) -> list[tuple[str, dict]]:
    return [
        (reverse("tiktok_ads:campaign_status", args=[objs["campaign"].pk]), {"status": "DISABLE"}),
        (reverse("tiktok_ads:adgroup_status", args=[objs["adgroup"].pk]), {"status": "DISABLE"}),
        (reverse("tiktok_ads:ad_status", args=[objs["ad"].pk]), {"status": "DISABLE"}),
        (reverse("tiktok_ads:adgroup_budget", args=[objs["adgroup"].pk]), {"budget": "60"}),
    ]


def test_a_member_gets_403_and_nothing_is_sent(objs, member_client, tiktok):
    for url, data in _action_urls(objs):
        assert member_client.post(url, data).status_code == 403
        assert member_client.post(url, data, headers=HTMX).status_code == 403
    assert len(tiktok.calls) == 0
    assert not AuditEntry.objects.exists()
    assert TikTokAdsCampaign.objects.get().operation_status == "ENABLE"


def test_another_tenants_objects_are_404_and_untouched(tenant_b, owner_client, tiktok):
    other = make_connection(tenant_b)
    make_advertiser(other)
    campaign = make_campaign(other, "cb")
    adgroup = make_adgroup(other, "gb", campaign)
    theirs = {"campaign": campaign, "adgroup": adgroup, "ad": make_ad(other, "ab", adgroup)}
    for url, data in _action_urls(theirs):
        assert owner_client.post(url, data).status_code == 404
    assert len(tiktok.calls) == 0
    assert TikTokAdGroup.objects.get().budget == Decimal("50.00")


def test_an_admin_of_another_role_may_act(objs, make_member, tenant_a, client, tiktok):
    admin = make_member(tenant_a, Membership.Role.ADMIN)
    client.force_login(admin)
    tiktok.post(api_url("campaign/status/update/"), json=envelope())
    url = reverse("tiktok_ads:campaign_status", args=[objs["campaign"].pk])
    assert client.post(url, {"status": "DISABLE"}).status_code == 302
    assert AuditEntry.objects.get().user == admin


# --- end to end through the sandbox (the real client, the emulated Marketing API) ---------


@pytest.fixture
def synced(owner_client, sandbox):
    connection, _ = AdsContract().connect(owner_client)
    for kind in ("advertisers", "campaigns", "adgroups"):
        run = sync_run_for_connection_now(connection=connection, kind=kind, trigger="manual")
        assert run.status == "succeeded", run.error
    return connection


def test_sandbox_keeps_a_pause_across_the_next_sync(synced, owner_a):
    campaign = (
        TikTokAdsCampaign.objects.select_related("connection")
        .filter(operation_status="ENABLE")
        .exclude(secondary_status__endswith="_DELETE")
        .first()
    )
    actions.campaign_set_status(user=owner_a, campaign=campaign, enabled=False)
    sync_run_for_connection_now(connection=synced, kind="campaigns", trigger="manual")
    campaign.refresh_from_db()
    assert campaign.operation_status == "DISABLE"
    assert AuditEntry.objects.get().outcome == "succeeded"


def test_sandbox_keeps_a_budget_and_refuses_a_token_it_no_longer_knows(synced, owner_a, sandbox):
    adgroup = (
        TikTokAdGroup.objects.select_related("connection")
        .filter(budget_mode="BUDGET_MODE_DAY")
        .exclude(secondary_status__endswith="_DELETE")
        .first()
    )
    currency = actions.advertiser_currency(adgroup=adgroup)
    budget = actions.MIN_DAILY_BUDGET[currency] * 3 + Decimal("0.45")
    actions.adgroup_set_daily_budget(user=owner_a, adgroup=adgroup, budget=budget)
    sync_run_for_connection_now(connection=synced, kind="adgroups", trigger="manual")
    adgroup.refresh_from_db()
    assert adgroup.budget == budget

    sandbox.inject(provider="tiktok_ads", path_contains="/budget/update/", kind="expired_token")
    with pytest.raises(actions.ActionFailed, match="Reconnect"):
        actions.adgroup_set_daily_budget(user=owner_a, adgroup=adgroup, budget=budget + 1)
    adgroup.refresh_from_db()
    assert adgroup.budget == budget
    assert list(AuditEntry.objects.order_by("pk").values_list("outcome", flat=True)) == [
        "succeeded",
        "failed",
    ]
