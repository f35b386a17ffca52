"""Hostile deliveries to every webhook endpoint never answer 500.

Walks the webhook registry (``apps.webhooks.registry.webhooks``), so a source a
product app registers is fuzzed as soon as it exists; :data:`SOURCES` supplies
what the fuzzer cannot guess for each one (a real-shaped example body and how
to sign a body validly), and :func:`test_every_webhook_source_can_be_fuzzed`
fails, naming the source, until it is there.

Each source is sent, through the real URL conf and middleware:

- bodies: the real-shaped example with any of its values replaced by hostile
  ones (NaN, huge numbers, NUL characters, lone surrogates, deep nesting, wrong
  types), random JSON, random bytes, truncated JSON;
- headers: a valid signature, none, a garbage or huge one, one computed over
  another body; many content types; broken ``Content-Length`` values;
- methods GET/POST/PUT/PATCH/DELETE/HEAD/OPTIONS, random query strings (the
  Meta handshake's ``hub.*`` parameters among them), with and without a route
  key (a valid one, a random one).

Hypothesis runs derandomized with a bounded number of examples, so CI sees the
same cases on every run; raise ``FUZZ_EXAMPLES`` locally to search harder.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from apps.webhooks.registry import webhooks

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    # No shrinking: CI must stay fast and the first failing request is printed as it is.
    phases=[Phase.explicit, Phase.generate],
    report_multiple_bugs=False,
)


# --- what each source needs -------------------------------------------------------------------


def _meta_headers(body: bytes) -> dict[str, str]:
    from apps.meta_ads.webhooks import signature_of

    return {"X-Hub-Signature-256": signature_of(body)}


def _tiktok_shop_headers(body: bytes) -> dict[str, str]:
    from apps.tiktok_shop.signing import webhook_signature

    return {
        "Authorization": webhook_signature(
            app_key=django_settings.TIKTOK_SHOP_APP_KEY,
            app_secret=django_settings.TIKTOK_SHOP_APP_SECRET,
            raw_body=body,
        )
    }


def _tiktok_ads_headers(body: bytes) -> dict[str, str]:
    stamp = str(int(time.time()))
    digest = hmac.new(
        django_settings.TIKTOK_APP_SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    return {"TikTok-Signature": f"t={stamp},s={digest}"}


def _lead_route_key(tenant) -> str:
    from apps.capi.services import lead_endpoint_for

    return lead_endpoint_for(tenant).token


@dataclass(frozen=True)
class FuzzSource:
    #: a real-shaped delivery body (a fixture of the product app's tests)
    example: str
    #: headers that make ``body`` a validly signed delivery
    sign: Callable[[bytes], dict[str, str]]
    #: for a ``routed`` source: the tenant's valid route key
    route_key: Callable[[Any], str] | None = None


SOURCES: dict[str, FuzzSource] = {
    "meta": FuzzSource(
        "apps/meta_ads/tests/fixtures/webhook_messages__ctwa_referral.json", _meta_headers
    ),
    "tiktok-shop": FuzzSource(
        "apps/tiktok_shop/tests/fixtures/webhook__order_status_change.json", _tiktok_shop_headers
    ),
    "tiktok-ads": FuzzSource(
        "apps/capi/tests/fixtures/lead_webhook__lead.json", _tiktok_ads_headers, _lead_route_key
    ),
}


def test_every_webhook_source_can_be_fuzzed():
    registered = {source.key for source in webhooks.sources()}
    missing = sorted(registered - set(SOURCES))
    assert not missing, (
        f"webhook source(s) {missing} are not fuzzed: add an example body and a signer to "
        "SOURCES in tests/test_fuzz_webhooks.py"
    )
    for key, fuzz in SOURCES.items():
        assert (ROOT / fuzz.example).is_file(), f"{key}: example {fuzz.example} is missing"
        if key in registered:
            routed = webhooks.source(key).routed
            assert routed == (fuzz.route_key is not None), f"{key}: route_key must match routed"


# --- strategies -------------------------------------------------------------------------------

NASTY_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "a\x00b",
        "\ud800",
        "\udfff tail",
        "\u202e\u0000",
        "😀" * 50,
        "x" * 20_000,
        "-1",
        "1e309",
        "NaN",
        "null",
        "9" * 400,
        "../../etc/passwd",
        "<script>alert(1)</script>",
        "'; DROP TABLE webhooks_webhookevent; --",
        "%s%s%n",
    ]
)
NASTY_NUMBER = st.sampled_from(
    [0, -1, 2**31, 2**63, -(2**63) - 1, 10**30, 10**400, float("nan"), float("inf"), -1e308, 0.5]
)
LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=30),
    NASTY_TEXT,
    NASTY_NUMBER,
)
JSON_VALUE = st.recursive(
    LEAF,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=12) | NASTY_TEXT, children, max_size=4)
    ),
    max_leaves=12,
)


def mutated(value: Any) -> st.SearchStrategy:
    """``value`` with any of its parts (itself included) possibly replaced by a hostile one.

    The original comes first, so Hypothesis shrinks a failure toward the real
    shape and reports the one value that breaks it.
    """
    if isinstance(value, dict):
        inner = st.fixed_dictionaries({k: mutated(v) for k, v in value.items()})
    elif isinstance(value, list):
        inner = st.tuples(*(mutated(v) for v in value)).map(list) if value else st.just([])
    else:
        inner = st.just(value)
    return st.one_of(inner, inner, inner, JSON_VALUE)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


def bodies(example: Any) -> st.SearchStrategy:
    shaped = mutated(example).map(_dumps)
    return st.one_of(
        shaped,
        shaped,
        shaped,
        JSON_VALUE.map(_dumps),
        st.binary(max_size=300),
        st.tuples(shaped, st.integers(min_value=0, max_value=400)).map(lambda t: t[0][: t[1]]),
        st.just(b"{" * 5000 + b"}" * 5000),
        st.just(b'{"entry": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"),
    )


HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=80)
CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/json",
        "application/json",
        "application/json",
        "application/json; charset=utf-8",
        "application/json; charset=nonsense",
        "APPLICATION/JSON",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "",
        "application/json\x00",
    ]
)
SIGNATURE = st.one_of(
    st.just("valid"),
    st.just("valid"),
    st.just("missing"),
    st.just("other-body"),
    HEADER_TEXT.map(lambda t: "text:" + t),
    st.sampled_from(["huge", "sha256=", "t=²,s=ab", "t=1,s=é", "t=,s=", "="]),
)
QUERY = st.dictionaries(
    st.sampled_from(["hub.mode", "hub.verify_token", "hub.challenge", "x", "route"])
    | st.text(max_size=8),
    st.sampled_from(["subscribe", django_settings.META_WEBHOOK_VERIFY_TOKEN, ""]) | HEADER_TEXT,
    max_size=4,
)
METHODS = st.sampled_from(
    [*["POST"] * 8, "GET", "GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
)
CONTENT_LENGTH = st.sampled_from([None, None, None, "abc", "-1", "99999999999", " 12 "])


def _signature_headers(fuzz: FuzzSource, body: bytes, mode: str) -> dict[str, str]:
    valid = fuzz.sign(body)
    if mode == "valid":
        return valid
    if mode == "missing":
        return {}
    if mode == "other-body":
        return fuzz.sign(body + b" ")
    value = "a" * 60_000 if mode == "huge" else mode.removeprefix("text:")
    return dict.fromkeys(valid, value)


@pytest.fixture
def webhook_tenant(make_tenant):
    return make_tenant("hooked")


@pytest.mark.parametrize("source_key", sorted(SOURCES))
def test_hostile_deliveries_never_answer_500(source_key, webhook_tenant):
    source = webhooks.source(source_key)
    if source is None:
        pytest.skip(f"{source_key} is not registered in this configuration")
    fuzz = SOURCES[source_key]
    example = json.loads((ROOT / fuzz.example).read_text())
    valid_route = fuzz.route_key(webhook_tenant) if fuzz.route_key else None
    routes = st.sampled_from(([valid_route] * 6 if valid_route else []) + [None, "Zm9v-bar_baz"])
    client = Client()
    seen: dict[int, int] = {}

    # The example itself, validly signed, is accepted: the signer and the route key are right.
    path = f"/webhooks/{source_key}/" + (f"{valid_route}/" if valid_route else "")
    body = json.dumps(example).encode()
    response = client.post(
        path, data=body, content_type="application/json", headers=fuzz.sign(body)
    )
    assert response.status_code == 200, (response.status_code, response.content[:300])

    @FUZZ
    @given(
        body=bodies(example),
        signature=SIGNATURE,
        content_type=CONTENT_TYPES,
        method=METHODS,
        query=QUERY,
        route=routes,
        content_length=CONTENT_LENGTH,
    )
    def deliver(body, signature, content_type, method, query, route, content_length):
        path = f"/webhooks/{source_key}/" + (f"{route}/" if route else "")
        if query:
            from urllib.parse import urlencode

            path += "?" + urlencode(query)
        extra = {} if content_length is None else {"CONTENT_LENGTH": content_length}
        digits = content_length is not None and content_length.strip().lstrip("-").isdigit()
        if digits and 0 <= int(content_length) <= len(body):
            body = body[: int(content_length)]  # a real server cuts the body there
        elif digits and len(body) < int(content_length) <= django_settings.WEBHOOKS_MAX_BODY:
            extra = {}  # a real server would wait for the missing bytes; the test client can't
        response = client.generic(
            method,
            path,
            data=body,
            content_type=content_type,
            headers=_signature_headers(fuzz, body, signature),
            **extra,
        )
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        assert response.status_code < 500, (method, path, content_type, body[:200])

    deliver()
    # The fuzzer must get past the signature check, or it proves little.
    assert seen.get(200, 0) > 0, sorted(seen.items())
    assert seen.get(400, 0) + seen.get(401, 0) > 0, seen


# --- the 500s the fuzzer found, pinned -------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"entry": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",  # RecursionError in json.loads
        b'{"type": 1, "entry": [], "x": NaN}',  # not JSON; PostgreSQL and SQLite refuse it
        b'{"type": 1, "entry": [], "x": 1e400}',  # parsed as infinity
        b'{"type": 1, "entry": [], "x": "a\\u0000b"}',  # PostgreSQL jsonb refuses NUL
        b'{"type": 1, "entry": [], "x": "\\ud800"}',  # a lone surrogate: not encodable
    ],
    ids=["deep", "nan", "inf", "nul", "surrogate"],
)
@pytest.mark.parametrize("source_key", sorted(SOURCES))
def test_signed_but_unstorable_bodies_are_400(source_key, body, webhook_tenant):
    fuzz = SOURCES[source_key]
    route = f"{fuzz.route_key(webhook_tenant)}/" if fuzz.route_key else ""
    response = Client().post(
        f"/webhooks/{source_key}/{route}",
        data=body,
        content_type="application/json",
        headers=fuzz.sign(body),
    )
    assert response.status_code == 400, response.content


@pytest.mark.parametrize("header", ["t=²,s=ab", "t=1,s=é", "t=99999999999999999999,s=ab"])
def test_tiktok_lead_signature_with_odd_characters_is_401(header, webhook_tenant):
    route = _lead_route_key(webhook_tenant)
    response = Client().post(
        f"/webhooks/tiktok-ads/{route}/",
        data=b'{"object": 1, "entry": [{"id": "1"}]}',
        content_type="application/json",
        headers={"TikTok-Signature": header},
    )
    assert response.status_code == 401


@pytest.mark.parametrize("timestamp", [10**15, -(10**15), 2**63])
def test_tiktok_shop_push_with_an_impossible_timestamp_is_stored_undated(timestamp):
    from apps.webhooks.models import WebhookEvent

    body = json.dumps(
        {"type": 1, "tts_notification_id": f"n{timestamp}", "shop_id": "1", "timestamp": timestamp}
    ).encode()
    response = Client().post(
        "/webhooks/tiktok-shop/",
        data=body,
        content_type="application/json",
        headers=_tiktok_shop_headers(body),
    )
    assert response.status_code == 200, response.content
    assert WebhookEvent.objects.get(event_id=f"n{timestamp}").occurred_at is None
