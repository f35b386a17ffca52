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
ORDERS_SEARCH_PATH = "/order/202309/orders/search"
ORDERS_GET_PATH = "/order/202309/orders"
#: ``page_size`` of the order search is 1 to 100 (contract §3.6).
ORDERS_MAX_PAGE_SIZE = 100
#: ``GET /order/202309/orders`` takes at most 50 comma-separated ids.
ORDERS_GET_MAX_IDS = 50

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


class InvalidSignature(ProviderError):
    """TikTok refused the request's ``sign`` (106001, or 36009004 about the sign).

    Never transient: the same request is signed the same way, so only a fix
    (the right app secret, the exact body bytes, the path below the API root)
    helps. The message always names the signature.
    """

    default_transient = False

    def __init__(self, message: object, **kwargs: Any) -> None:
        text = str(message or "")
        if "sign" not in text.lower():
            text = f"Invalid request signature: {text}" if text else "Invalid request signature"
        super().__init__(text, **kwargs)


class QuotaExhausted(RateLimited):
    """A daily quota is spent (45101004: 10,000 customer-service queries a day).

    Not transient: asking again within the day fails the same way, so nothing
    retries it; the next scheduled sync (or the next day) does.
    """

    default_transient = False


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
            InvalidSignature, "invalid sign: a bug or a wrong app secret, never retried"
        ),
        106013: ErrorRule(ProviderError, "shop_cipher missing on a shop-level endpoint"),
        45101004: ErrorRule(QuotaExhausted, "daily customer-service quota spent, not retried"),
    },
    "http_status": {
        429: ErrorRule(RateLimited, "too many requests"),
        503: ErrorRule(ProviderError, "service overloaded, retry", transient=True),
    },
}

#: 36009004 is overloaded (contract §3.3): TikTok tells its cases apart only by the
#: message, so these rules are tried in order on it. The first match wins; no
#: match leaves a final :class:`ProviderError` (bad ``app_key``, timestamp out of
#: range, unexpected ``shop_cipher``, bad ``shop_id`` or version).
OVERLOADED_CODE = 36009004
MESSAGE_RULES: tuple[tuple[re.Pattern[str], ErrorRule], ...] = (
    (
        re.compile(r"x-tts-access-token|access[_ ]token", re.IGNORECASE),
        ErrorRule(TokenExpired, "missing, unknown or revoked token: refresh once, then reconnect"),
    ),
    (
        re.compile(r"\bsign\b|signature", re.IGNORECASE),
        ErrorRule(InvalidSignature, "the sign parameter is missing"),
    ),
)

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


