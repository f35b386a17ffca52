"""TikTok Ads objects and actions: ad groups, ads, audiences, pixels, status and budget changes."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import requests
from django.conf import settings

from apps.sandbox import generator

from .flows import consent, first

API = f"{settings.TIKTOK_ADS_API_BASE}/open_api/v1.3"
FROZEN = datetime(2026, 6, 15, 15, 30, tzinfo=UTC)


def get(path: str, token: str, **params) -> dict:
    params = {k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in params.items()}
    response = requests.get(
        f"{API}/{path}", params=params, headers={"Access-Token": token}, timeout=5
    )
    assert response.status_code == 200
    return response.json()


def post(path: str, token: str, body: dict) -> dict:
    response = requests.post(f"{API}/{path}", json=body, headers={"Access-Token": token}, timeout=5)
    assert response.status_code == 200
    return response.json()


def token_for(client, identity: int) -> str:
    account_id = generator.identities("tiktok_ads")[identity].account_id
    params = {"app_id": settings.TIKTOK_APP_ID, "redirect_uri": _hub_callback(), "state": "s"}
    got = consent(
        client,
        settings.TIKTOK_ADS_AUTH_URL,
        params,
        {"decision": "authorize", "account_id": account_id},
    )
    body = {
        "app_id": settings.TIKTOK_APP_ID,
        "secret": settings.TIKTOK_APP_SECRET,
        "auth_code": got["auth_code"],
    }
    answer = requests.post(f"{API}/oauth2/access_token/", json=body, timeout=5).json()
    assert answer["code"] == 0, answer
    return answer["data"]["access_token"]


def _hub_callback() -> str:
    return f"{settings.PUBLIC_BASE_URL}/integrations/tiktok/callback/"


@pytest.fixture
def clock(monkeypatch):
    """Freeze the sandbox clock; ``clock.moment`` may be moved by a test."""

    class Clock:
        moment = FROZEN

    monkeypatch.setattr(generator, "now", lambda: Clock.moment)
    return Clock


@pytest.fixture
def token(client, sandbox) -> str:
    return token_for(client, 0)


@pytest.fixture
def advertiser_id() -> str:
    return generator.advertisers(first("tiktok_ads").account_id)[0]["advertiser_id"]


def walk(path: str, token: str, page_size: int, **params) -> tuple[list[dict], list[dict]]:
    rows, infos, page = [], [], 1
    while True:
        answer = get(path, token, page=page, page_size=page_size, **params)
        assert answer["code"] == 0, answer
        rows += answer["data"]["list"]
        infos.append(answer["data"]["page_info"])
        if page >= answer["data"]["page_info"]["total_page"]:
            return rows, infos
        page += 1


# --- Generated shape ----------------------------------------------------------------------


def test_every_campaign_has_2_to_4_ad_groups_and_every_ad_group_2_to_4_ads(advertiser_id):
    objects = generator.ads_objects(advertiser_id)
    per_campaign = Counter(g["campaign_id"] for g in objects.adgroups)
    per_adgroup = Counter(a["adgroup_id"] for a in objects.ads)
    assert set(per_campaign) == {c["campaign_id"] for c in objects.campaigns}
    assert set(per_campaign.values()) == {2, 3, 4}
    assert set(per_adgroup) == {g["adgroup_id"] for g in objects.adgroups}
    assert set(per_adgroup.values()) == {2, 3, 4}
    assert len(objects.ads) > 1000
    ids = [a["ad_id"] for a in objects.ads]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_ad_groups_carry_daily_budgets_in_the_advertisers_currency(advertiser_id):
    currency = generator.advertiser(advertiser_id)["currency"]
    minimum = generator.MIN_DAILY_BUDGET[currency]
    pixel_ids = {p["pixel_id"] for p in generator.pixels(advertiser_id)}
    groups = generator.adgroups(advertiser_id)
    modes = Counter(g["budget_mode"] for g in groups)
    assert set(modes) == {"BUDGET_MODE_DAY", "BUDGET_MODE_TOTAL"}
    assert modes["BUDGET_MODE_DAY"] > 10 * modes["BUDGET_MODE_TOTAL"]
    for group in groups:
        assert group["budget"] >= minimum
        assert group["operation_status"] in {"ENABLE", "DISABLE"}
        assert group["pixel_id"] is None or group["pixel_id"] in pixel_ids
        assert group["create_time"] <= group["modify_time"]
        datetime.strptime(group["modify_time"], "%Y-%m-%d %H:%M:%S")
    assert {g["optimization_goal"] for g in groups} >= {"CLICK", "CONVERT", "REACH"}
    assert any(g["pixel_id"] for g in groups if g["optimization_goal"] == "CONVERT")


# --- adgroup/get/ and ad/get/ ---------------------------------------------------------------


@pytest.mark.parametrize(("path", "kind"), [("adgroup/get/", "adgroup"), ("ad/get/", "ad")])
def test_pagination_totals_are_consistent_and_deterministic(
    token, advertiser_id, sandbox, path, kind
):
    expected = [
        r[f"{kind}_id"]
        for r in getattr(generator.ads_objects(advertiser_id), f"{kind}s")
        if not generator.is_deleted(kind, r)
    ]
    rows, infos = walk(path, token, 97, advertiser_id=advertiser_id)
    total = len(expected)
    assert {i["total_number"] for i in infos} == {total}
    assert {i["total_page"] for i in infos} == {-(-total // 97)}
    assert [i["page"] for i in infos] == list(range(1, len(infos) + 1))
    assert [r[f"{kind}_id"] for r in rows] == expected

    again, _ = walk(path, token, 1000, advertiser_id=advertiser_id)
    assert again == rows


@pytest.mark.parametrize(
    ("path", "kind", "everything"),
    [("adgroup/get/", "adgroup", "ADGROUP_STATUS_ALL"), ("ad/get/", "ad", "AD_STATUS_ALL")],
)
def test_deleted_only_with_status_all(token, advertiser_id, sandbox, path, kind, everything):
    rows = getattr(generator.ads_objects(advertiser_id), f"{kind}s")
    deleted = [r for r in rows if generator.is_deleted(kind, r)]
    assert deleted
    shown = get(path, token, advertiser_id=advertiser_id, page_size=1)["data"]["page_info"]
    assert shown["total_number"] == len(rows) - len(deleted)
    filtering = {"secondary_status": everything}
    answer = get(path, token, advertiser_id=advertiser_id, page_size=1, filtering=filtering)
    assert answer["data"]["page_info"]["total_number"] == len(rows)
    own_delete = {"secondary_status": f"{kind.upper()}_STATUS_DELETE"}
    answer = get(path, token, advertiser_id=advertiser_id, page_size=1000, filtering=own_delete)
    assert {r["secondary_status"] for r in answer["data"]["list"]} == {
        f"{kind.upper()}_STATUS_DELETE"
    }


def test_filtering_by_campaign_ids_and_adgroup_ids(token, advertiser_id, sandbox):
    objects = generator.ads_objects(advertiser_id)
    live = [c["campaign_id"] for c in objects.campaigns if c["operation_status"] == "ENABLE"]
    wanted = live[:3]
    everything = {"campaign_ids": wanted, "secondary_status": "ADGROUP_STATUS_ALL"}
    groups = get(
        "adgroup/get/", token, advertiser_id=advertiser_id, page_size=100, filtering=everything
    )["data"]["list"]
    assert {g["campaign_id"] for g in groups} == set(wanted)
    assert len(groups) == sum(1 for g in objects.adgroups if g["campaign_id"] in wanted)

    ads = get(
        "ad/get/",
        token,
        advertiser_id=advertiser_id,
        page_size=1000,
        filtering={"campaign_ids": wanted, "secondary_status": "AD_STATUS_ALL"},
    )["data"]["list"]
    assert {a["campaign_id"] for a in ads} == set(wanted)
    assert len(ads) == sum(1 for a in objects.ads if a["campaign_id"] in wanted)

    one_group = groups[0]["adgroup_id"]
    answer = get(
        "ad/get/",
        token,
        advertiser_id=advertiser_id,
        filtering={"adgroup_ids": [one_group], "secondary_status": "AD_STATUS_ALL"},
        fields=["ad_name"],
    )
    assert {a["adgroup_id"] for a in objects.ads if a["ad_id"] in _ids(answer)} == {one_group}
    assert set(answer["data"]["list"][0]) == {"ad_id", "ad_name"}


def _ids(answer: dict) -> set[str]:
    return {row["ad_id"] for row in answer["data"]["list"]}


def test_bad_listing_parameters_are_40002(token, advertiser_id, sandbox):
    for path in ("adgroup/get/", "ad/get/"):
        assert get(path, token, advertiser_id=advertiser_id, page_size=1001)["code"] == 40002
        too_many = {"campaign_ids": [str(i) for i in range(101)]}
        assert get(path, token, advertiser_id=advertiser_id, filtering=too_many)["code"] == 40002
        assert get(path, token, advertiser_id="123")["code"] == 40001
    bad_time = {"creation_filter_start_time": "2026-01-01"}
    assert get("ad/get/", token, advertiser_id=advertiser_id, filtering=bad_time)["code"] == 40002


# --- Audiences and pixels ------------------------------------------------------------------


def test_custom_audiences_page_and_filter(token, advertiser_id, sandbox):
    rows, infos = walk("dmp/custom_audience/list/", token, 10, advertiser_id=advertiser_id)
    assert {i["total_number"] for i in infos} == {generator.AUDIENCES_PER_ADVERTISER}
    assert len(rows) == generator.AUDIENCES_PER_ADVERTISER
    for row in rows:
        assert {
            "audience_id",
            "name",
            "audience_type",
            "cover_num",
            "shared",
            "create_time",
        } <= set(row)
        assert isinstance(row["cover_num"], int)
        assert isinstance(row["shared"], bool)
    picked = [rows[0]["audience_id"], rows[5]["audience_id"]]
    answer = get(
        "dmp/custom_audience/list/", token, advertiser_id=advertiser_id, custom_audience_ids=picked
    )
    assert [r["audience_id"] for r in answer["data"]["list"]] == picked
    too_big = get("dmp/custom_audience/list/", token, advertiser_id=advertiser_id, page_size=101)
    assert too_big["code"] == 40002


def test_pixels_have_id_code_name_and_status(token, advertiser_id, sandbox):
    pixels = get("pixel/list/", token, advertiser_id=advertiser_id)["data"]["pixels"]
    assert len(pixels) == generator.PIXELS_PER_ADVERTISER
    for pixel in pixels:
        assert pixel["pixel_id"]
        assert pixel["pixel_code"].startswith("C")
        assert pixel["pixel_name"]
        assert pixel["status"] in {"ACTIVE", "INACTIVE"}
    code = pixels[1]["pixel_code"]
    only = get("pixel/list/", token, advertiser_id=advertiser_id, code=code)["data"]["pixels"]
    assert [p["pixel_code"] for p in only] == [code]


# --- Status updates --------------------------------------------------------------------------


def _find(token: str, advertiser_id: str, kind: str, object_id: str) -> dict:
    everything = {f"{kind}_ids": [object_id], "secondary_status": f"{kind.upper()}_STATUS_ALL"}
    path = "campaign/get/" if kind == "campaign" else f"{kind}/get/"
    rows = get(path, token, advertiser_id=advertiser_id, filtering=everything)["data"]["list"]
    assert len(rows) == 1
    return rows[0]


def _live(advertiser_id: str, kind: str) -> dict:
    rows = getattr(generator.ads_objects(advertiser_id), f"{kind}s")
    return next(r for r in rows if r["secondary_status"].endswith(("DELIVERY_OK", "_ENABLE")))


def test_status_update_persists_with_a_new_modify_time(token, advertiser_id, sandbox, clock):
    ad = _live(advertiser_id, "ad")
    clock.moment = FROZEN + timedelta(hours=2)
    answer = post(
        "ad/status/update/",
        token,
        {"advertiser_id": advertiser_id, "ad_ids": [ad["ad_id"]], "operation_status": "DISABLE"},
    )
    assert answer["code"] == 0, answer
    assert answer["data"] == {"ad_ids": [ad["ad_id"]], "status": "DISABLE"}
    now = _find(token, advertiser_id, "ad", ad["ad_id"])
    assert now["operation_status"] == "DISABLE"
    assert now["secondary_status"] == "AD_STATUS_DISABLE"
    assert now["modify_time"] == "2026-06-15 17:30:00"
    assert now["modify_time"] > ad["modify_time"]

    post(
        "ad/status/update/",
        token,
        {"advertiser_id": advertiser_id, "ad_ids": [ad["ad_id"]], "operation_status": "ENABLE"},
    )
    assert _find(token, advertiser_id, "ad", ad["ad_id"])["secondary_status"] == (
        "AD_STATUS_DELIVERY_OK"
    )


def test_campaign_delete_is_final_and_cascades(token, advertiser_id, sandbox, clock):
    campaign = _live(advertiser_id, "campaign")
    body = {"advertiser_id": advertiser_id, "campaign_ids": [campaign["campaign_id"]]}
    answer = post("campaign/status/update/", token, {**body, "operation_status": "DELETE"})
    assert answer["code"] == 0, answer
    assert answer["data"]["campaign_list"] == [
        {"campaign_id": campaign["campaign_id"], "status": "DELETE"}
    ]
    listed = get(
        "campaign/get/",
        token,
        advertiser_id=advertiser_id,
        filtering={"campaign_ids": [campaign["campaign_id"]]},
    )
    assert listed["data"]["list"] == []
    deleted = _find(token, advertiser_id, "campaign", campaign["campaign_id"])
    assert deleted["secondary_status"] == "CAMPAIGN_STATUS_DELETE"

    groups = get(
        "adgroup/get/",
        token,
        advertiser_id=advertiser_id,
        filtering={
            "campaign_ids": [campaign["campaign_id"]],
            "secondary_status": "ADGROUP_STATUS_ALL",
        },
    )["data"]["list"]
    assert {g["secondary_status"] for g in groups} <= {
        "ADGROUP_STATUS_CAMPAIGN_DELETE",
        "ADGROUP_STATUS_DELETE",
    }

    again = post("campaign/status/update/", token, {**body, "operation_status": "ENABLE"})
    assert again["code"] == 40002
    assert "deleted" in again["message"]
    child = post(
        "adgroup/status/update/",
        token,
        {
            "advertiser_id": advertiser_id,
            "adgroup_ids": [groups[0]["adgroup_id"]],
            "operation_status": "ENABLE",
        },
    )
    assert child["code"] == 40002
    assert _find(token, advertiser_id, "campaign", campaign["campaign_id"])["secondary_status"] == (
        "CAMPAIGN_STATUS_DELETE"
    )


def test_status_update_refusals(token, advertiser_id, sandbox):
    ad_ids = [a["ad_id"] for a in generator.ads(advertiser_id)[:21]]
    body = {"advertiser_id": advertiser_id, "operation_status": "DISABLE"}
    assert post("ad/status/update/", token, {**body, "ad_ids": ad_ids})["code"] == 40002
    assert post("ad/status/update/", token, {**body, "ad_ids": []})["code"] == 40002
    assert post("ad/status/update/", token, {**body, "ad_ids": ["999"]})["code"] == 40007
    wrong = {**body, "ad_ids": ad_ids[:1], "operation_status": "PAUSE"}
    assert post("ad/status/update/", token, wrong)["code"] == 40002
    foreign = {**body, "advertiser_id": "123", "ad_ids": ad_ids[:1]}
    assert post("ad/status/update/", token, foreign)["code"] == 40001


def test_adgroup_partial_success_lists_the_failures(token, advertiser_id, sandbox):
    groups = generator.adgroups(advertiser_id)
    live = _live(advertiser_id, "adgroup")["adgroup_id"]
    gone = next(g["adgroup_id"] for g in groups if generator.is_deleted("adgroup", g))
    answer = post(
        "adgroup/status/update/",
        token,
        {
            "advertiser_id": advertiser_id,
            "adgroup_ids": [live, gone],
            "operation_status": "DISABLE",
            "allow_partial_success": True,
        },
    )
    assert answer["code"] == 0, answer
    assert answer["data"]["adgroup_ids"] == [live]
    assert [e["adgroup_id"] for e in answer["data"]["error_list"]] == [gone]
    assert _find(token, advertiser_id, "adgroup", live)["operation_status"] == "DISABLE"


# --- Budget updates -------------------------------------------------------------------------


def _daily_group(advertiser_id: str) -> dict:
    return next(
        g
        for g in generator.adgroups(advertiser_id)
        if g["budget_mode"] == "BUDGET_MODE_DAY" and not generator.is_deleted("adgroup", g)
    )


def test_budget_under_the_minimum_is_refused_naming_the_minimum(token, advertiser_id, sandbox):
    group = _daily_group(advertiser_id)
    answer = post(
        "adgroup/budget/update/",
        token,
        {
            "advertiser_id": advertiser_id,
            "budget": [{"adgroup_id": group["adgroup_id"], "budget": 19.99}],
        },
    )
    assert answer["code"] == 40002
    assert "20.00 USD" in answer["message"]
    assert _find(token, advertiser_id, "adgroup", group["adgroup_id"])["budget"] == group["budget"]


def test_brl_minimum_is_100(client, sandbox):
    account_id = generator.identities("tiktok_ads")[2].account_id
    brl = next(a for a in generator.advertisers(account_id) if a["currency"] == "BRL")
    token = token_for(client, 2)
    group = _daily_group(brl["advertiser_id"])
    body = {"advertiser_id": brl["advertiser_id"]}
    low = post(
        "adgroup/budget/update/",
        token,
        {**body, "budget": [{"adgroup_id": group["adgroup_id"], "budget": 99}]},
    )
    assert low["code"] == 40002
    assert "100.00 BRL" in low["message"]
    ok = post(
        "adgroup/budget/update/",
        token,
        {**body, "budget": [{"adgroup_id": group["adgroup_id"], "budget": 100}]},
    )
    assert ok["code"] == 0, ok


def test_budget_update_persists_and_keeps_the_status(token, advertiser_id, sandbox, clock):
    group = _daily_group(advertiser_id)
    clock.moment = FROZEN + timedelta(minutes=5)
    post(
        "adgroup/status/update/",
        token,
        {
            "advertiser_id": advertiser_id,
            "adgroup_ids": [group["adgroup_id"]],
            "operation_status": "DISABLE",
        },
    )
    clock.moment = FROZEN + timedelta(minutes=10)
    answer = post(
        "adgroup/budget/update/",
        token,
        {
            "advertiser_id": advertiser_id,
            "budget": [{"adgroup_id": group["adgroup_id"], "budget": "123.456"}],
        },
    )
    assert answer["code"] == 0, answer
    now = _find(token, advertiser_id, "adgroup", group["adgroup_id"])
    assert now["budget"] == 123.46
    assert now["operation_status"] == "DISABLE"
    assert now["modify_time"] == "2026-06-15 15:40:00"

    clock.moment = FROZEN + timedelta(minutes=20)
    post(
        "adgroup/status/update/",
        token,
        {
            "advertiser_id": advertiser_id,
            "adgroup_ids": [group["adgroup_id"]],
            "operation_status": "ENABLE",
        },
    )
    assert _find(token, advertiser_id, "adgroup", group["adgroup_id"])["budget"] == 123.46


def test_budget_refusals(token, advertiser_id, sandbox):
    groups = generator.adgroups(advertiser_id)
    lifetime = next(g for g in groups if g["budget_mode"] == "BUDGET_MODE_TOTAL")
    daily = _daily_group(advertiser_id)["adgroup_id"]

    def update(items: list[dict], **extra) -> dict:
        body = {"advertiser_id": advertiser_id, "budget": items, **extra}
        return post("adgroup/budget/update/", token, body)

    refused = update([{"adgroup_id": lifetime["adgroup_id"], "budget": 500}])
    assert refused["code"] == 40002
    assert "BUDGET_MODE_TOTAL" in refused["message"]
    assert update([{"adgroup_id": "17000", "budget": 500}])["code"] == 40007
    assert update([{"adgroup_id": daily, "budget": "lots"}])["code"] == 40002
    assert update([{"adgroup_id": daily, "budget": True}])["code"] == 40002
    assert update([])["code"] == 40002
    scheduled = update([{"adgroup_id": daily, "budget": 50}], schedule_budget=[])
    assert scheduled["code"] == 40002
    # All or nothing: a refused item keeps the valid one from changing.
    mixed = update([{"adgroup_id": daily, "budget": 300}, {"adgroup_id": daily, "budget": 1}])
    assert mixed["code"] == 40002
    assert _find(token, advertiser_id, "adgroup", daily)["budget"] != 300


# --- Faults ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "adgroup/get/"),
        ("GET", "ad/get/"),
        ("GET", "report/integrated/get/"),
        ("GET", "dmp/custom_audience/list/"),
        ("POST", "campaign/status/update/"),
        ("POST", "adgroup/status/update/"),
        ("POST", "ad/status/update/"),
        ("POST", "adgroup/budget/update/"),
    ],
)
def test_rate_limit_fault_is_40100_in_http_200(token, advertiser_id, sandbox, method, path):
    sandbox.inject(provider="tiktok_ads", path_contains=path, kind="rate_limit")
    response = requests.request(
        method,
        f"{API}/{path}",
        params={"advertiser_id": advertiser_id} if method == "GET" else None,
        json={"advertiser_id": advertiser_id} if method == "POST" else None,
        headers={"Access-Token": token},
        timeout=5,
    )
    assert response.status_code == 200
    assert response.json()["code"] == 40100
    assert sandbox.calls(path) == 1
