"""Fixtures of the TikTok Shop tests: a connection made through the sandbox's consent flow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import responses

from apps.integrations.http import ProviderClient
from apps.sandbox import generator, shop_data

from .test_contract import TestTikTokShopContract


@pytest.fixture
def frozen_clock(monkeypatch):
    """Freeze the sandbox's world a minute ahead; returns a function that moves it (seconds).

    The orders' timeline is anchored at the seller's first grant (made during
    the test, at the real time), so the frozen "now" must come after it.
    """
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)
    state = {"now": start}
    monkeypatch.setattr(generator, "now", lambda: state["now"])

    def move(seconds: int) -> datetime:
        state["now"] = datetime.fromtimestamp(state["now"].timestamp() + seconds, tz=UTC)
        return state["now"]

    def set_to(when: datetime) -> datetime:
        state["now"] = when
        return when

    move.now = lambda: state["now"]
    move.set = set_to
    return move


@pytest.fixture
def shop_settings(settings):
    """The client pointed at the fake hosts that ``mocked`` answers (test_client's constants)."""
    from .test_client import API, APP_KEY, APP_SECRET, AUTH

    settings.TIKTOK_SHOP_API_BASE = API
    settings.TIKTOK_SHOP_AUTH_BASE = AUTH
    settings.TIKTOK_SHOP_APP_KEY = APP_KEY
    settings.TIKTOK_SHOP_APP_SECRET = APP_SECRET


@pytest.fixture
def mocked():
    """Every HTTP call of the test answered by ``responses``, and every registered one used."""
    with responses.RequestsMock() as rsps:
        yield rsps


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    """Retries go at once (the attempts are what the tests count, not the waits)."""
    monkeypatch.setattr(ProviderClient, "backoff_base", 0.0)


@pytest.fixture
def few_orders(settings):
    """A small world (60 orders a shop) for tests that do not need thousands."""
    settings.SANDBOX_SHOP_ORDERS_PER_SHOP = 60
    shop_data.shop_orders.cache_clear()


@pytest.fixture
def shop_connection(owner_client, sandbox, frozen_clock):
    """TikTok Shop connected through the hub's connect flow and the sandbox consent screen."""
    connection, _ = TestTikTokShopContract().connect(owner_client)
    return connection


def seller_account() -> str:
    return generator.identities("tiktok_shop")[0].account_id


def sandbox_shops() -> list[dict]:
    return generator.shops(seller_account())


def sandbox_orders(shop: dict) -> shop_data.ShopOrders:
    return shop_data.orders_for(shop, seller_account())


def sandbox_truth(at: datetime | None = None) -> dict[str, tuple[str, int]]:
    """``{order_id: (status, update_time)}`` of every order of the seller's shops at ``at``."""
    at_seconds = int((at or generator.now()).timestamp())
    truth = {}
    for shop in sandbox_shops():
        for state in shop_data.states_at(sandbox_orders(shop), at_seconds):
            truth[state.order_id] = (state.status, state.update_time)
    return truth
