"""TikTok Shop signatures: Open API requests (contract §3.4) and webhook pushes (§3.5).

Request signing, step by step:

1. every **query** parameter except ``sign`` and ``access_token`` (and a stray
   ``x-tts-access-token``), with its decoded value, i.e. the raw value before
   percent-encoding (a ``page_token`` holding ``/`` or ``+`` is signed as is);
2. sorted by key (byte order);
3. concatenated as ``key + value`` with no separators;
4. prefixed with the request path (no host, no query);
5. followed by the exact body bytes, unless the request has no body or is
   ``multipart/form-data`` (uploads are not signed over their body);
6. wrapped as ``app_secret + string + app_secret``;
7. ``sign = lowercase hex(HMAC-SHA256(key=app_secret, msg=wrapped))``;
   uppercase hex is refused by TikTok.

Two edge rules come from the SDKs, because the official page is silent:
empty-valued parameters are left out of the signature (the .NET SDK, and the
sandbox; :class:`~apps.tiktok_shop.client.TikTokShopClient` never sends them
either, so what is signed is what is sent), and list values are comma-joined
(the Ruby SDK), which is how ``ids=a,b`` travels on the wire.

The webhook signature is a different algorithm: ``Authorization`` carries
``lowercase hex(HMAC-SHA256(key=app_secret, msg=app_key + raw_body))``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping

#: Query parameters that never take part in the signature.
UNSIGNED_PARAMS: frozenset[str] = frozenset({"sign", "access_token", "x-tts-access-token"})

MULTIPART = "multipart/form-data"

ParamValue = str | int | Iterable[str]


def _text(value: ParamValue) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    return ",".join(str(item) for item in value)


def _as_bytes(body: bytes | str | None) -> bytes:
    if body is None:
        return b""
    return body.encode() if isinstance(body, str) else bytes(body)


def string_to_sign(
    *,
    path: str,
    params: Mapping[str, ParamValue],
    body: bytes | str | None,
    content_type: str | None = None,
) -> bytes:
    """Steps 1 to 5: the path, the sorted ``key + value`` pairs and (maybe) the body."""
    pairs = sorted(
        (key, text)
        for key, value in params.items()
        if key not in UNSIGNED_PARAMS and (text := _text(value)) != ""
    )
    signed = (path + "".join(key + value for key, value in pairs)).encode()
    multipart = (content_type or "").strip().lower().startswith(MULTIPART)
    if not multipart:
        signed += _as_bytes(body)
    return signed


def sign(
    *,
    path: str,
    params: Mapping[str, ParamValue],
    body: bytes | str | None,
    app_secret: str,
    content_type: str | None = None,
) -> str:
    """The ``sign`` query parameter of an Open API request."""
    secret = app_secret.encode()
    wrapped = (
        secret
        + string_to_sign(path=path, params=params, body=body, content_type=content_type)
        + secret
    )
    return hmac.new(secret, wrapped, hashlib.sha256).hexdigest()


def webhook_signature(*, app_key: str, app_secret: str, raw_body: bytes) -> str:
    """The ``Authorization`` header value TikTok Shop puts on a webhook push."""
    return hmac.new(app_secret.encode(), app_key.encode() + raw_body, hashlib.sha256).hexdigest()


def verify_webhook(*, app_key: str, app_secret: str, raw_body: bytes, authorization: str) -> bool:
    """Whether ``authorization`` signs ``raw_body``; compared in constant time.

    Hash the raw request bytes (``request.body``), never re-serialised JSON.
    Without an app key or secret nothing verifies: an unconfigured app refuses
    every push rather than accepting unsigned ones.
    """
    if not (app_key and app_secret and authorization):
        return False
    expected = webhook_signature(app_key=app_key, app_secret=app_secret, raw_body=raw_body)
    return hmac.compare_digest(expected.encode(), authorization.strip().encode())
