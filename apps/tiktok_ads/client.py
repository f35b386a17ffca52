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
from datetime import date
from decimal import Decimal, InvalidOperation
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
ADGROUP_GET_PATH = f"{API_PREFIX}/adgroup/get/"
AD_GET_PATH = f"{API_PREFIX}/ad/get/"
REPORT_PATH = f"{API_PREFIX}/report/integrated/get/"
CUSTOM_AUDIENCE_LIST_PATH = f"{API_PREFIX}/dmp/custom_audience/list/"
PIXEL_LIST_PATH = f"{API_PREFIX}/pixel/list/"
ADGROUP_BUDGET_UPDATE_PATH = f"{API_PREFIX}/adgroup/budget/update/"
#: One Instant Form (or direct message) lead by id. Not in the contract (which only
#: says to re-fetch a lead before trusting its webhook, §2.5); the path and its
#: ``advertiser_id``/``lead_id``/``lead_source`` parameters follow public clients
#: (bububa/tiktok-business ``api/page/lead/get.go``, answers ``{lead_data, meta_data}``).
LEAD_GET_PATH = f"{API_PREFIX}/lead/get/"

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

#: ``campaign/get/``, ``adgroup/get/``, ``ad/get/`` and the report accept page sizes 1-1000.
MAX_PAGE_SIZE = 1000
#: ``dmp/custom_audience/list/`` pages hold 1-100 audiences.
AUDIENCE_MAX_PAGE_SIZE = 100
#: ``pixel/list/`` pages hold 1-20 pixels.
PIXEL_MAX_PAGE_SIZE = 20

#: The longest ``start_date``..``end_date`` span (days, both included) the report
#: accepts, by time dimension (contract §2.4): daily rows 30 days, hourly rows 1 day,
#: no time dimension 365 days. TikTok refuses longer spans with code 40002.
REPORT_MAX_DAYS_DAILY = 30
REPORT_MAX_DAYS_HOURLY = 1
REPORT_MAX_DAYS_TOTAL = 365
#: What the daily ad report asks for. ``campaign_id`` and ``adgroup_id`` are
#: attribute metrics (they come back inside ``metrics``, often as numbers).
REPORT_METRICS = (
    "campaign_id",
    "adgroup_id",
    "spend",
    "impressions",
    "clicks",
    "conversion",
    "ctr",
    "cpc",
    "cpm",
)
REPORT_DATE_FORMAT = "%Y-%m-%d"

