"""The generated world is deterministic and shaped like the providers' answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apps.sandbox import generator


def test_same_account_same_data():
    account = generator.identities("tiktok_ads")[0].account_id
    assert generator.advertisers(account) == generator.advertisers(account)
    advertiser_id = generator.advertisers(account)[0]["advertiser_id"]
    assert generator.campaigns(advertiser_id) == generator.campaigns(advertiser_id)
    other = generator.identities("tiktok_ads")[1].account_id
    assert generator.advertisers(other) != generator.advertisers(account)


def test_identities_are_stable_and_distinct():
    for provider in ("tiktok_ads", "tiktok_shop", "tiktok_content", "meta"):
        ids = [i.account_id for i in generator.identities(provider)]
        assert ids == [i.account_id for i in generator.identities(provider)]
        assert len(set(ids)) == len(ids)


def test_campaigns_spread_over_the_last_90_days():
    account = generator.identities("tiktok_ads")[0].account_id
    advertiser_id = generator.advertisers(account)[0]["advertiser_id"]
    rows = generator.campaigns(advertiser_id)
    assert (
        len(rows) == generator.CAMPAIGNS_PER_ADVERTISER + generator.DELETED_CAMPAIGNS_PER_ADVERTISER
    )
    assert len({r["campaign_id"] for r in rows}) == len(rows)
    now = datetime.now(UTC)
    times = [
        datetime.strptime(r["modify_time"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC) for r in rows
    ]
    assert all(now - timedelta(days=91) <= t <= now for t in times)
    assert max(times) - min(times) > timedelta(days=60)
    assert all(r["create_time"] <= r["modify_time"] for r in rows)


def test_shops_of_one_seller():
    account = generator.identities("tiktok_shop")[0].account_id
    shops = generator.shops(account)
    assert len(shops) == 2
    assert len({s["region"] for s in shops}) == 2
    assert len({s["cipher"] for s in shops}) == 2
