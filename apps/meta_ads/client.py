"""HTTP to the Meta Graph API (``graph.facebook.com/<version>/...``).

Authentication (contract §1.6, §1.9): the user token travels as the
``access_token`` query parameter, the form every Meta SDK and the contract's
examples use, together with ``appsecret_proof``, the hex HMAC-SHA256 of the
token keyed with the app secret. Both are added in :meth:`MetaClient.prepare`,
so every attempt carries the proof of the token it actually sends. The token
and the proof are secrets: the API call log records the path, never the query.

Errors (contract §2.8) arrive as ``{"error": {"code", "error_subcode",
"message", "fbtrace_id", ...}}``, usually with HTTP 400; the body is
authoritative and :data:`ERRORS` maps its ``code`` to the core's typed errors.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from datetime import date
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

#: Graph error ``code`` -> typed error (contract §2.8). Codes not listed here
#: (100 invalid parameter, 368 policy block, ...) become a plain ProviderError
#: carrying the answer's ``fbtrace_id``.
ERRORS: dict[int, type[ProviderError]] = {
    # Token no longer usable: never retried, the profile needs a reconnect.
    # 190 subcodes: 458 app removed, 459 checkpointed, 460 password changed,
    # 463 expired, 464 unconfirmed user, 467 invalidated, 492 invalid session,
    # 493 data access expired after 90 days without use. Meta long-lived
    # tokens cannot be refreshed, so the subcode only changes the message.
    190: TokenExpired,
    102: TokenExpired,  # session invalid
    # Throttling: back off (no Retry-After; X-Business-Use-Case-Usage says how long).
    4: RateLimited,  # app-level limit
    17: RateLimited,  # user-level limit
    32: RateLimited,  # Pages limit
    613: RateLimited,  # custom / ad-account mutation limit
    **{code: RateLimited for code in range(80000, 80015)},  # Business Use Case limits
    # Permission missing or declined: offer auth_type=rerequest.
    10: PermissionDenied,
    **{code: PermissionDenied for code in range(200, 300)},
}

#: Codes Meta documents as temporary (1 unknown, 2 service, 960 batch timeout):
#: a ProviderError marked transient whatever the HTTP status, so calls safe to
#: repeat are retried with backoff. Other unlisted codes are transient only
#: when the body says ``is_transient: true`` or the status is 5xx.
TRANSIENT_CODES: frozenset[int] = frozenset({1, 2, 960})

#: When the body carries no Graph error at all.
STATUS_ERRORS: dict[int, type[ProviderError]] = {
    401: TokenExpired,
    403: PermissionDenied,
    429: RateLimited,
}

#: ``/me/adaccounts`` fields (contract §2.1); ``id`` is ``act_<account_id>``.
AD_ACCOUNT_FIELDS = (
    "id,account_id,name,account_status,currency,timezone_name,business{id,name},disable_reason"
)
#: ``act_<id>/adspixels`` fields (contract §2.3): a pixel id is a dataset id for CAPI.
PIXEL_FIELDS = "id,name,last_fired_time,is_unavailable"
#: One call with field expansion gives the ad, its ad set and campaign (contract §2.4).
AD_FIELDS = "id,name,account_id,adset{id,name},campaign{id,name}"
#: Daily per-ad insights (contract §2.5); ``actions`` holds the messaging counts.
INSIGHT_FIELDS = (
    "account_id,account_currency,campaign_id,campaign_name,adset_id,adset_name,ad_id,ad_name,"
    "spend,impressions,clicks,actions,date_start,date_stop"
)
#: Page sizes: 100 ad accounts (the contract's example); insights rows per page.
AD_ACCOUNTS_PAGE_SIZE = 100
PIXELS_PAGE_SIZE = 100
INSIGHTS_PAGE_SIZE = 500

TRACE_HEADER = "x-fb-trace-id"
BUC_HEADER = "x-business-use-case-usage"


def appsecret_proof(*, app_secret: str, access_token: str, timestamp: int | None = None) -> str:
    """Hex HMAC-SHA256 of the token keyed with the app secret (contract §1.9).

    With ``timestamp`` it is the timestamped form Meta's security page now
    shows (``token|time``, sent with ``appsecret_time``, valid 5 minutes).
    """
    message = access_token if timestamp is None else f"{access_token}|{timestamp}"
    return hmac.new(app_secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def _header(headers: Mapping, name: str) -> str:
    """Case-insensitive header read that also works on a plain dict."""
    for key, value in headers.items():
        if key.lower() == name:
            return str(value)
    return ""


def _graph_error(body: Any) -> Mapping[str, Any] | None:
    if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping):
        return body["error"]
    return None


def _regain_seconds(headers: Mapping) -> float | None:
    """The longest ``estimated_time_to_regain_access`` (minutes) of X-Business-Use-Case-Usage."""
    raw = _header(headers, BUC_HEADER)
    if not raw:
        return None
    try:
        usage = json.loads(raw)
        minutes = [
            float(entry.get("estimated_time_to_regain_access") or 0)
            for entries in usage.values()
            for entry in entries
        ]
    except (ValueError, TypeError, AttributeError):
        return None
    longest = max(minutes, default=0.0)
    return longest * 60 if longest > 0 else None


class MetaClient(ProviderClient):
    """Facebook Login's token calls and the Graph reads the connection needs."""

    product = "meta_ads"
    #: send the timestamped proof (``appsecret_time``) instead of the classic one
    timestamped_proof: bool = False

    def __init__(
        self,
        *,
        base_url: str | None = None,
        app_id: str | None = None,
        app_secret: str | None = None,
        version: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(base_url=base_url or settings.META_GRAPH_BASE, **kwargs)
        self.app_id = app_id if app_id is not None else settings.META_APP_ID
        self.app_secret = app_secret if app_secret is not None else settings.META_APP_SECRET
        self.version = version or settings.META_GRAPH_VERSION
        register_secret(self.app_secret)

    def path(self, path: str) -> str:
        """``/v25.0/<path>``: the Graph version is part of every path."""
        return f"/{self.version}/{path.lstrip('/')}"

    # --- hooks ---------------------------------------------------------------------

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
            params["access_token"] = self.access_token
            if self.timestamped_proof:
                now = int(time.time())
                params["appsecret_time"] = str(now)
                params["appsecret_proof"] = appsecret_proof(
                    app_secret=self.app_secret, access_token=self.access_token, timestamp=now
                )
            else:
                params["appsecret_proof"] = appsecret_proof(
                    app_secret=self.app_secret, access_token=self.access_token
                )
        return url, params, headers

    def classify(self, *, status_code: int, body: Any, headers: Mapping) -> ProviderError | None:
        error = _graph_error(body)
        if error is None:
            if status_code < 400:
                return None
            error_class = STATUS_ERRORS.get(status_code, ProviderError)
            return error_class(
                f"Meta answered HTTP {status_code}",
                request_id=self.request_id_of(body=body, headers=headers),
                status_code=status_code,
            )
        code = _int(error.get("code"))
        error_class = ERRORS.get(code, ProviderError) if code is not None else ProviderError
        transient = None  # typed errors pin their own; plain ones follow the status ...
        if error_class is ProviderError and (code in TRANSIENT_CODES or error.get("is_transient")):
            transient = True  # ... unless Meta says "try again"
        return error_class(
            str(error.get("message") or error.get("error_user_msg") or "Meta refused the call"),
            code=self.provider_code_of(body=body),
            request_id=self.request_id_of(body=body, headers=headers),
            status_code=status_code,
            retry_after=_regain_seconds(headers) if error_class is RateLimited else None,
            transient=transient,
        )

    def request_id_of(self, *, body: Any, headers: Mapping) -> str:
        error = _graph_error(body)
        if error is not None and error.get("fbtrace_id"):
            return str(error["fbtrace_id"])
        return _header(headers, TRACE_HEADER)

    def provider_code_of(self, *, body: Any) -> str:
        """``"190"`` or ``"190/463"`` (code/subcode); "" on success."""
        error = _graph_error(body)
        if error is None:
            return ""
        code = str(error.get("code") or "")
        subcode = error.get("error_subcode")
        return f"{code}/{subcode}" if subcode else code

    # --- OAuth -----------------------------------------------------------------------

    def exchange_code(self, *, code: str, redirect_uri: str) -> dict:
        """Code -> short-lived user token (``access_token``, ``token_type``, ``expires_in``)."""
        response = self.request(
            "GET",
            self.path("oauth/access_token"),
            params={
                "client_id": self.app_id,
                "client_secret": self.app_secret,
                "redirect_uri": redirect_uri,
                "code": code,
            },
            authenticated=False,
            repeatable=False,  # a code is single use
        )
        return dict(response.body or {})

    def exchange_long_lived(self, *, short_lived_token: str) -> dict:
        """Short-lived -> long-lived (~60 days) user token; ``expires_in`` may be missing."""
        response = self.request(
            "GET",
            self.path("oauth/access_token"),
            params={
                "grant_type": "fb_exchange_token",
                "client_id": self.app_id,
                "client_secret": self.app_secret,
                "fb_exchange_token": short_lived_token,
            },
            authenticated=False,
        )
        return dict(response.body or {})

    def debug_token(self, *, input_token: str) -> dict:
        """``data`` of ``/debug_token``, asked with the app token ``app_id|app_secret``.

        An invalid or expired ``input_token`` is answered with HTTP 200 and
        ``is_valid: false``; the caller decides what that means.
        """
        response = self.request(
            "GET",
            self.path("debug_token"),
            params={"input_token": input_token, "access_token": f"{self.app_id}|{self.app_secret}"},
            authenticated=False,
        )
        return dict((response.body or {}).get("data") or {})

    # --- Graph -------------------------------------------------------------------------

    def me(self) -> dict:
        """The token's user: ``{"id", "name"}``."""
        return dict(self.request("GET", self.path("me"), params={"fields": "id,name"}).body or {})

    def permissions(self) -> list[dict]:
        """``[{"permission", "status"}]``; status is ``granted``, ``declined`` or ``expired``."""
        body = self.request("GET", self.path("me/permissions")).body or {}
        return [dict(row) for row in body.get("data") or []]

    def revoke_permissions(self) -> bool:
        """Remove the app from the user's profile; the token dies with it."""
        body = self.request("DELETE", self.path("me/permissions")).body
        if isinstance(body, Mapping):
            return bool(body.get("success", True))
        return body is None or bool(body)

    # --- Marketing API -------------------------------------------------------------

    def ad_accounts_page(
        self, *, after: str | None = None, limit: int = AD_ACCOUNTS_PAGE_SIZE
    ) -> tuple[list[dict], str | None]:
        """One page of the ad accounts the user reaches, and the cursor of the next one."""
        body = self.request(
            "GET",
            self.path("me/adaccounts"),
            params={"fields": AD_ACCOUNT_FIELDS, "limit": limit, "after": after},
        ).body
        return _data_and_next(body)

    def ads_pixels(self, *, account_id: str) -> list[dict]:
        """Every pixel/dataset of an ad account (a few per account: all pages are read)."""
        pixels: list[dict] = []
        after: str | None = None
        while True:
            body = self.request(
                "GET",
                self.path(f"{act(account_id)}/adspixels"),
                params={"fields": PIXEL_FIELDS, "limit": PIXELS_PAGE_SIZE, "after": after},
            ).body
            items, after = _data_and_next(body)
            pixels.extend(items)
            if after is None:
                return pixels

    def ad(self, *, ad_id: str) -> dict:
        """The ad with its ad set, campaign and account (``code 100`` if this user cannot see it)."""
        return dict(
            self.request("GET", self.path(str(ad_id)), params={"fields": AD_FIELDS}).body or {}
        )

    def insights_page(
        self,
        *,
        account_id: str,
        since: date,
        until: date,
        after: str | None = None,
        limit: int = INSIGHTS_PAGE_SIZE,
    ) -> tuple[list[dict], str | None]:
        """One page of daily per-ad insights of an account between two days (both included)."""
        time_range = json.dumps(
            {"since": since.isoformat(), "until": until.isoformat()}, separators=(",", ":")
        )
        body = self.request(
            "GET",
            self.path(f"{act(account_id)}/insights"),
            params={
                "level": "ad",
                "time_increment": 1,
                "time_range": time_range,
                "fields": INSIGHT_FIELDS,
                "limit": limit,
                "after": after,
            },
        ).body
        return _data_and_next(body)

    def waba_dataset(self, *, waba_id: str) -> str:
        """The conversions dataset id of a WhatsApp Business Account (contract §4.2).

        ``POST /{WABA_ID}/dataset`` creates the dataset, or returns the one that
        already exists: one call both fetches and creates, and repeating it is
        harmless, so it is retried like a read.
        """
        body = self.request("POST", self.path(f"{waba_id}/dataset"), repeatable=True).body
        dataset_id = str((body or {}).get("id") or "") if isinstance(body, Mapping) else ""
        if not dataset_id:
            raise ProviderError("Meta answered the dataset call without an id")
        return dataset_id


def _data_and_next(body: Any) -> tuple[list[dict], str | None]:
    """A Graph edge page: its ``data`` and the ``after`` cursor of the next page, if any.

    The end is the absence of ``paging.next``, not a short page (contract
    §2.2). The next URL is never followed verbatim: only its ``after`` cursor
    is kept, and the next request is rebuilt from our own base URL.
    """
    body = body if isinstance(body, Mapping) else {}
    items = [dict(row) for row in body.get("data") or [] if isinstance(row, Mapping)]
    paging = body.get("paging") if isinstance(body.get("paging"), Mapping) else {}
    after = ((paging.get("cursors") or {}).get("after")) if paging.get("next") else None
    return items, (str(after) if after else None)


def act(account_id: str) -> str:
    """The Graph node of an ad account: ``act_<id>`` from the bare number (or as given)."""
    text = str(account_id)
    return text if text.startswith("act_") else f"act_{text}"


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
