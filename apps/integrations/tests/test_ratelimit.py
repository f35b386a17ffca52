"""The shared request budget: N calls per window for the whole developer app, every process."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
import responses
from django.core.cache import cache

from apps.integrations import ratelimit
from apps.integrations.http import ProviderClient, RateLimited
from apps.integrations.ratelimit import acquire, budget_key

pytestmark = pytest.mark.django_db

BASE = "https://api.provider.test"
LOCMEM = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "ratelimit-tests",
    }
}


class FakeClock:
    """A clock that only moves when somebody sleeps."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture(params=["locmem", "configured"])
def shared_cache(request, settings):
    """The budget on an in-memory cache and on the project's configured cache (database)."""
    if request.param == "locmem":
        settings.CACHES = LOCMEM
    cache.clear()
    yield request.param
    cache.clear()


@pytest.fixture
def locmem(settings):
    settings.CACHES = LOCMEM
    cache.clear()
    yield
    cache.clear()


def take(clock: FakeClock, *, limit: int = 3, max_wait: float = 10.0, key: str = "app-1") -> float:
    return acquire(
        product="test_budget",
        key=key,
        limit=limit,
        per_seconds=1.0,
        max_wait=max_wait,
        sleep=clock.sleep,
        clock=clock,
    )


def test_calls_within_the_budget_do_not_wait(shared_cache):
    clock = FakeClock()
    assert [take(clock) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert clock.slept == []


def test_a_spent_window_waits_for_the_next_one(shared_cache):
    clock = FakeClock(start=1_000_000.25)
    for _ in range(3):
        take(clock)

    waited = take(clock)

    assert waited == pytest.approx(0.75)
    assert clock.slept == [pytest.approx(0.75)]
    assert int(clock.now) == 1_000_001


def test_a_wait_longer_than_max_wait_raises_rate_limited(shared_cache):
    clock = FakeClock(start=1_000_000.0)
    for _ in range(3):
        take(clock)

    with pytest.raises(RateLimited) as caught:
        take(clock, max_wait=0.5)

    assert caught.value.retry_after == pytest.approx(1.0)
    assert clock.slept == []


def test_budgets_are_separate_per_key(shared_cache):
    clock = FakeClock()
    for _ in range(3):
        take(clock, key="app-1")
    assert take(clock, key="app-2") == 0.0


def test_keys_are_cache_safe():
    key = budget_key(product="tiktok_ads", key="an app id with spaces", window=12)
    assert " " not in key
    assert key.startswith("ratebudget:tiktok_ads:")
    assert key.endswith(":12")
    assert budget_key(product="tiktok_ads", key="7012345", window=5) == (
        "ratebudget:tiktok_ads:7012345:5"
    )


class BudgetClient(ProviderClient):
    product = "test_budget_client"
    rate_limit = (3, 1.0)
    rate_limit_max_wait = 60.0


def test_two_clients_sharing_the_cache_never_exceed_the_budget_per_window(shared_cache):
    clock = FakeClock(start=2_000_000.0)
    windows: Counter[int] = Counter()

    def answer(request):
        windows[int(clock.now)] += 1
        return 200, {}, "{}"

    clients = [BudgetClient(base_url=BASE, rate_key="app-1") for _ in range(2)]
    for client in clients:
        client._sleep, client._clock = clock.sleep, clock

    with responses.RequestsMock() as mocked:
        mocked.add_callback(responses.GET, f"{BASE}/items", callback=answer)
        for n in range(10):
            clients[n % 2].request("GET", "/items")

    assert sum(windows.values()) == 10
    assert max(windows.values()) == 3
    assert sorted(windows) == [2_000_000, 2_000_001, 2_000_002, 2_000_003]


def test_threads_racing_for_one_window_get_exactly_the_budget(locmem):
    clock = FakeClock()
    granted: list[int] = []
    refused: list[int] = []
    start = threading.Barrier(8)

    def worker(n: int) -> None:
        start.wait()
        for _ in range(5):
            try:
                take(clock, limit=7, max_wait=0.0)
                granted.append(n)
            except RateLimited:
                refused.append(n)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(granted) == 7
    assert len(refused) == 40 - 7


class RacyCache:
    """A cache whose ``incr`` loses updates, like the database cache under contention.

    Every other ``incr`` answers as if a concurrent writer had read the same
    value: the number it returns was already handed out.
    """

    def __init__(self) -> None:
        self.data: dict[str, int] = {}
        self.lost = False

    def add(self, key: str, value: int, timeout: int | None = None) -> bool:
        if key in self.data:
            return False
        self.data[key] = value
        return True

    def incr(self, key: str) -> int:
        if key not in self.data:
            raise ValueError(key)
        self.lost = not self.lost
        if self.lost:
            return self.data[key] + 1  # a concurrent writer's value: not stored
        self.data[key] += 1
        return self.data[key]


def test_a_non_atomic_incr_still_grants_each_slot_once(monkeypatch):
    racy = RacyCache()
    monkeypatch.setattr(ratelimit, "cache", racy)
    clock = FakeClock()
    granted = 0
    for _ in range(10):
        try:
            take(clock, limit=4, max_wait=0.0)
            granted += 1
        except RateLimited:
            pass

    assert granted == 4
    slots = [key for key in racy.data if key.count(":") == 4]
    assert len(slots) == 4


def test_a_broken_cache_does_not_stop_the_call(monkeypatch):
    class DownCache:
        def add(self, *args, **kwargs):
            raise ConnectionError("redis is down")

    monkeypatch.setattr(ratelimit, "cache", DownCache())
    client = BudgetClient(base_url=BASE, rate_key="app-1")
    with responses.RequestsMock() as mocked:
        mocked.get(f"{BASE}/items", json={"ok": True})
        assert client.request("GET", "/items").body == {"ok": True}
