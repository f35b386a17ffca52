"""TikTok Shop Open API request signing (contract tiktok-shop.md §3.4).

1. every query parameter except ``sign`` and ``access_token`` (and a stray
   ``x-tts-access-token``), with decoded values;
2. sorted by key; 3. concatenated as ``key + value``;
4. prefixed with the request path (no host, no query);
5. followed by the exact body bytes unless the request is multipart or bodiless;
6. wrapped as ``secret + string + secret``;
7. ``sign = lowercase hex(HMAC-SHA256(key=secret, msg=wrapped))``.

Empty-valued parameters are left out, as the .NET SDK does; array values are
comma-joined, as the Ruby SDK does.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping

UNSIGNED_KEYS = frozenset({"sign", "access_token", "x-tts-access-token"})


def _normalise(value: str | Iterable[str]) -> str:
    if isinstance(value, str):
        return value
    return ",".join(value)


def base_string(
    *,
    path: str,
    query: Mapping[str, str | Iterable[str]],
    body: bytes | None = None,
    content_type: str = "",
) -> bytes:
    """The string that is wrapped and signed (steps 1 to 5)."""
    pairs = sorted(
        (key, _normalise(value))
        for key, value in query.items()
        if key not in UNSIGNED_KEYS and _normalise(value) != ""
    )
    text = path + "".join(key + value for key, value in pairs)
    signed = text.encode()
    if body and not content_type.lower().startswith("multipart/form-data"):
        signed += body
    return signed


def sign(
    *,
    app_secret: str,
    path: str,
    query: Mapping[str, str | Iterable[str]],
    body: bytes | None = None,
    content_type: str = "",
) -> str:
    """The ``sign`` query parameter for a request."""
    secret = app_secret.encode()
    wrapped = (
        secret + base_string(path=path, query=query, body=body, content_type=content_type) + secret
    )
    return hmac.new(secret, wrapped, hashlib.sha256).hexdigest()


def verify(
    *,
    app_secret: str,
    path: str,
    query: Mapping[str, str | Iterable[str]],
    signature: str,
    body: bytes | None = None,
    content_type: str = "",
) -> bool:
    """Compare in constant time; uppercase hex is refused, as TikTok does."""
    expected = sign(
        app_secret=app_secret, path=path, query=query, body=body, content_type=content_type
    )
    return hmac.compare_digest(expected, signature)


def webhook_signature(*, app_key: str, app_secret: str, raw_body: bytes) -> str:
    """The ``Authorization`` header TikTok Shop puts on webhook pushes (§3.5)."""
    return hmac.new(app_secret.encode(), app_key.encode() + raw_body, hashlib.sha256).hexdigest()
