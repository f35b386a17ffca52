"""HTTP to the TikTok Shop Open API (202309 generation) and its auth host.

Two hosts (contract §3):

- the **auth host** (``settings.TIKTOK_SHOP_AUTH_BASE``) answers the token
  calls. They are plain GETs with ``app_key`` and ``app_secret`` in the query
  and are **not** signed (§3.1);
- the **API host** (``settings.TIKTOK_SHOP_API_BASE``) answers everything else.
  Every call carries ``app_key``, a fresh 10-digit ``timestamp`` and ``sign``
  in the query, the token in the ``x-tts-access-token`` header (never in the
  URL) and, on shop-level endpoints, ``shop_cipher`` (§3.3, §3.4). All of it
  is added in :meth:`TikTokShopClient.prepare`, which runs for every attempt,
  so a retry is signed again with a fresh timestamp and a refreshed token.

Both hosts answer ``{code, message, request_id, data}`` and report most
failures inside HTTP 200 with a non-zero ``code``; :data:`ERROR_TABLE` is the
one place where codes and statuses become the core's typed errors.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from apps.integrations.http import (
    PermissionDenied,
    ProviderClient,
    ProviderError,
    RateLimited,
    TokenExpired,
    parse_retry_after,
)
from apps.integrations.redaction import register_secret

from .signing import sign

TOKEN_GET_PATH = "/api/v2/token/get"  # noqa: S105 (a URL path, not a secret)
TOKEN_REFRESH_PATH = "/api/v2/token/refresh"  # noqa: S105
AUTHORIZED_SHOPS_PATH = "/authorization/202309/shops"

ACCESS_TOKEN_HEADER = "x-tts-access-token"  # noqa: S105 (a header name)
JSON_CONTENT_TYPE = "application/json"
REQUEST_ID_HEADER = "x-tt-logid"

#: Endpoints that refuse a ``shop_cipher`` (36009004 "Unexpected identifier"):
#: seller-level and authorization calls, and the product calls the contract
#: lists (§3.3). A cipher passed to one of them is dropped before signing.
SHOPLESS_PATHS: tuple[re.Pattern[str], ...] = (
    re.compile(r"^/authorization/"),
    re.compile(r"^/seller/"),
    re.compile(r"^/product/\d+/images/upload$"),
    re.compile(r"^/product/\d+/files/upload$"),
    re.compile(r"^/product/\d+/global_products"),
    re.compile(r"^/product/\d+/compliance"),
)
#: ... and ``POST /product/<version>/brands`` (GET brands takes one).
SHOPLESS_POST_PATHS: tuple[re.Pattern[str], ...] = (re.compile(r"^/product/\d+/brands$"),)


@dataclass(frozen=True)
class ErrorRule:
    """One row of :data:`ERROR_TABLE`: how an answer becomes a typed error.

    ``transient`` rows are failures on TikTok's side that may succeed when
    asked again, even when TikTok reports them inside HTTP 200; the base
    retries them (only for calls that are safe to repeat).
    """

    error: type[ProviderError]
    meaning: str
    transient: bool = False


#: The one error table (contract §3.3, common-errors). ``code`` keys are the
#: envelope's ``code``; ``http_status`` keys apply when the body has no
#: non-zero code of its own. Anything else that is not success becomes a plain
#: :class:`ProviderError` carrying TikTok's ``request_id``.
ERROR_TABLE: dict[str, dict[int, ErrorRule]] = {
    "code": {
        105001: ErrorRule(TokenExpired, "invalid access token: refresh once, then reconnect"),
        105002: ErrorRule(TokenExpired, "expired access token: refresh once and retry"),
        105003: ErrorRule(TokenExpired, "invalid or revoked access token: refresh once"),
        105005: ErrorRule(PermissionDenied, "the granted scopes lack the endpoint's scope"),
        36009002: ErrorRule(RateLimited, "too many requests (HTTP 429)"),
        36009003: ErrorRule(ProviderError, "internal error, retry", transient=True),
        36009007: ErrorRule(ProviderError, "gateway timeout, retry", transient=True),
        106001: ErrorRule(
            ProviderError, "invalid sign: a bug or a wrong app secret, never retried"
        ),
        106013: ErrorRule(ProviderError, "shop_cipher missing on a shop-level endpoint"),
    },
    "http_status": {
        429: ErrorRule(RateLimited, "too many requests"),
        503: ErrorRule(ProviderError, "service overloaded, retry", transient=True),
    },
}

OK = 0


def _header(headers: Mapping, name: str) -> str:
    """Case-insensitive header read that also works on a plain dict."""
    for key, value in headers.items():
        if str(key).lower() == name:
            return str(value)
    return ""


def _code(body: Any) -> int | None:
    """The envelope's ``code`` as an int, or None when the body is not an envelope."""
    if not isinstance(body, Mapping) or "code" not in body:
        return None
    try:
        return int(body["code"])
    except (TypeError, ValueError):
        return None