#: ``{object_type}/status/update/``: the id list's key and how many ids one call takes.
#: Campaign and ad calls take 1-20 ids (contract §2.4); ad groups are held to the same
#: 20, the documented limit of their siblings.
STATUS_UPDATE_IDS: dict[str, tuple[str, int]] = {
    "campaign": ("campaign_ids", 20),
    "adgroup": ("adgroup_ids", 20),
    "ad": ("ad_ids", 20),
}
#: DELETE is left out on purpose: it cannot be undone and the hub does not offer it.
OPERATION_STATUSES = frozenset({"ENABLE", "DISABLE"})
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

    # --- campaigns, ad groups, ads ---------------------------------------------------------

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
        return self._objects_page(
            CAMPAIGN_GET_PATH,
            advertiser_id=advertiser_id,
            page=page,
            page_size=page_size,
            fields=fields,
            filtering=filtering,
        )

    def adgroups_page(
        self,
        *,
        advertiser_id: str,
        page: int = 1,
        page_size: int = MAX_PAGE_SIZE,
        fields: Sequence[str] | None = None,
        filtering: Mapping[str, Any] | None = None,
    ) -> tuple[list[dict], dict]:
        """One page of ``adgroup/get/`` and its ``page_info``, like :meth:`campaigns_page`.

        Deleted ad groups only come back with
        ``filtering={"secondary_status": "ADGROUP_STATUS_ALL"}``.
        """
        return self._objects_page(
            ADGROUP_GET_PATH,
            advertiser_id=advertiser_id,
            page=page,
            page_size=page_size,
            fields=fields,
            filtering=filtering,
        )

    def ads_page(
        self,
        *,
        advertiser_id: str,
        page: int = 1,
        page_size: int = MAX_PAGE_SIZE,
        fields: Sequence[str] | None = None,
        filtering: Mapping[str, Any] | None = None,
    ) -> tuple[list[dict], dict]:
        """One page of ``ad/get/`` and its ``page_info``, like :meth:`campaigns_page`.

        Deleted ads only come back with ``filtering={"secondary_status": "AD_STATUS_ALL"}``.
        """
        return self._objects_page(
            AD_GET_PATH,
            advertiser_id=advertiser_id,
            page=page,
            page_size=page_size,
            fields=fields,
            filtering=filtering,
        )

    def _objects_page(
        self,
        path: str,
        *,
        advertiser_id: str,
        page: int,
        page_size: int,
        fields: Sequence[str] | None,
        filtering: Mapping[str, Any] | None,
        max_page_size: int = MAX_PAGE_SIZE,
        list_key: str = "list",
    ) -> tuple[list[dict], dict]:
        """One page of a ``page``/``page_size`` listing: its rows and ``page_info``."""
        if not 1 <= page_size <= max_page_size:
            raise ValueError(f"page_size must be between 1 and {max_page_size}.")
        if page < 1:
            raise ValueError("page starts at 1.")
        params: dict[str, Any] = {
            "advertiser_id": str(advertiser_id),
            "page": page,
            "page_size": page_size,
        }
        if fields:
            params["fields"] = list(fields)
        if filtering:
            params["filtering"] = dict(filtering)
        data = self._data("GET", path, params=params)
        rows = [dict(row) for row in data.get(list_key) or []]
        return rows, dict(data.get("page_info") or {})

    # --- reports ------------------------------------------------------------------------------

    def report_page(
        self,
        *,
        advertiser_id: str,
        start_date: date,
        end_date: date,
        page: int = 1,
        page_size: int = MAX_PAGE_SIZE,
        data_level: str = "AUCTION_AD",
        dimensions: Sequence[str] = ("ad_id", "stat_time_day"),
        metrics: Sequence[str] = REPORT_METRICS,
        filtering: Sequence[Mapping[str, Any]] | None = None,
    ) -> tuple[list[dict], dict]:
        """One page of the synchronous ``report/integrated/get/`` (``report_type=BASIC``).

        Rows are ``{"dimensions": {...}, "metrics": {...}}`` exactly as TikTok
        sends them: metric values are mostly strings, ``"-"`` where there is
        nothing to report, and attribute metrics (``campaign_id``) may be
        numbers. Dates are calendar days in the advertiser's time zone, both
        included. A span TikTok would refuse (more than 30 days for daily
        rows, see :func:`report_max_days`) raises ValueError before any call.
        ``filtering`` is the report's list of ``{field_name, filter_type,
        filter_value}``.
        """
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}.")
        if page < 1:
            raise ValueError("page starts at 1.")
        if end_date < start_date:
            raise ValueError(f"end_date {end_date} is before start_date {start_date}.")
        days = (end_date - start_date).days + 1
        max_days = report_max_days(dimensions)
        if days > max_days:
            raise ValueError(
                f"A report with dimensions {list(dimensions)} spans at most {max_days} day(s); "
                f"{start_date}..{end_date} is {days}."
            )
        params: dict[str, Any] = {
            "advertiser_id": str(advertiser_id),
            "report_type": "BASIC",
            "data_level": data_level,
            "dimensions": list(dimensions),
            "metrics": list(metrics),
            "start_date": start_date.strftime(REPORT_DATE_FORMAT),
            "end_date": end_date.strftime(REPORT_DATE_FORMAT),
            "page": page,
            "page_size": page_size,
        }
        if filtering:
            params["filtering"] = [dict(rule) for rule in filtering]
        data = self._data("GET", REPORT_PATH, params=params)
        rows = [dict(row) for row in data.get("list") or []]
        return rows, dict(data.get("page_info") or {})

    # --- audiences and pixels -----------------------------------------------------------------

    def audiences_page(
        self, *, advertiser_id: str, page: int = 1, page_size: int = AUDIENCE_MAX_PAGE_SIZE
    ) -> tuple[list[dict], dict]:
        """One page of ``dmp/custom_audience/list/`` (1-100 a page) and its ``page_info``."""
        return self._objects_page(
            CUSTOM_AUDIENCE_LIST_PATH,
            advertiser_id=advertiser_id,
            page=page,
            page_size=page_size,
            fields=None,
            filtering=None,
            max_page_size=AUDIENCE_MAX_PAGE_SIZE,
        )

    def pixels(self, *, advertiser_id: str) -> list[dict]:
        """Every pixel of the advertiser (``pixel/list/``, 20 a page, every page walked).

        The list lives under ``data.pixels``, not ``data.list``.
        """
        rows: list[dict] = []
        page = 1
        while True:
            items, page_info = self._objects_page(
                PIXEL_LIST_PATH,
                advertiser_id=advertiser_id,
                page=page,
                page_size=PIXEL_MAX_PAGE_SIZE,
                fields=None,
                filtering=None,
                max_page_size=PIXEL_MAX_PAGE_SIZE,
                list_key="pixels",
            )
            rows.extend(items)
            if not items or page >= int(page_info.get("total_page") or 1):
                return rows
            page += 1

    # --- leads -----------------------------------------------------------------------------------

    def lead(self, *, advertiser_id: str, lead_id: str, lead_source: str = "INSTANT_FORM") -> dict:
        """One lead as TikTok has it: ``{"lead_data": {...answers}, "meta_data": {lead_id,
        advertiser_id, campaign_id, adgroup_id, ad_id, page_id, names, create_time}}``.

        The lead webhook's signature scheme is unconfirmed (contract §2.5), so
        the handler trusts this answer, not the delivery.
        """
        return self._data(
            "GET",
            LEAD_GET_PATH,
            params={
                "advertiser_id": str(advertiser_id),
                "lead_id": str(lead_id),
                "lead_source": lead_source,
            },
        )

    # --- actions ---------------------------------------------------------------------------------

    def update_status(
        self, *, advertiser_id: str, object_type: str, ids: list[str], operation_status: str
    ) -> dict:
        """Enable or pause campaigns, ad groups or ads: POST ``{object_type}/status/update/``.

        ``object_type`` is ``"campaign"``, ``"adgroup"`` or ``"ad"``;
        ``operation_status`` is ``"ENABLE"`` or ``"DISABLE"``. Returns the
        answer's ``data`` (e.g. ``{"campaign_ids": [...], "status": "DISABLE",
        "campaign_list": [...]}``). Never repeated: a retry after a lost answer
        could undo a change someone made in between.
        """
        if object_type not in STATUS_UPDATE_IDS:
            raise ValueError(
                f"object_type must be one of {sorted(STATUS_UPDATE_IDS)}, not {object_type!r}."
            )
        if operation_status not in OPERATION_STATUSES:
            raise ValueError(
                f"operation_status must be one of {sorted(OPERATION_STATUSES)}, "
                f"not {operation_status!r}."
            )
        key, max_ids = STATUS_UPDATE_IDS[object_type]
        id_list = [str(object_id) for object_id in ids]
        if not 1 <= len(id_list) <= max_ids:
            raise ValueError(f"{key} takes 1 to {max_ids} ids, not {len(id_list)}.")
        return self._data(
            "POST",
            f"{API_PREFIX}/{object_type}/status/update/",
            json={
                "advertiser_id": str(advertiser_id),
                key: id_list,
                "operation_status": operation_status,
            },
            repeatable=False,
        )

    def update_adgroup_budget(
        self, *, advertiser_id: str, adgroup_id: str, budget: Decimal
    ) -> dict:
        """Set one ad group's budget: POST ``adgroup/budget/update/``; returns ``data``.

        The budget is in the advertiser's currency, with at most two decimals.
        TikTok enforces a minimum per currency and budget mode, and answers a
        lower one with code 40002 (a final :class:`ProviderError`). Never
        repeated, like :meth:`update_status`.
        """
        try:
            amount = Decimal(str(budget))
        except InvalidOperation:
            raise ValueError(f"budget must be an amount, not {budget!r}.") from None
        if not amount.is_finite() or amount <= 0:
            raise ValueError(f"budget must be a positive amount, not {budget!r}.")
        if amount != amount.quantize(Decimal("0.01")):
            raise ValueError(f"budget takes at most two decimals, not {budget!r}.")
        return self._data(
            "POST",
            ADGROUP_BUDGET_UPDATE_PATH,
            json={
                "advertiser_id": str(advertiser_id),
                # A JSON number, as TikTok expects: float() of a two-decimal amount
                # serialises back to the same digits (12.34 -> 12.34).
                "budget": [{"adgroup_id": str(adgroup_id), "budget": float(amount)}],
            },
            repeatable=False,
        )


def report_max_days(dimensions: Sequence[str]) -> int:
    """The longest span (days, both ends included) TikTok accepts for these dimensions."""
    if "stat_time_hour" in dimensions:
        return REPORT_MAX_DAYS_HOURLY
    if "stat_time_day" in dimensions:
        return REPORT_MAX_DAYS_DAILY
    return REPORT_MAX_DAYS_TOTAL
