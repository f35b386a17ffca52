"""Fault injection and call counting for the emulated providers.

Rules and counters live in Django's default cache, so every process of the dev
server (and the test that injected them) sees the same state. Each sandbox API
view calls :func:`record_call` first: it counts the call and returns the fault
to answer with, if a rule matches.

A rule matches a call when the provider is the same and ``path_contains`` is a
substring of the path below the sandbox mount (for example
``/tiktok-ads/open_api/v1.3/campaign/get/``). With ``after=k`` the first k
matching calls pass; the next ``times`` calls fail; later ones pass again.

Counters are plain cache ``incr``: atomic on Redis, best effort on the database
cache. Good enough for a test or a demo, which is all this is for.
"""

from __future__ import annotations

import contextvars
import hashlib
import secrets
from dataclasses import asdict, dataclass

from django.core.cache import cache

PROVIDERS = ("tiktok_ads", "tiktok_shop", "tiktok_content", "meta")
#: "rate_limit" is the provider's own throttle signal as it really arrives
#: (TikTok Ads: HTTP 200 with code 40100; Meta: HTTP 400 with code 4);
#: "429" is a plain HTTP 429 with the provider's throttle body.
KINDS = ("429", "500", "timeout", "expired_token", "rate_limit")

_ALIASES = {"meta_ads": "meta"}
_RULES_KEY = "sandbox:faults:rules"
_PATHS_KEY = "sandbox:faults:paths"
_FOREVER = None

#: Set by the in-process router (``apps.sandbox.testing``): a timeout then answers
#: at once with a marked 504 instead of holding the request open.
in_process: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "sandbox_in_process", default=False
)


#: Header of an in-process ``timeout`` answer; the router raises ReadTimeout for it.
TIMEOUT_MARKER = "X-Sandbox-Timeout"


@dataclass(frozen=True)
class Fault:
    id: str
    provider: str
    path_contains: str
    kind: str
    times: int
    after: int
    retry_after: int | None


def normalise_provider(provider: str) -> str:
    key = provider.strip().lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    if key not in PROVIDERS:
        raise ValueError(f"Unknown sandbox provider {provider!r}; use one of {PROVIDERS}.")
    return key


def inject(
    *,
    provider: str,
    path_contains: str,
    kind: str,
    times: int = 1,
    after: int = 0,
    retry_after: int | None = None,
) -> Fault:
    """Make the next matching calls fail. Returns the stored rule."""
    if kind not in KINDS:
        raise ValueError(f"Unknown fault kind {kind!r}; use one of {KINDS}.")
    if times < 1 or after < 0:
        raise ValueError("times must be >= 1 and after >= 0.")
    fault = Fault(
        id=secrets.token_hex(6),
        provider=normalise_provider(provider),
        path_contains=path_contains,
        kind=kind,
        times=times,
        after=after,
        retry_after=retry_after,
    )
    rules = cache.get(_RULES_KEY) or []
    cache.set(_RULES_KEY, [*rules, asdict(fault)], _FOREVER)
    return fault


def active() -> list[Fault]:
    """Rules that still have failures to give."""
    return [f for f in _rules() if _seen(f) < f.after + f.times]


def clear() -> None:
    """Forget every rule and every call counter."""
    keys = [_RULES_KEY, _PATHS_KEY]
    keys += [_seen_key(f.id) for f in _rules()]
    keys += [_calls_key(path) for path in cache.get(_PATHS_KEY) or []]
    cache.delete_many(keys)


def calls(path_contains: str = "") -> int:
    """How many requests reached sandbox API views whose path contains the text."""
    paths = cache.get(_PATHS_KEY) or []
    matching = [_calls_key(p) for p in paths if path_contains in p]
    return sum(cache.get_many(matching).values())


def record_call(*, provider: str, path: str) -> Fault | None:
    """Count a call and return the fault it must answer with, if any."""
    _count(path)
    provider = normalise_provider(provider)
    chosen = None
    for fault in _rules():
        if fault.provider != provider or fault.path_contains not in path:
            continue
        seen = _incr(_seen_key(fault.id))
        if chosen is None and fault.after < seen <= fault.after + fault.times:
            chosen = fault
    return chosen


def _rules() -> list[Fault]:
    return [Fault(**rule) for rule in cache.get(_RULES_KEY) or []]


def _seen(fault: Fault) -> int:
    return cache.get(_seen_key(fault.id), 0)


def _seen_key(fault_id: str) -> str:
    return f"sandbox:faults:seen:{fault_id}"


def _calls_key(path: str) -> str:
    # Hashed: a request path may hold characters some cache backends refuse in keys.
    return "sandbox:faults:calls:" + hashlib.sha256(path.encode()).hexdigest()


def _count(path: str) -> None:
    paths = cache.get(_PATHS_KEY) or []
    if path not in paths:
        cache.set(_PATHS_KEY, [*paths, path], _FOREVER)
    _incr(_calls_key(path))


def _incr(key: str) -> int:
    if cache.add(key, 1, _FOREVER):
        return 1
    return cache.incr(key)
