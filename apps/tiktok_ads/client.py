"""HTTP to the TikTok for Business Marketing API v1.3 (contract tiktok-ads.md §2.1-2.4).

Quirks this client owns:

- Every answer is the envelope ``{code, message, request_id, data}``, and
  application errors arrive **inside HTTP 200** (``code != 0``), throttling
  included (40100 app, 40133 advertiser, no ``Retry-After``). HTTP 4xx/5xx
  only happen when the request never reached the API logic; those fall back
  to the core's classification by status. :data:`ERRORS` is the one table.
- The token travels in the ``Access-Token`` header, never in the URL.
  ``oauth2/advertiser/get/`` does want the app id and *secret* in its query:
  the core's call log keeps paths only, and the secret is registered for
  redaction.
- GET parameters that are lists or objects are sent as JSON strings
  (``advertiser_ids=["1","2"]``, ``filtering={...}``).
- Paths end with a slash; without it the API answers 404.
- Advertiser tokens never expire and have no refresh token; revoke them with
  ``oauth2/revoke_token/``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings

from apps.integrations.http import (
    PermissionDenied,
    ProviderClient,
    ProviderError,
    RateLimited,
    TokenExpired,
)
from apps.integrations.redaction import register_secret

API_PREFIX = "/open_api/v1.3"
ACCESS_TOKEN_PATH = f"{API_PREFIX}/oauth2/access_token/"
REVOKE_TOKEN_PATH = f"{API_PREFIX}/oauth2/revoke_token/"
ADVERTISER_GET_PATH = f"{API_PREFIX}/oauth2/advertiser/get/"
ADVERTISER_INFO_PATH = f"{API_PREFIX}/advertiser/info/"
CAMPAIGN_GET_PATH = f"{API_PREFIX}/campaign/get/"

#: ``code`` 0 is success; 20001 is a partial success whose ``data`` is still usable.
SUCCESS_CODES: frozenset[int] = frozenset({0, 20001})

#: Envelope ``code`` -> typed error (contract §2.3). Codes not listed here become
#: a plain :class:`ProviderError` with the answer's ``request_id``, except the
#: server range :data:`SERVER_ERROR_CODES`, which is transient.
ERRORS: dict[int, type[ProviderError]] = {
    # Throttling, answered in HTTP 200 without Retry-After: back off and retry.
    40100: RateLimited,  # app-level QPS/QPM/QPD limit
    40133: RateLimited,  # advertiser-level QPS limit
    40016: RateLimited,  # "requests made too frequently"
    # The token is unusable. Advertiser tokens cannot be refreshed: reconnect.
    40102: TokenExpired,  # access token expired
    40105: TokenExpired,  # access token invalid or revoked
    40104: TokenExpired,  # no access token ("set it in http header with key Access-Token")
    # Missing permission.
    40001: PermissionDenied,  # no permission on this advertiser / object
    40125: PermissionDenied,  # the developer app lacks the permission
    40118: PermissionDenied,  # the app is not allow-listed for this API
}

#: 5xxxx: TikTok's server errors, worth retrying later (the docs suggest ~5 minutes).
SERVER_ERROR_CODES = range(50000, 60000)

#: ``campaign/get/`` and friends accept page sizes 1-1000.
MAX_PAGE_SIZE = 1000
#: ``advertiser/info/`` takes at most this many ids per call (code 40011 beyond).
ADVERTISER_INFO_BATCH = 100
#: What ``advertiser/info/`` is asked for when the caller names no fields.
ADVERTISER_FIELDS = ("advertiser_id", "name", "currency", "timezone", "display_timezone", "status")


def _int_code(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _query_value(value: Any) -> Any:
    """Lists, objects and booleans as the JSON the Marketing API parses from a query."""
    if isinstance(value, list | tuple | dict | bool):
        return json.dumps(list(value) if isinstance(value, tuple) else value, separators=(",", ":"))
    return value


class TikTokAdsClient(ProviderClient):
    """One advertiser authorization's token (or the app alone for the token calls)."""

    product = "tiktok_ads"
    #: Basic tier: 10 QPS per developer app, shared by every process (contract §2.3).
    rate_limit = (10, 1.0)

    def __init__(
        self,
        *,
        base_url: str | None = None,
        app_id: str | None = None,
        secret: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.app_id = app_id if app_id is not None else settings.TIKTOK_APP_ID
        self.secret = secret if secret is not None else settings.TIKTOK_APP_SECRET
        register_secret(self.secret)
        kwargs.setdefault("rate_key", self.app_id)
        super().__init__(base_url=base_url or settings.TIKTOK_ADS_API_BASE, **kwargs)

    # --- hooks ------------------------------------------------------------------------

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
        if authenticated and self.access_token:
            headers["Access-Token"] = self.access_token
        return url, {key: _query_value(value) for key, value in params.items()}, headers

    def classify(self, *, status_code: int, body: Any, headers: Mapping) -> ProviderError | None:
        if not isinstance(body, Mapping) or "code" not in body:
            # No envelope: the request never reached the API logic.
            return super().classify(status_code=status_code, body=body, headers=headers)
        code = _int_code(body.get("code"))
        if code in SUCCESS_CODES:
            if status_code < 400:
                return None
            return super().classify(status_code=status_code, body=body, headers=headers)
        error_class = ERRORS.get(code, ProviderError) if code is not None else ProviderError
        transient = True if code in SERVER_ERROR_CODES else None
        return error_class(
            str(body.get("message") or f"TikTok Ads answered code {body.get('code')}"),
            code=self.provider_code_of(body=body),
            request_id=self.request_id_of(body=body, headers=headers),
            status_code=status_code,
            transient=transient,
        )

    def request_id_of(self, *, body: Any, headers: Mapping) -> str:
        if isinstance(body, Mapping) and body.get("request_id"):
            return str(body["request_id"])
        return str(headers.get("X-Tt-Logid") or headers.get("x-tt-logid") or "")

    def provider_code_of(self, *, body: Any) -> str:
        if isinstance(body, Mapping) and body.get("code") is not None:
            return str(body["code"])
        return ""

    # --- helpers ------------------------------------------------------------------------

    def _data(self, method: str, path: str, **kwargs: Any) -> dict:
        response = self.request(method, path, **kwargs)
        data = response.body.get("data") if isinstance(response.body, Mapping) else None
        return dict(data) if isinstance(data, Mapping) else {}

    def _app_credentials(self) -> dict[str, str]:
        return {"app_id": self.app_id, "secret": self.secret}

    # --- OAuth --------------------------------------------------------------------------

    def exchange_auth_code(self, *, auth_code: str) -> dict:
        """``data`` of the token call: ``access_token``, ``advertiser_ids``, ``scope`` (ints).

        Never repeated: an auth code is single use, so a retry after a lost
        answer could only fail with 40110 and hide what happened.
        """
        return self._data(
            "POST",
            ACCESS_TOKEN_PATH,
            json={**self._app_credentials(), "auth_code": auth_code},
            repeatable=False,
            authenticated=False,
        )

    def revoke_token(self, *, access_token: str) -> dict:
        """Revoke a token; ``data.advertiser_ids`` lists the accounts that lost access."""
        register_secret(access_token)
        return self._data(
            "POST",
            REVOKE_TOKEN_PATH,
            json={**self._app_credentials(), "access_token": access_token},
            repeatable=False,
            authenticated=False,
        )

    # --- assets ---------------------------------------------------------------------------

    def advertisers(self) -> list[dict]:
        """The advertisers this token reaches: ``[{advertiser_id, advertiser_name}]`` (§2.2.1)."""
        data = self._data("GET", ADVERTISER_GET_PATH, params=self._app_credentials())
        return [dict(row) for row in data.get("list") or []]

    def advertiser_info(
        self, *, advertiser_ids: Sequence[str], fields: Sequence[str] | None = None
    ) -> list[dict]:
        """Details of the given advertisers (§2.2.2), asked in batches of 100 ids."""
        ids = [str(advertiser_id) for advertiser_id in advertiser_ids]
        rows: list[dict] = []
        for start in range(0, len(ids), ADVERTISER_INFO_BATCH):
            data = self._data(
                "GET",
                ADVERTISER_INFO_PATH,
                params={
                    "advertiser_ids": ids[start : start + ADVERTISER_INFO_BATCH],
                    "fields": list(fields or ADVERTISER_FIELDS),
                },
            )
            rows.extend(dict(row) for row in data.get("list") or [])
        return rows

    # --- campaigns ---------------------------------------------------------------------------

    def campaigns_page(
        self,
        *,
        advertiser_id: str,
        page: int = 1,
        page_size: int = MAX_PAGE_SIZE,
        fields: Sequence[str] | None = None,
        filtering: Mapping[str, Any] | None = None,
    ) -> tuple[list[dict], dict]:
        """One page of ``campaign/get/``: the campaigns and ``page_info``.

        ``page_info`` is ``{page, page_size, total_number, total_page}``; the
        last page is the one where ``page >= total_page``. Deleted campaigns
        only come back with ``filtering={"secondary_status": "CAMPAIGN_STATUS_ALL"}``.
        """
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}.")
        params: dict[str, Any] = {
            "advertiser_id": str(advertiser_id),
            "page": page,
            "page_size": page_size,
        }
        if fields:
            params["fields"] = list(fields)
        if filtering:
            params["filtering"] = dict(filtering)
        data = self._data("GET", CAMPAIGN_GET_PATH, params=params)
        rows = [dict(row) for row in data.get("list") or []]
        return rows, dict(data.get("page_info") or {})