@dataclass(frozen=True)
class OrdersPage:
    """One answer of the order search."""

    orders: list[dict]
    #: empty at the end of the walk
    next_page_token: str
    total_count: int | None


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _rule_for_message(message: str) -> ErrorRule | None:
    return next((rule for pattern, rule in MESSAGE_RULES if pattern.search(message)), None)


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
        message = body.get("message") if isinstance(body, Mapping) else ""
        rule = ERROR_TABLE["code"].get(code) if code else None
        if code == OVERLOADED_CODE:
            rule = _rule_for_message(str(message or ""))
        if rule is None:
            rule = ERROR_TABLE["http_status"].get(status_code)
        error_class = rule.error if rule else ProviderError
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

    def orders_search(
        self,
        *,
        shop_cipher: str,
        page_size: int = ORDERS_MAX_PAGE_SIZE,
        page_token: str = "",
        update_time_ge: int | None = None,
        update_time_lt: int | None = None,
        order_status: str = "",
    ) -> OrdersPage:
        """One page of ``POST /order/202309/orders/search``, oldest update first.

        Filters travel in the JSON body (Unix seconds; a missing upper bound is
        "now" at TikTok, a missing lower bound the shop's first day), paging in
        the query. Sorting on ``update_time`` ascending makes a walk's high-water
        mark the last order seen. A search is a read: every page may be retried.
        """
        if not 1 <= page_size <= ORDERS_MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1 to {ORDERS_MAX_PAGE_SIZE}, not {page_size}.")
        filters: dict[str, Any] = {}
        if order_status:
            filters["order_status"] = order_status
        if update_time_ge is not None:
            filters["update_time_ge"] = int(update_time_ge)
        if update_time_lt is not None:
            filters["update_time_lt"] = int(update_time_lt)
        query = {
            "shop_cipher": shop_cipher,
            "page_size": str(page_size),
            "page_token": page_token or None,
            "sort_field": "update_time",
            "sort_order": "ASC",
        }
        response = self.request(
            "POST", ORDERS_SEARCH_PATH, params=query, json=filters, repeatable=True
        )
        data = _data(response.body)
        return OrdersPage(
            orders=[dict(order) for order in data.get("orders") or []],
            next_page_token=str(data.get("next_page_token") or ""),
            total_count=_int_or_none(data.get("total_count")),
        )

    def orders_get(self, *, shop_cipher: str, order_ids: list[str]) -> list[dict]:
        """``GET /order/202309/orders?ids=a,b``: full orders, at most 50 ids a call."""
        if not order_ids:
            return []
        if len(order_ids) > ORDERS_GET_MAX_IDS:
            raise ValueError(f"At most {ORDERS_GET_MAX_IDS} order ids per call.")
        response = self.request(
            "GET", ORDERS_GET_PATH, params={"shop_cipher": shop_cipher, "ids": list(order_ids)}
        )
        return [dict(order) for order in _data(response.body).get("orders") or []]

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

    # --- customer service (contract §3.6 "Customer service inbox"; issue #6) --------------
    # Scope ``seller.customer_service`` (the sensitive Customer service pack).

    CONVERSATIONS_PATH = "/customer_service/202309/conversations"
    CONVERSATION_MESSAGES_PATH = "/customer_service/202309/conversations/{conversation_id}/messages"
    #: ``page_size`` of the conversation list is at most 20, of a conversation's messages 10.
    CONVERSATIONS_MAX_PAGE_SIZE = 20
    MESSAGES_MAX_PAGE_SIZE = 10

    def conversations(
        self,
        *,
        shop_cipher: str,
        page_size: int = CONVERSATIONS_MAX_PAGE_SIZE,
        page_token: str = "",
        locale: str = "",
    ) -> dict:
        """One page of ``GET /customer_service/202309/conversations``: ``data`` as TikTok sends it.

        ``data.conversations[{id, participant_count, can_send_message,
        unread_count, create_time, participants[{im_user_id, user_id, nickname,
        avatar, role}], latest_message{id, type, content, create_time, sender}}]``
        and ``next_page_token`` (``""`` at the end).
        """
        if not 1 <= page_size <= self.CONVERSATIONS_MAX_PAGE_SIZE:
            raise ValueError(
                f"page_size must be 1 to {self.CONVERSATIONS_MAX_PAGE_SIZE}, not {page_size}."
            )
        query = {
            "shop_cipher": shop_cipher,
            "page_size": str(page_size),
            "page_token": page_token or None,
            "locale": locale or None,
        }
        response = self.request("GET", self.CONVERSATIONS_PATH, params=query)
        return _data(response.body)

    def conversation_messages(
        self,
        *,
        shop_cipher: str,
        conversation_id: str,
        page_size: int = MESSAGES_MAX_PAGE_SIZE,
        page_token: str = "",
        newest_first: bool = True,
    ) -> dict:
        """One page of a conversation's messages, newest first by ``create_time`` by default.

        ``data.messages[{id, type, content (a JSON string), create_time,
        is_visible, sender{im_user_id, nickname, avatar, role}, index}]`` and
        ``next_page_token``.
        """
        if not 1 <= page_size <= self.MESSAGES_MAX_PAGE_SIZE:
            raise ValueError(
                f"page_size must be 1 to {self.MESSAGES_MAX_PAGE_SIZE}, not {page_size}."
            )
        path = self.CONVERSATION_MESSAGES_PATH.format(conversation_id=conversation_id)
        query = {
            "shop_cipher": shop_cipher,
            "page_size": str(page_size),
            "page_token": page_token or None,
            "sort_field": "create_time",
            "sort_order": "DESC" if newest_first else "ASC",
        }
        response = self.request("GET", path, params=query)
        return _data(response.body)

    def message_send(
        self, *, shop_cipher: str, conversation_id: str, text: str, message_type: str = "TEXT"
    ) -> str:
        """``POST .../conversations/{id}/messages`` with a text; returns TikTok's ``message_id``.

        ``content`` is a JSON *string* (``{"content": "hi"}``). Sending is not
        idempotent, so it is never repeated, not even after a 5xx.
        """
        import json as json_lib

        path = self.CONVERSATION_MESSAGES_PATH.format(conversation_id=conversation_id)
        body = {"type": message_type, "content": json_lib.dumps({"content": text})}
        response = self.request(
            "POST", path, params={"shop_cipher": shop_cipher}, json=body, repeatable=False
        )
        message_id = str(_data(response.body).get("message_id") or "")
        if not message_id:
            raise ProviderError(
                "TikTok Shop accepted the message without a message_id",
                request_id=response.request_id,
                status_code=response.status_code,
            )
        return message_id

    # --- products and inventory (catalog; contract §3.6 "Products") -----------------------
    # Kept in this one block at the end of the class; module-level names stay untouched.

    PRODUCTS_SEARCH_PATH = "/product/202309/products/search"
    PRODUCTS_PATH = "/product/202309/products"
    PRODUCT_PATH = "/product/202309/products/{product_id}"
    INVENTORY_UPDATE_PATH = "/product/202309/products/{product_id}/inventory/update"
    IMAGES_UPLOAD_PATH = "/product/202309/images/upload"
    WAREHOUSES_PATH = "/logistics/202309/warehouses"
    #: ``page_size`` of the product search is 1 to 100.
    PRODUCTS_MAX_PAGE_SIZE = 100
    #: TikTok refuses images over 5 MB (images/upload).
    IMAGE_MAX_BYTES = 5 * 1024 * 1024
    IMAGE_TYPES = {"image/jpeg": "jpg", "image/png": "png"}

    def products_search(
        self,
        *,
        shop_cipher: str,
        page_size: int = PRODUCTS_MAX_PAGE_SIZE,
        page_token: str = "",
        update_time_ge: int | None = None,
        update_time_le: int | None = None,
        status: str = "",
    ) -> dict:
        """One page of ``POST /product/202309/products/search``: ``data`` as TikTok sends it.

        ``data.products[]`` (``id, title, status, skus[{id, seller_sku, price,
        inventory[]}], create_time, update_time, audit``), ``next_page_token``
        (empty at the end) and ``total_count``. Filters go in the body, paging
        in the query. A search is a read: every page may be retried.
        """
        if not 1 <= page_size <= self.PRODUCTS_MAX_PAGE_SIZE:
            raise ValueError(
                f"page_size must be 1 to {self.PRODUCTS_MAX_PAGE_SIZE}, not {page_size}."
            )
        filters: dict[str, Any] = {}
        if status:
            filters["status"] = status
        if update_time_ge is not None:
            filters["update_time_ge"] = int(update_time_ge)
        if update_time_le is not None:
            filters["update_time_le"] = int(update_time_le)
        query = {
            "shop_cipher": shop_cipher,
            "page_size": str(page_size),
            "page_token": page_token or None,
        }
        response = self.request(
            "POST", self.PRODUCTS_SEARCH_PATH, params=query, json=filters, repeatable=True
        )
        return _data(response.body)

    def product_get(self, *, shop_cipher: str, product_id: str) -> dict:
        """``GET /product/202309/products/{id}``: the full product, with ``audit_failed_reasons``."""
        path = self.PRODUCT_PATH.format(product_id=product_id)
        response = self.request("GET", path, params={"shop_cipher": shop_cipher})
        return _data(response.body)

    def product_create(self, *, shop_cipher: str, product: dict) -> dict:
        """``POST /product/202309/products``; ``data`` is ``{product_id, skus[], warnings[]}``.

        Sent again after a transient failure only when the body carries an
        ``idempotency_key``: TikTok then answers the product it already made.
        """
        response = self.request(
            "POST",
            self.PRODUCTS_PATH,
            params={"shop_cipher": shop_cipher},
            json=product,
            repeatable=bool(product.get("idempotency_key")),
        )
        return _data(response.body)

    def product_edit(self, *, shop_cipher: str, product_id: str, product: dict) -> dict:
        """``PUT /product/202309/products/{id}``: a full replace (idempotent, so retried)."""
        path = self.PRODUCT_PATH.format(product_id=product_id)
        response = self.request("PUT", path, params={"shop_cipher": shop_cipher}, json=product)
        return _data(response.body)

    def inventory_update(
        self, *, shop_cipher: str, product_id: str, skus: list[dict]
    ) -> tuple[dict, str]:
        """``POST .../products/{id}/inventory/update``; returns ``(data, request_id)``.

        ``skus`` is ``[{id, inventory: [{warehouse_id, quantity}]}]`` with every
        warehouse of each SKU. ``code`` 0 may still carry per-SKU refusals in
        ``data.errors[{code, message, detail{sku_id, extra_errors[]}}]``: the
        caller checks both. Quantities are absolute, so a retry is harmless.
        """
        path = self.INVENTORY_UPDATE_PATH.format(product_id=product_id)
        response = self.request(
            "POST",
            path,
            params={"shop_cipher": shop_cipher},
            json={"skus": skus},
            repeatable=True,
        )
        return _data(response.body), response.request_id

    def warehouses(self, *, shop_cipher: str) -> list[dict]:
        """``GET /logistics/202309/warehouses`` (scope ``seller.logistics``)."""
        response = self.request("GET", self.WAREHOUSES_PATH, params={"shop_cipher": shop_cipher})
        return [dict(row) for row in _data(response.body).get("warehouses") or []]

    def image_upload(
        self, *, content: bytes, content_type: str, use_case: str = "MAIN_IMAGE"
    ) -> dict:
        """``POST /product/202309/images/upload`` (multipart, never signed over the body,
        no ``shop_cipher``); ``data`` is ``{uri, url, width, height, use_case}``.

        An upload sent twice only leaves an unused image at TikTok, so it is retried.
        """
        from urllib3 import encode_multipart_formdata

        extension = self.IMAGE_TYPES.get(content_type, "jpg")
        body, multipart_type = encode_multipart_formdata(
            {"data": (f"image.{extension}", content, content_type), "use_case": use_case}
        )
        response = self.request(
            "POST",
            self.IMAGES_UPLOAD_PATH,
            data=body,
            headers={"Content-Type": multipart_type},
            repeatable=True,
        )
        return _data(response.body)

    def image_fetch(self, *, url: str) -> tuple[bytes, str]:
        """Download a catalog image to upload it: ``(bytes, content type)``.

        Catalog images are URLs the tenant typed, fetched from our servers, so
        only ``https`` URLs to public hosts are followed (no IP literal in a
        private, loopback or link-local range, no ``localhost``), redirects are
        not followed, the answer must be a JPEG or PNG and at most 5 MB. The
        sandbox's own URLs (``SANDBOX_BASE_URL``) are allowed over http in
        sandbox mode. A full defence against DNS tricks belongs to an egress
        proxy; this refuses the obvious cases. Raises :class:`ProviderError`
        with a message for the tenant.
        """
        import ipaddress

        import requests as requests_lib

        sandbox = getattr(settings, "INTEGRATIONS_SANDBOX", False) and url.startswith(
            settings.SANDBOX_BASE_URL + "/"
        )
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if not sandbox:
            if parts.scheme != "https" or not host or host == "localhost":
                raise ProviderError(f"Image {url[:100]} is not an https URL of a public host.")
            try:
                address = ipaddress.ip_address(host)
            except ValueError:
                address = None
            if address is not None and not address.is_global:
                raise ProviderError(f"Image {url[:100]} points at a private address.")
        try:
            with self.session.get(
                url,
                timeout=(self.connect_timeout, self.read_timeout),
                stream=True,
                allow_redirects=False,
            ) as answer:
                if answer.status_code != 200:
                    raise ProviderError(
                        f"Image {url[:100]} could not be fetched (HTTP {answer.status_code})."
                    )
                content_type = answer.headers.get("Content-Type", "").split(";")[0].strip()
                if content_type not in self.IMAGE_TYPES:
                    raise ProviderError(
                        f"Image {url[:100]} is not a JPEG or PNG ({content_type or 'no type'})."
                    )
                content = answer.raw.read(self.IMAGE_MAX_BYTES + 1, decode_content=True)
        except requests_lib.RequestException as exc:
            raise ProviderError(
                f"Image {url[:100]} could not be fetched ({type(exc).__name__})."
            ) from None
        if len(content) > self.IMAGE_MAX_BYTES:
            raise ProviderError(f"Image {url[:100]} is larger than 5 MB.")
        return content, content_type

    # --- fulfillment, returns and finance (contract §3.6; issue #6) -------------------------

    PACKAGE_PATH = "/fulfillment/202309/packages/{package_id}"
    PACKAGE_SHIP_PATH = "/fulfillment/202309/packages/{package_id}/ship"
    PACKAGE_DOCUMENTS_PATH = "/fulfillment/202309/packages/{package_id}/shipping_documents"
    ORDER_PACKAGES_PATH = "/fulfillment/202309/orders/{order_id}/packages"
    DELIVERY_OPTIONS_PATH = "/logistics/202309/warehouses/{warehouse_id}/delivery_options"
    SHIPPING_PROVIDERS_PATH = (
        "/logistics/202309/delivery_options/{delivery_option_id}/shipping_providers"
    )
    RETURNS_SEARCH_PATH = "/return_refund/202309/returns/search"
    RETURN_APPROVE_PATH = "/return_refund/202309/returns/{return_id}/approve"
    RETURN_REJECT_PATH = "/return_refund/202309/returns/{return_id}/reject"
    REJECT_REASONS_PATH = "/return_refund/202309/reject_reasons"
    STATEMENTS_PATH = "/finance/202309/statements"
    PAYMENTS_PATH = "/finance/202309/payments"
    STATEMENT_TRANSACTIONS_PATH = "/finance/202309/statements/{statement_id}/statement_transactions"
    #: ``page_size`` of the returns search is 10 to 50 (string-typed in the spec).
    RETURNS_PAGE_SIZE = (10, 50)
    #: statements, payments and statement transactions take 1 to 100 a page.
    FINANCE_MAX_PAGE_SIZE = 100

    def package_get(self, *, shop_cipher: str, package_id: str) -> dict:
        """``GET /fulfillment/202309/packages/{id}``: status, tracking, provider, orders."""
        path = self.PACKAGE_PATH.format(package_id=package_id)
        return _data(self.request("GET", path, params={"shop_cipher": shop_cipher}).body)

    def package_ship(
        self,
        *,
        shop_cipher: str,
        package_id: str,
        tracking_number: str = "",
        shipping_provider_id: str = "",
        handover_method: str = "",
    ) -> dict:
        """``POST .../packages/{id}/ship``: ``self_shipment`` with tracking and provider, or
        the platform's own shipping with ``handover_method`` (PICKUP | DROP_OFF).

        Not repeated after a failure whose outcome is unknown: the second call
        would be refused as already shipped at best.
        """
        if handover_method:
            body: dict[str, Any] = {"handover_method": handover_method}
        else:
            body = {
                "self_shipment": {
                    "tracking_number": tracking_number,
                    "shipping_provider_id": shipping_provider_id,
                }
            }
        path = self.PACKAGE_SHIP_PATH.format(package_id=package_id)
        response = self.request(
            "POST", path, params={"shop_cipher": shop_cipher}, json=body, repeatable=False
        )
        return _data(response.body)

    def order_mark_shipped(
        self,
        *,
        shop_cipher: str,
        order_id: str,
        order_line_item_ids: list[str],
        tracking_number: str,
        shipping_provider_id: str,
    ) -> dict:
        """``POST /fulfillment/202309/orders/{id}/packages``: a seller-shipped order without a
        package is marked shipped; ``data.package_id`` names the package TikTok made."""
        path = self.ORDER_PACKAGES_PATH.format(order_id=order_id)
        body = {
            "order_line_item_ids": list(order_line_item_ids),
            "tracking_number": tracking_number,
            "shipping_provider_id": shipping_provider_id,
        }
        response = self.request(
            "POST", path, params={"shop_cipher": shop_cipher}, json=body, repeatable=False
        )
        return _data(response.body)

    def shipping_document(
        self, *, shop_cipher: str, package_id: str, document_type: str = "SHIPPING_LABEL"
    ) -> dict:
        """``GET .../packages/{id}/shipping_documents``: ``data.doc_url`` (a short-lived link)."""
        path = self.PACKAGE_DOCUMENTS_PATH.format(package_id=package_id)
        params = {"shop_cipher": shop_cipher, "document_type": document_type}
        return _data(self.request("GET", path, params=params).body)

    def delivery_options(self, *, shop_cipher: str, warehouse_id: str) -> list[dict]:
        """``GET /logistics/202309/warehouses/{id}/delivery_options``."""
        path = self.DELIVERY_OPTIONS_PATH.format(warehouse_id=warehouse_id)
        body = self.request("GET", path, params={"shop_cipher": shop_cipher}).body
        return [dict(row) for row in _data(body).get("delivery_options") or []]

    def shipping_providers(self, *, shop_cipher: str, delivery_option_id: str) -> list[dict]:
        """``GET /logistics/202309/delivery_options/{id}/shipping_providers``."""
        path = self.SHIPPING_PROVIDERS_PATH.format(delivery_option_id=delivery_option_id)
        body = self.request("GET", path, params={"shop_cipher": shop_cipher}).body
        return [dict(row) for row in _data(body).get("shipping_providers") or []]

    def returns_search(
        self,
        *,
        shop_cipher: str,
        page_size: int = 50,
        page_token: str = "",
        update_time_ge: int | None = None,
        update_time_lt: int | None = None,
        return_ids: list[str] | None = None,
    ) -> dict:
        """One page of ``POST /return_refund/202309/returns/search``, oldest update first.

        ``data.return_orders[]``, ``next_page_token``, ``total_count``. Paging in
        the query (``page_size`` 10 to 50), filters in the body.
        """
        low, high = self.RETURNS_PAGE_SIZE
        if not low <= page_size <= high:
            raise ValueError(f"page_size must be {low} to {high}, not {page_size}.")
        filters: dict[str, Any] = {}
        if return_ids:
            filters["return_ids"] = list(return_ids)
        if update_time_ge is not None:
            filters["update_time_ge"] = int(update_time_ge)
        if update_time_lt is not None:
            filters["update_time_lt"] = int(update_time_lt)
        query = {
            "shop_cipher": shop_cipher,
            "page_size": str(page_size),
            "page_token": page_token or None,
            "sort_field": "update_time",
            "sort_order": "ASC",
        }
        response = self.request(
            "POST", self.RETURNS_SEARCH_PATH, params=query, json=filters, repeatable=True
        )
        return _data(response.body)

    def return_approve(
        self, *, shop_cipher: str, return_id: str, decision: str, idempotency_key: str
    ) -> dict:
        """``POST .../returns/{id}/approve`` with ``decision``; ``idempotency_key`` in the query
        makes a repeat harmless, so a transient failure is retried with the same key."""
        path = self.RETURN_APPROVE_PATH.format(return_id=return_id)
        params = {"shop_cipher": shop_cipher, "idempotency_key": idempotency_key}
        response = self.request(
            "POST", path, params=params, json={"decision": decision}, repeatable=True
        )
        return _data(response.body)

    def return_reject(
        self,
        *,
        shop_cipher: str,
        return_id: str,
        decision: str,
        reject_reason: str,
        idempotency_key: str,
        comment: str = "",
    ) -> dict:
        """``POST .../returns/{id}/reject`` with ``decision`` and a ``reject_reason`` name from
        :meth:`reject_reasons`; retried with the same ``idempotency_key``."""
        path = self.RETURN_REJECT_PATH.format(return_id=return_id)
        body: dict[str, Any] = {"decision": decision, "reject_reason": reject_reason}
        if comment:
            body["comment"] = comment
        params = {"shop_cipher": shop_cipher, "idempotency_key": idempotency_key}
        response = self.request("POST", path, params=params, json=body, repeatable=True)
        return _data(response.body)

    def reject_reasons(self, *, shop_cipher: str, return_or_cancel_id: str) -> list[dict]:
        """``GET /return_refund/202309/reject_reasons``: ``data.reasons[{name, text}]``."""
        params = {"shop_cipher": shop_cipher, "return_or_cancel_id": return_or_cancel_id}
        body = self.request("GET", self.REJECT_REASONS_PATH, params=params).body
        return [dict(row) for row in _data(body).get("reasons") or []]

    def _finance_page(
        self, path: str, *, shop_cipher: str, page_size: int, page_token: str, query: dict
    ) -> dict:
        if not 1 <= page_size <= self.FINANCE_MAX_PAGE_SIZE:
            raise ValueError(
                f"page_size must be 1 to {self.FINANCE_MAX_PAGE_SIZE}, not {page_size}."
            )
        params = {
            "shop_cipher": shop_cipher,
            "page_size": str(page_size),
            "page_token": page_token or None,
            **query,
        }
        return _data(self.request("GET", path, params=params).body)

    def statements(
        self,
        *,
        shop_cipher: str,
        page_size: int = FINANCE_MAX_PAGE_SIZE,
        page_token: str = "",
        statement_time_ge: int | None = None,
        statement_time_lt: int | None = None,
    ) -> dict:
        """One page of ``GET /finance/202309/statements`` (``sort_field=statement_time``,
        required), oldest first: ``data.statements[]``, ``next_page_token``."""
        query = {
            "sort_field": "statement_time",
            "sort_order": "ASC",
            "statement_time_ge": statement_time_ge,
            "statement_time_lt": statement_time_lt,
        }
        return self._finance_page(
            self.STATEMENTS_PATH,
            shop_cipher=shop_cipher,
            page_size=page_size,
            page_token=page_token,
            query=query,
        )

    def payments(
        self,
        *,
        shop_cipher: str,
        page_size: int = FINANCE_MAX_PAGE_SIZE,
        page_token: str = "",
        create_time_ge: int | None = None,
        create_time_lt: int | None = None,
    ) -> dict:
        """One page of ``GET /finance/202309/payments`` (``sort_field=create_time``, required)."""
        query = {
            "sort_field": "create_time",
            "sort_order": "ASC",
            "create_time_ge": create_time_ge,
            "create_time_lt": create_time_lt,
        }
        return self._finance_page(
            self.PAYMENTS_PATH,
            shop_cipher=shop_cipher,
            page_size=page_size,
            page_token=page_token,
            query=query,
        )

    def statement_transactions(
        self,
        *,
        shop_cipher: str,
        statement_id: str,
        page_size: int = FINANCE_MAX_PAGE_SIZE,
        page_token: str = "",
    ) -> dict:
        """One page of ``GET /finance/202309/statements/{id}/statement_transactions``
        (``sort_field=order_create_time``): ``data.statement_transactions[]``."""
        return self._finance_page(
            self.STATEMENT_TRANSACTIONS_PATH.format(statement_id=statement_id),
            shop_cipher=shop_cipher,
            page_size=page_size,
            page_token=page_token,
            query={"sort_field": "order_create_time", "sort_order": "ASC"},
        )


def _page_items(data: Mapping[str, Any], items_key: str | None) -> list:
    if items_key is not None:
        return list(data.get(items_key) or [])
    lists = [value for key, value in data.items() if isinstance(value, list) and key != "errors"]
    if len(lists) > 1:
        raise ValueError(f"Several lists in the page ({sorted(data)}): pass items_key")
    return list(lists[0]) if lists else []
