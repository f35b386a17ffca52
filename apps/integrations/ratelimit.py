"""A request budget per developer app, shared by every process through Django's cache.

Providers limit the *developer app* (TikTok Ads Basic tier: 10 requests per
second per app), not the process, so the budget has to live where every web
process and every worker sees it: the default cache (Redis in a cluster, the
database cache on one machine).

The budget is a fixed window: ``limit`` calls per ``per_seconds``, windows
aligned on the epoch so every process agrees where a window starts. A call
takes a numbered *slot* of the current window:

1. ``cache.incr`` on the window's counter proposes a slot number;
2. ``cache.add`` on ``<counter>:<slot>`` claims it.

``add`` is atomic on every cache backend (``SET NX`` on Redis, a unique key on
the database cache), while ``incr`` is not on the database cache (it reads,
then writes). Claiming the slot with ``add`` makes the budget exact anyway:
two processes that were handed the same number race for one slot and the
loser asks again. At most ``limit`` slots exist per window, so at most
``limit`` calls go out per window, whichever backend is configured.

With the database cache, a caller inside ``transaction.atomic`` writes its
slot inside its own transaction, which other processes only see at commit;
deployments with several machines should use the Redis cache (``CACHE_URL``).
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Callable

from django.core.cache import cache

from .http import RateLimited

#: How often one caller may be handed an already-claimed slot before it gives
#: up on the window (only a non-atomic ``incr`` under heavy contention does this).
MAX_CLAIM_ROUNDS = 50

_SAFE_KEY = re.compile(r"^[A-Za-z0-9_.\-]{1,80}$")


def _key_part(value: str) -> str:
    """A cache-safe key part: memcached refuses spaces and long keys."""
    if _SAFE_KEY.match(value):
        return value
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def budget_key(*, product: str, key: str, window: int) -> str:
    """The counter key of one window, e.g. ``ratebudget:tiktok_ads:7012345:1767225600``."""
    return f"ratebudget:{_key_part(product or 'default')}:{_key_part(key or 'default')}:{window}"


def _claim(counter: str, *, limit: int, timeout: int) -> bool:
    """Take one slot of the window behind ``counter``; False when all are taken."""
    cache.add(counter, 0, timeout=timeout)
    for _round in range(MAX_CLAIM_ROUNDS):
        try:
            slot = cache.incr(counter)
        except ValueError:  # the counter expired between add and incr
            cache.add(counter, 0, timeout=timeout)
            continue
        if slot > limit:
            return False
        if cache.add(f"{counter}:{slot}", 1, timeout=timeout):
            return True
    return False


def acquire(
    *,
    product: str,
    key: str,
    limit: int,
    per_seconds: float,
    max_wait: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> float:
    """Take one call from the budget, waiting for the next window when this one is spent.

    Returns the seconds spent waiting. Raises :class:`RateLimited` (with
    ``retry_after``) instead of waiting when the total wait would exceed
    ``max_wait``: a caller that cannot wait that long should give the work
    back to the queue rather than hold a worker.
    """
    if limit < 1 or per_seconds <= 0:
        raise ValueError("A rate budget needs limit >= 1 and per_seconds > 0.")
    # Keys outlive their window (and the database cache's whole-second expiry).
    timeout = math.ceil(per_seconds) + 2
    waited = 0.0
    while True:
        now = clock()
        window = int(now // per_seconds)
        counter = budget_key(product=product, key=key, window=window)
        if _claim(counter, limit=limit, timeout=timeout):
            return waited
        wait = max((window + 1) * per_seconds - now, 0.001)
        if waited + wait > max_wait:
            raise RateLimited(
                f"The {product or 'provider'} request budget ({limit} per {per_seconds:g} s) "
                "is spent for this window.",
                code="budget",
                retry_after=wait,
            )
        sleep(wait)
        waited += wait