def _data(body: Any) -> dict:
    data = body.get("data") if isinstance(body, Mapping) else None
    return dict(data) if isinstance(data, Mapping) else {}


class TikTokShopClient(ProviderClient):
    """One seller authorization's calls: token exchange, refresh and Open API reads.

    **Rate limit.** TikTok counts 50 QPS per API, per app and shop (§3.3).
    The base keeps one bucket per ``rate_key``; unless the caller passes one,
    the key is the app plus the tenant, i.e. the seller authorization (one
    Shop connection per tenant). All APIs and all shops of that seller share
    the bucket, which is stricter than TikTok's own counting and never looser.
    A sync that works one shop at a time may pass
    ``rate_key=f"{app_key}:{shop_cipher}"`` to get a bucket per shop.
    """

    product = "tiktok_shop"
    rate_limit = (50, 1.0)

    def __init__(
        self,
        *,
        base_url: str | None = None,
        auth_base_url: str | None = None,
        app_key: str | None = None,
        app_secret: str | None = None,
        tenant: Any = None,
        rate_key: str = "",
        **kwargs: Any,
    ) -> None:
        self.app_key = app_key if app_key is not None else settings.TIKTOK_SHOP_APP_KEY
        self.app_secret = app_secret if app_secret is not None else settings.TIKTOK_SHOP_APP_SECRET
        register_secret(self.app_secret)
        self.auth_base_url = (auth_base_url or settings.TIKTOK_SHOP_AUTH_BASE).rstrip("/")
        if not rate_key:
            seller = f"tenant-{tenant.pk}" if tenant is not None else "app"
            rate_key = f"{self.app_key}:{seller}"
        api_base = (base_url or settings.TIKTOK_SHOP_API_BASE).rstrip("/")
        super().__init__(base_url=api_base, tenant=tenant, rate_key=rate_key, **kwargs)
        # The base URL's own path (the sandbox mounts the API below one) is not
        # part of the path TikTok signs.
        self._api_root = urlsplit(api_base).path.rstrip("/")

    # --- hooks ---------------------------------------------------------------------------

    def timestamp(self) -> str:
        """10-digit Unix seconds; TikTok accepts [now - 5 min, now + 30 s]."""
        return str(int(time.time()))

    def api_path(self, url: str) -> str:
        """The path that is signed: the URL's path below the API base URL."""
        path = urlsplit(url).path
        if self._api_root and path.startswith(self._api_root + "/"):
            return path[len(self._api_root) :]
        return path

    @staticmethod
    def takes_shop_cipher(*, method: str, path: str) -> bool:
        """False for endpoints that reject ``shop_cipher`` (36009004)."""
        if any(pattern.search(path) for pattern in SHOPLESS_PATHS):
            return False
        post = method.upper() == "POST"
        return not (post and any(pattern.search(path) for pattern in SHOPLESS_POST_PATHS))

    def prepare(
        self,
        *,
        method: str,
        url: str,
        params: dict,
        headers: dict,
        body: bytes | None,
        authenticated: bool,
    ) -> tuple[str, dict, dict]:
        """Sign an Open API call; auth-host calls (``authenticated=False``) go as they are."""
        if not authenticated:
            return url, params, headers
        path = self.api_path(url)
        # Empty values are neither signed nor sent; the token never goes in the URL.
        # Lists go comma-joined (``ids=a,b``), the form that is signed, not as repeated keys.
        query = {
            key: ",".join(map(str, value)) if isinstance(value, list | tuple) else value
            for key, value in params.items()
            if value is not None and value != "" and key not in {"sign", "access_token"}
        }
        if not self.takes_shop_cipher(method=method, path=path):
            query.pop("shop_cipher", None)
        query["app_key"] = self.app_key
        query["timestamp"] = self.timestamp()

        headers = {
            key: value
            for key, value in headers.items()
            if key.lower() not in {ACCESS_TOKEN_HEADER, "content-type"}
        } | {"content-type": _header(headers, "content-type") or JSON_CONTENT_TYPE}
        if self.access_token:
            headers[ACCESS_TOKEN_HEADER] = self.access_token

        query["sign"] = sign(
            path=path,
            params=query,
            body=body,
            app_secret=self.app_secret,
            content_type=headers["content-type"],
        )
        return url, query, headers

    def classify(self, *, status_code: int, body: Any, headers: Mapping) -> ProviderError | None:
        code = _code(body)
        if code == OK and status_code < 400:
            return None
        if code is None and status_code < 400:
            return ProviderError(
                f"TikTok Shop answered HTTP {status_code} without an envelope",
                request_id=self.request_id_of(body=body, headers=headers),
                status_code=status_code,
            )
        rule = ERROR_TABLE["code"].get(code) if code else None
        if rule is None:
            rule = ERROR_TABLE["http_status"].get(status_code)
        error_class = rule.error if rule else ProviderError
        message = body.get("message") if isinstance(body, Mapping) else ""
        return error_class(
            str(message or f"TikTok Shop answered HTTP {status_code} with code {code}"),
            code=str(code) if code else "",
            request_id=self.request_id_of(body=body, headers=headers),
            status_code=status_code,
            retry_after=parse_retry_after(_header(headers, "retry-after")),
            # None lets the error class and the HTTP status decide (5xx, 408, 429: transient).
            transient=True if rule and rule.transient else None,
        )

    def request_id_of(self, *, body: Any, headers: Mapping) -> str:
        if isinstance(body, Mapping) and body.get("request_id"):
            return str(body["request_id"])
        return _header(headers, REQUEST_ID_HEADER)

    def provider_code_of(self, *, body: Any) -> str:
        code = _code(body)
        return "" if code is None else str(code)

    # --- auth host -----------------------------------------------------------------------

    def _token_call(self, path: str, params: dict[str, str], *, secret: str) -> dict:
        """GET on the auth host. Never repeated: a code and a refresh token are single use.

        The app secret and the code or refresh token travel in the query, as
        TikTok requires; the call log keeps the path only, and every one of
        them is registered with the redaction module.
        """
        register_secret(secret)
        response = self.request(
            "GET",
            path,
            params={"app_key": self.app_key, "app_secret": self.app_secret, **params},
            authenticated=False,
            repeatable=False,
            base_url=self.auth_base_url,
        )
        data = _data(response.body)
        if not data.get("access_token"):
            raise ProviderError(
                "TikTok Shop answered the token call without an access token",
                request_id=response.request_id,
                status_code=response.status_code,
            )
        return data

    def token_get(self, *, auth_code: str) -> dict:
        """Exchange the callback's ``code``: tokens, absolute expiries, seller and scopes."""
        return self._token_call(
            TOKEN_GET_PATH,
            {"auth_code": auth_code, "grant_type": "authorized_code"},
            secret=auth_code,
        )

    def token_refresh(self, *, refresh_token: str) -> dict:
        """Spend a refresh token; the answer carries a new access token *and* a refresh token.

        Any refusal that is not transient means the refresh token is dead
        (expired, revoked, already rotated away): it is raised as
        :class:`TokenExpired` so the core marks the connection expired and the
        card asks for a reconnect. The auth host's refusal codes are not
        documented (contract §3.1), hence "any non-transient refusal".
        """
        try:
            return self._token_call(
                TOKEN_REFRESH_PATH,
                {"refresh_token": refresh_token, "grant_type": "refresh_token"},
                secret=refresh_token,
            )
        except TokenExpired:
            raise
        except ProviderError as exc:
            if exc.transient:  # throttled, network, TikTok-side failure: not a verdict
                raise
            raise TokenExpired(
                exc.message,
                code=exc.code,
                request_id=exc.request_id,
                status_code=exc.status_code,
            ) from exc

    # --- Open API ------------------------------------------------------------------------

    def authorized_shops(self) -> list[dict]:
        """``data.shops`` of ``GET /authorization/202309/shops`` (no ``shop_cipher``)."""
        response = self.request("GET", AUTHORIZED_SHOPS_PATH)
        return [dict(shop) for shop in _data(response.body).get("shops") or []]

    def paged(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        shop_cipher: str | None,
        page_size: int,
        method: str = "GET",
        json: Any = None,
        items_key: str | None = None,
        page_token: str = "",
    ) -> Iterator[tuple[list, str]]:
        """Yield ``(items, next_page_token)`` per page until the token comes back empty.

        ``page_size`` and ``page_token`` travel in the query, search filters in
        ``json`` (``POST .../search``); tokens may hold ``/`` and ``+`` and are
        signed raw, sent percent-encoded. Pass the last yielded token as
        ``page_token`` to resume from a checkpoint. ``items_key`` names the list
        in ``data`` (``orders``, ``products``...); without it the page's only
        list is taken. Search POSTs are reads, so every page may be retried.
        """
        token = page_token
        while True:
            query: dict[str, Any] = {**(params or {}), "page_size": str(page_size)}
            if shop_cipher:
                query["shop_cipher"] = shop_cipher
            if token:
                query["page_token"] = token
            response = self.request(method, path, params=query, json=json, repeatable=True)
            data = _data(response.body)
            items = _page_items(data, items_key)
            next_token = str(data.get("next_page_token") or "")
            yield items, next_token
            if not next_token:
                return
            if next_token == token:
                raise ProviderError(
                    f"TikTok Shop returned the same page_token twice on {path}",
                    request_id=response.request_id,
                    status_code=response.status_code,
                )
            token = next_token


def _page_items(data: Mapping[str, Any], items_key: str | None) -> list:
    if items_key is not None:
        return list(data.get(items_key) or [])
    lists = [value for key, value in data.items() if isinstance(value, list) and key != "errors"]
    if len(lists) > 1:
        raise ValueError(f"Several lists in the page ({sorted(data)}): pass items_key")
    return list(lists[0]) if lists else []
