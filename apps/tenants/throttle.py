"""Login attempt throttling: failed logins counted per account and per client address.

Counters live in the shared cache (one per window), so every web process sees
the same count. Only failures count; a success does not reset the address
counter (an attacker who owns one account must not unlock guessing on others).
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache


def _key(kind: str, value: str) -> str:
    digest = hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]
    return f"login-failures:{kind}:{digest}"


def _keys(*, username: str, address: str) -> list[tuple[str, int]]:
    return [
        (_key("account", username), settings.LOGIN_FAILURES_PER_ACCOUNT),
        (_key("address", address), settings.LOGIN_FAILURES_PER_ADDRESS),
    ]


def login_blocked(*, username: str, address: str) -> bool:
    """True when the account or the address has used up its failures for the window."""
    counts = cache.get_many([key for key, _limit in _keys(username=username, address=address)])
    return any(
        counts.get(key, 0) >= limit for key, limit in _keys(username=username, address=address)
    )


def login_failed(*, username: str, address: str) -> None:
    window = settings.LOGIN_FAILURE_WINDOW
    for key, _limit in _keys(username=username, address=address):
        cache.add(key, 0, timeout=window)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=window)


def client_address(request) -> str:
    """The client's address as the last trusted proxy saw it (REMOTE_ADDR by default)."""
    if settings.TRUSTED_PROXY_HEADER:
        forwarded = request.META.get(settings.TRUSTED_PROXY_HEADER, "")
        if forwarded:
            return forwarded.split(",")[-1].strip()
    return request.META.get("REMOTE_ADDR", "")
