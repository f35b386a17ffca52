"""TikTok for Business Marketing API v1.3 (contract tiktok-ads.md §2.1-2.4).

Every answer is the ``{code, message, request_id, data}`` envelope in HTTP 200,
errors included: 40104 no token, 40105 bad or revoked token, 40101 app/secret
mismatch, 40110 bad or used auth_code, 40002 bad parameter, 40001 an advertiser
the token does not reach, 40007 an object id the advertiser does not have,
40107 any refresh attempt (these tokens never expire).

Campaigns, ad groups, ads and report rows come from ``generator``; changes made
through the status and budget endpoints are stored as ``SandboxAdsOverride``
rows and laid over the generated objects (one query per request).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .. import conf, generator, grants
from ..api import provider_api, redirect_allowed, with_params
from ..consent import chosen_identity, render_consent, render_error
from ..envelopes import tiktok
from ..generator import AD, ADGROUP, CAMPAIGN
from ..models import Provider, SandboxAdsOverride, SandboxGrant
from .common import BadParam, int_param, json_body, json_param, page_of

ADS = Provider.TIKTOK_ADS.value
APP_NAME = "Sandbox TikTok Ads app"
#: ``filtering.campaign_ids`` / ``adgroup_ids`` / ``ad_ids`` of the ``*/get/`` endpoints
MAX_FILTER_IDS = 100
#: ids per ``*/status/update/`` call
MAX_STATUS_IDS = 20
#: ``report/integrated/get/``: longest ``start_date``..``end_date`` span (days, both ends
#: included) with ``stat_time_day``, and without a time dimension (contract §2.4)
MAX_DAILY_REPORT_DAYS = 30
MAX_TOTAL_REPORT_DAYS = 365
MAX_AUDIENCE_IDS = 100


class NoPermission(Exception):
    """The token does not reach this advertiser (code 40001)."""


class NotFound(Exception):
    """The advertiser has no object with this id (code 40007)."""


# --- Consent ----------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def authorize(request: HttpRequest) -> HttpResponse:
    """``/portal/auth``: the advertiser picks an account and authorizes the app."""
    redirect_uri = request.GET.get("redirect_uri", "")
    state = request.GET.get("state")
    if request.GET.get("app_id") != settings.TIKTOK_APP_ID:
        return render_error(request, provider=ADS, message=_("Invalid app_id."))
    if not redirect_allowed(redirect_uri):
        return render_error(request, provider=ADS, message=_("Invalid redirect_uri."))
    if request.method == "GET":
        permissions = [str(p) for p in conf.ADS_PERMISSION_IDS]
        return render_consent(
            request, provider=ADS, app_name=APP_NAME, fixed_permissions=permissions
        )
    if request.POST.get("decision") != "authorize":
        # The contract documents no error parameters for a refusal: only state comes back.
        return redirect(with_params(redirect_uri, {"state": state}))
    who = chosen_identity(request, ADS)
    if who is None:
        return render_error(request, provider=ADS, message=_("Unknown account."))
    grant = grants.issue_code(
        provider=ADS,
        account_id=who.account_id,
        scopes=list(conf.ADS_PERMISSION_IDS),
        redirect_uri=redirect_uri,
    )
    return redirect(with_params(redirect_uri, {"auth_code": grant.code, "state": state}))


# --- OAuth endpoints ----------------------------------------------------------------


def _app_matches(app_id: object, secret: object) -> bool:
    return str(app_id) == settings.TIKTOK_APP_ID and str(secret) == settings.TIKTOK_APP_SECRET


_APP_MISMATCH = "The app_id or secret is invalid."
_CODE_ERRORS = {
    grants.Outcome.UNKNOWN: "Invalid auth_code.",
    grants.Outcome.USED: "auth_code is canceled or used. Please get a new one.",
    grants.Outcome.EXPIRED: "auth_code has expired. Please get a new one.",
}


@provider_api(ADS)
@require_POST
def access_token(request: HttpRequest) -> HttpResponse:
    """``oauth2/access_token/``: JSON ``{app_id, secret, auth_code}``; a long-term token."""
    try:
        body = json_body(request)
    except BadParam as exc:
        return tiktok(40002, str(exc))
    if not _app_matches(body.get("app_id"), body.get("secret")):
        return tiktok(40101, _APP_MISMATCH)
    grant, outcome = grants.redeem_code(provider=ADS, code=str(body.get("auth_code") or ""))
    if outcome is not grants.Outcome.OK:
        return tiktok(40110, _CODE_ERRORS[outcome])
    grants.mint_tokens(grant, access_ttl=None)
    data: dict = {"access_token": grant.access_token, "scope": grant.scopes}
    if body.get("return_advertiser_ids", True) is not False:
        data["advertiser_ids"] = _advertiser_ids(grant)
    return tiktok(data=data)


@provider_api(ADS)
@require_POST
def revoke_token(request: HttpRequest) -> HttpResponse:
    """``oauth2/revoke_token/``: ``{app_id, secret, access_token}``; lists the accounts lost."""
    try:
        body = json_body(request)
    except BadParam as exc:
        return tiktok(40002, str(exc))
    if not _app_matches(body.get("app_id"), body.get("secret")):
        return tiktok(40101, _APP_MISMATCH)
    grant, outcome = grants.find_access(provider=ADS, token=str(body.get("access_token") or ""))
    if outcome is not grants.Outcome.OK:
        return tiktok(40105, "The access token is invalid or has been revoked.")
    grants.revoke_token(provider=ADS, token=grant.access_token, whole_account=False)
    return tiktok(data={"app_id": settings.TIKTOK_APP_ID, "advertiser_ids": _advertiser_ids(grant)})


@provider_api(ADS)
@require_POST
def refresh_token(request: HttpRequest) -> HttpResponse:
    """Marketing API advertiser tokens have no refresh token: always 40107."""
    return tiktok(40107, "Invalid or incorrect refresh token.")


# --- Authenticated data endpoints -----------------------------------------------------

DataView = Callable[[HttpRequest, SandboxGrant], HttpResponse]


def _authenticate(request: HttpRequest) -> tuple[SandboxGrant | None, HttpResponse | None]:
    token = request.headers.get("Access-Token", "").strip()
    if not token:
        return None, tiktok(
            40104, "Access token is null, set it in http header with key Access-Token."
        )
    grant, outcome = grants.find_access(provider=ADS, token=token)
    if outcome is grants.Outcome.EXPIRED:
        return None, tiktok(40102, "Access token is expired.")
    if outcome is not grants.Outcome.OK:
        return None, tiktok(40105, "The access token is invalid or has been revoked.")
    return grant, None


def data_endpoint(view: DataView) -> Callable[[HttpRequest], HttpResponse]:
    """A GET that needs ``Access-Token``; bad parameters answer 40002, foreign ids 40001."""

    @provider_api(ADS)
    @require_GET
    @wraps(view)
    def wrapper(request: HttpRequest) -> HttpResponse:
        grant, error = _authenticate(request)
        if error is not None:
            return error
        return _answer(lambda: view(request, grant))

    return wrapper


ActionView = Callable[[HttpRequest, SandboxGrant, dict], HttpResponse]


def action_endpoint(view: ActionView) -> Callable[[HttpRequest], HttpResponse]:
    """A POST with a JSON body that needs ``Access-Token``; errors as for :func:`data_endpoint`."""

    @provider_api(ADS)
    @require_POST
    @wraps(view)
    def wrapper(request: HttpRequest) -> HttpResponse:
        grant, error = _authenticate(request)
        if error is not None:
            return error
        return _answer(lambda: view(request, grant, json_body(request)))

    return wrapper


def _answer(call: Callable[[], HttpResponse]) -> HttpResponse:
    try:
        return call()
    except BadParam as exc:
        return tiktok(40002, str(exc))
    except NoPermission as exc:
        return tiktok(40001, str(exc))
    except NotFound as exc:
        return tiktok(40007, str(exc))


def _advertiser_ids(grant: SandboxGrant) -> list[str]:
    return [a["advertiser_id"] for a in generator.advertisers(grant.account_id)]


def _own_advertiser(request: HttpRequest, grant: SandboxGrant) -> str:
    return _check_advertiser(grant, request.GET.get("advertiser_id"))


def _check_advertiser(grant: SandboxGrant, value: object) -> str:
    advertiser_id = "" if value is None else str(value)
    if not advertiser_id:
        raise BadParam("advertiser_id: Missing data for required field.")
    if advertiser_id not in _advertiser_ids(grant):
        raise NoPermission(f"No permission to operate advertiser {advertiser_id}.")
    return advertiser_id


def _only_fields(items: list[dict], fields: list | None, keep: str) -> list[dict]:
    if not fields:
        return items
    if not isinstance(fields, list):
        raise BadParam("fields: Not a valid list.")
    wanted = {*fields, keep}
    return [{k: v for k, v in item.items() if k in wanted} for item in items]


@data_endpoint
def advertiser_get(request: HttpRequest, grant: SandboxGrant) -> HttpResponse:
    """``oauth2/advertiser/get/?app_id&secret``: the accounts this token reaches."""
    if not _app_matches(request.GET.get("app_id"), request.GET.get("secret")):
        return tiktok(40101, _APP_MISMATCH)
    rows = [
        {"advertiser_id": a["advertiser_id"], "advertiser_name": a["name"]}
        for a in generator.advertisers(grant.account_id)
    ]
    return tiktok(data={"list": rows})


@data_endpoint
def advertiser_info(request: HttpRequest, grant: SandboxGrant) -> HttpResponse:
    """``advertiser/info/?advertiser_ids=[...]&fields=[...]``."""
    wanted = json_param(request, "advertiser_ids")
    if not wanted or not isinstance(wanted, list):
        raise BadParam("advertiser_ids: Missing data for required field.")
    own = {a["advertiser_id"]: a for a in generator.advertisers(grant.account_id)}
    foreign = [str(i) for i in wanted if str(i) not in own]
    if foreign:
        raise NoPermission(f"No permission to operate advertiser {foreign[0]}.")
    rows = [own[str(i)] for i in wanted]
    fields = json_param(request, "fields")
    return tiktok(data={"list": _only_fields(rows, fields, "advertiser_id")})


@data_endpoint
def pixel_list(request: HttpRequest, grant: SandboxGrant) -> HttpResponse:
    """``pixel/list/?advertiser_id&page&page_size`` (page_size 1-20); ``pixel_id``, ``code``, ``name``."""
    advertiser_id = _own_advertiser(request, grant)
    page = int_param(request, "page", default=1, low=1, high=10**6)
    page_size = int_param(request, "page_size", default=10, low=1, high=20)
    rows = generator.pixels(advertiser_id)
    if pixel_id := request.GET.get("pixel_id"):
        rows = [p for p in rows if p["pixel_id"] == pixel_id]
    if code := request.GET.get("code"):
        rows = [p for p in rows if p["pixel_code"] == code]
    if name := request.GET.get("name"):
        rows = [p for p in rows if name.lower() in p["pixel_name"].lower()]
    items, info = page_of(rows, page=page, page_size=page_size)
    return tiktok(data={"pixels": items, "page_info": info})


@data_endpoint
def custom_audience_list(request: HttpRequest, grant: SandboxGrant) -> HttpResponse:
    """``dmp/custom_audience/list/?advertiser_id&custom_audience_ids&page&page_size`` (1-100)."""
    advertiser_id = _own_advertiser(request, grant)
    page = int_param(request, "page", default=1, low=1, high=10**6)
    page_size = int_param(request, "page_size", default=10, low=1, high=100)
    rows = generator.custom_audiences(advertiser_id)
    ids = json_param(request, "custom_audience_ids")
    if ids is not None:
        wanted = _id_list(ids, "custom_audience_ids", MAX_AUDIENCE_IDS)
        rows = [r for r in rows if r["audience_id"] in wanted]
    items, info = page_of(rows, page=page, page_size=page_size)
    return tiktok(data={"list": items, "page_info": info})


def _id_list(value: object, name: str, most: int) -> list[str]:
    if not isinstance(value, list) or not 1 <= len(value) <= most:
        raise BadParam(f"{name}: Length must be between 1 and {most}.")
    return list(dict.fromkeys(str(i) for i in value))


# --- Campaigns, ad groups, ads -----------------------------------------------------------


def _changes(advertiser_id: str) -> dict[str, generator.Change]:
    """Every stored status/budget change of the advertiser's objects: one query."""
    return {
        o.object_id: generator.Change(
            operation_status=o.operation_status,
            budget=None if o.budget is None else float(o.budget),
            modify_time=o.modified_at,
        )
        for o in SandboxAdsOverride.objects.filter(advertiser_id=advertiser_id)
    }


def _objects(advertiser_id: str) -> generator.AdsObjects:
    return generator.ads_objects(advertiser_id, _changes(advertiser_id))


@dataclass(frozen=True)
class _Listing:
    """What differs between ``campaign/get/``, ``adgroup/get/`` and ``ad/get/``."""

    kind: str
    #: ``filtering`` keys holding id lists; each filters on the key without its "s"
    id_filters: tuple[str, ...]

    @property
    def id_field(self) -> str:
        return f"{self.kind}_id"

    @property
    def name_field(self) -> str:
        return f"{self.kind}_name"

    @property
    def status_prefix(self) -> str:
        return f"{self.kind.upper()}_STATUS_"


_CAMPAIGNS = _Listing(CAMPAIGN, ("campaign_ids",))
_ADGROUPS = _Listing(ADGROUP, ("campaign_ids", "adgroup_ids"))
_ADS = _Listing(AD, ("campaign_ids", "adgroup_ids", "ad_ids"))
_CREATION_FILTERS = ("creation_filter_start_time", "creation_filter_end_time")
_TIME_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


@data_endpoint
def campaign_get(request: HttpRequest, grant: SandboxGrant) -> HttpResponse:
    """``campaign/get/``: deleted campaigns only with ``secondary_status=CAMPAIGN_STATUS_ALL``."""
    advertiser_id = _own_advertiser(request, grant)
    return _listing(request, _CAMPAIGNS, _objects(advertiser_id).campaigns)


@data_endpoint
def adgroup_get(request: HttpRequest, grant: SandboxGrant) -> HttpResponse:
    """``adgroup/get/``: deleted ad groups only with ``secondary_status=ADGROUP_STATUS_ALL``."""
    advertiser_id = _own_advertiser(request, grant)
    return _listing(request, _ADGROUPS, _objects(advertiser_id).adgroups)


@data_endpoint
def ad_get(request: HttpRequest, grant: SandboxGrant) -> HttpResponse:
    """``ad/get/``: deleted ads only with ``secondary_status=AD_STATUS_ALL``."""
    advertiser_id = _own_advertiser(request, grant)
    return _listing(request, _ADS, _objects(advertiser_id).ads)


def _listing(request: HttpRequest, listing: _Listing, rows: list[dict]) -> HttpResponse:
    page = int_param(request, "page", default=1, low=1, high=10**6)
    page_size = int_param(request, "page_size", default=10, low=1, high=1000)
    filtering = json_param(request, "filtering", default={})
    if not isinstance(filtering, dict):
        raise BadParam("filtering: Not a valid JSON object.")
    items, info = page_of(_filter(rows, listing, filtering), page=page, page_size=page_size)
    fields = json_param(request, "fields")
    return tiktok(data={"list": _only_fields(items, fields, listing.id_field), "page_info": info})


def _filter(rows: list[dict], listing: _Listing, filtering: dict) -> list[dict]:
    """Deleted objects are hidden unless ``secondary_status`` is ``*_STATUS_ALL`` or names them."""
    status = filtering.get("secondary_status")
    if status in (None, "", listing.status_prefix + "NOT_DELETE"):
        rows = [r for r in rows if not generator.is_deleted(listing.kind, r)]
    elif status != listing.status_prefix + "ALL":
        rows = [r for r in rows if r["secondary_status"] == status]
    for key in listing.id_filters:
        if ids := filtering.get(key):
            wanted = set(_id_list(ids, f"filtering.{key}", MAX_FILTER_IDS))
            rows = [r for r in rows if r[key[:-1]] in wanted]
    if listing.kind == CAMPAIGN and (objective := filtering.get("objective_type")):
        rows = [r for r in rows if r["objective_type"] == objective]
    if name := filtering.get(listing.name_field):
        rows = [r for r in rows if str(name).lower() in r[listing.name_field].lower()]
    for key in _CREATION_FILTERS:
        if bound := filtering.get(key):
            if not isinstance(bound, str) or not _TIME_PATTERN.match(bound):
                raise BadParam(f"filtering.{key}: Use the format YYYY-MM-DD HH:MM:SS.")
            # Same fixed-width format on both sides: string order is time order.
            if key.endswith("start_time"):
                rows = [r for r in rows if r["create_time"] >= bound]
            else:
                rows = [r for r in rows if r["create_time"] <= bound]
    return rows


# --- report/integrated/get/ ------------------------------------------------------------------

_TIME_DIMENSIONS = ("stat_time_day", "stat_time_hour")
_DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: ``data_level`` -> the object type its rows describe, and the types above it.
_LEVEL_KINDS = {
    "AUCTION_AD": (CAMPAIGN, ADGROUP, AD),
    "AUCTION_ADGROUP": (CAMPAIGN, ADGROUP),
    "AUCTION_CAMPAIGN": (CAMPAIGN,),
    "AUCTION_ADVERTISER": (),
}
_REPORT_STATUS_VALUES = ("STATUS_ALL", "STATUS_NOT_DELETE", "STATUS_DELETE")


@data_endpoint
def report_integrated_get(request: HttpRequest, grant: SandboxGrant) -> HttpResponse:
    """``report/integrated/get/``: the synchronous BASIC report (contract §2.4).

    ``report_type=BASIC``, ``data_level`` AUCTION_AD/ADGROUP/CAMPAIGN/ADVERTISER,
    ``dimensions`` the level's id plus optionally ``stat_time_day``, ``metrics``,
    ``start_date``/``end_date`` (inclusive, advertiser time zone; at most 30 days
    with ``stat_time_day``, 365 without) or ``query_lifetime=true``, ``filtering``
    (a list of ``{field_name, filter_type: IN, filter_value}``), ``page``,
    ``page_size`` 1-1000, ``enable_total_metrics``.
    """
    advertiser_id = _own_advertiser(request, grant)
    report_type = request.GET.get("report_type", "")
    if not report_type:
        raise BadParam("report_type: Missing data for required field.")
    if report_type != "BASIC":
        raise BadParam(f"report_type: The sandbox serves BASIC reports only, not {report_type}.")
    if (request.GET.get("service_type") or "AUCTION") != "AUCTION":
        raise BadParam("service_type: Only AUCTION is supported.")
    data_level = request.GET.get("data_level", "")
    if data_level not in generator.DATA_LEVELS:
        raise BadParam(f"data_level: Must be one of {', '.join(generator.DATA_LEVELS)}.")
    by_day = _report_dimensions(json_param(request, "dimensions"), data_level)
    metrics = _report_metrics(json_param(request, "metrics"), data_level)
    start, end = _report_dates(request, advertiser_id, by_day=by_day)
    page = int_param(request, "page", default=1, low=1, high=10**6)
    page_size = int_param(request, "page_size", default=10, low=1, high=1000)
    allowed = _report_objects(
        advertiser_id, data_level, json_param(request, "filtering", default=[])
    )
    with_totals = _bool_param(request, "enable_total_metrics")
    result = generator.report(
        generator.ReportQuery(
            advertiser_id=advertiser_id,
            data_level=data_level,
            by_day=by_day,
            start=start,
            end=end,
            metrics=metrics,
            allowed=allowed,
            page=page,
            page_size=page_size,
            with_totals=with_totals,
        )
    )
    _, info = page_of([], page=page, page_size=page_size)
    info["total_number"] = result.total_number
    info["total_page"] = -(-result.total_number // page_size)
    data: dict[str, Any] = {"list": result.rows, "page_info": info}
    if with_totals:
        data["total_metrics"] = result.total_metrics
    return tiktok(data=data)


def _bool_param(request: HttpRequest, name: str) -> bool:
    raw = request.GET.get(name, "false").strip().lower()
    if raw not in ("true", "false", ""):
        raise BadParam(f"{name}: Not a valid boolean.")
    return raw == "true"


def _report_dimensions(dimensions: object, data_level: str) -> bool:
    """Check ``dimensions``; True when rows are per day (``stat_time_day``)."""
    if not isinstance(dimensions, list) or not dimensions:
        raise BadParam("dimensions: Missing data for required field.")
    id_dimension = generator.DATA_LEVELS[data_level]
    if dimensions.count(id_dimension) != 1:
        raise BadParam(f"dimensions: data_level {data_level} needs the dimension {id_dimension}.")
    rest = [d for d in dimensions if d != id_dimension]
    if "stat_time_hour" in rest:
        raise BadParam(
            "dimensions: The sandbox serves daily data only; use stat_time_day, not stat_time_hour."
        )
    unknown = [d for d in rest if d not in _TIME_DIMENSIONS]
    if unknown or len(rest) > 1:
        shown = unknown[0] if unknown else rest[-1]
        raise BadParam(f"dimensions: Invalid dimension {shown} for data_level {data_level}.")
    return bool(rest)


def _report_metrics(metrics: object, data_level: str) -> tuple[str, ...]:
    if metrics is None:
        return generator.DEFAULT_METRICS
    if not isinstance(metrics, list) or not metrics:
        raise BadParam("metrics: Not a valid list.")
    known = generator.report_metrics(data_level)
    for name in metrics:
        if name not in known:
            raise BadParam(f"metrics: Invalid metric {name} for data_level {data_level}.")
    return tuple(dict.fromkeys(metrics))


def _report_dates(request: HttpRequest, advertiser_id: str, *, by_day: bool) -> tuple[date, date]:
    """``start_date``..``end_date``, or the whole history with ``query_lifetime=true``."""
    if _bool_param(request, "query_lifetime"):
        if by_day:
            raise BadParam("query_lifetime: Time dimensions are not allowed with query_lifetime.")
        today = generator.report_today(advertiser_id)
        return today - timedelta(days=generator.HISTORY_DAYS - 1), today
    start = _date_param(request, "start_date")
    end = _date_param(request, "end_date")
    if end < start:
        raise BadParam("end_date: Must not be earlier than start_date.")
    span = (end - start).days + 1
    most = MAX_DAILY_REPORT_DAYS if by_day else MAX_TOTAL_REPORT_DAYS
    if span > most:
        dimension = "with stat_time_day" if by_day else "without a time dimension"
        raise BadParam(
            f"start_date, end_date: The time span is {span} days; {dimension} it may be "
            f"at most {most} days (start_date and end_date included)."
        )
    return start, end


def _date_param(request: HttpRequest, name: str) -> date:
    raw = request.GET.get(name, "")
    if not raw:
        raise BadParam(f"{name}: Missing data for required field.")
    try:
        if not _DATE_PATTERN.match(raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise BadParam(f"{name}: Not a valid date; use YYYY-MM-DD.") from exc


def _report_objects(advertiser_id: str, data_level: str, filtering: object) -> frozenset[str]:
    """Ids of the objects whose rows the report may show.

    ``filtering`` items: ``campaign_ids`` / ``adgroup_ids`` / ``ad_ids`` and
    ``campaign_status`` / ``adgroup_status`` / ``ad_status`` (``STATUS_ALL``,
    ``STATUS_NOT_DELETE``, ``STATUS_DELETE``), each with ``filter_type`` IN and a
    JSON array as ``filter_value``, for the level's own object type or the ones
    above it. Rows of deleted objects are left out unless the level's status
    filter lets them in.
    """
    if not isinstance(filtering, list):
        raise BadParam("filtering: Not a valid list.")
    kinds = _LEVEL_KINDS[data_level]
    if not kinds:
        if filtering:
            raise BadParam("filtering: Not supported with data_level AUCTION_ADVERTISER.")
        return frozenset({advertiser_id})
    wanted: dict[str, set[str]] = {}
    statuses: dict[str, set[str]] = {kinds[-1]: {"STATUS_NOT_DELETE"}}
    for item in filtering:
        field, values = _report_filter(item)
        kind = field.split("_")[0]
        if kind not in kinds:
            raise BadParam(f"filtering: {field} does not apply to data_level {data_level}.")
        if field.endswith("_status"):
            if unknown := set(values) - set(_REPORT_STATUS_VALUES):
                raise BadParam(f"filtering: Invalid {field} value {sorted(unknown)[0]}.")
            statuses[kind] = set(values)
        else:
            wanted[f"{kind}_id"] = set(values)
    objects = _objects(advertiser_id)
    every = {CAMPAIGN: objects.campaigns, ADGROUP: objects.adgroups, AD: objects.ads}
    deleted = {
        row[f"{kind}_id"]
        for kind, rows in every.items()
        for row in rows
        if generator.is_deleted(kind, row)
    }

    def keep(row: dict) -> bool:
        for kind, allowed in statuses.items():
            state = "STATUS_DELETE" if row[f"{kind}_id"] in deleted else "STATUS_NOT_DELETE"
            if "STATUS_ALL" not in allowed and state not in allowed:
                return False
        return all(row[field] in ids for field, ids in wanted.items())

    own = kinds[-1]
    return frozenset(row[f"{own}_id"] for row in every[own] if keep(row))


_REPORT_FILTER_FIELDS = (
    "campaign_ids",
    "adgroup_ids",
    "ad_ids",
    "campaign_status",
    "adgroup_status",
    "ad_status",
)


def _report_filter(item: object) -> tuple[str, list[str]]:
    if not isinstance(item, dict):
        raise BadParam("filtering: Each filter must be an object with field_name.")
    field = item.get("field_name")
    if field not in _REPORT_FILTER_FIELDS:
        raise BadParam(
            f"filtering: Unsupported field_name {field!r}; the sandbox filters on "
            f"{', '.join(_REPORT_FILTER_FIELDS)}."
        )
    if item.get("filter_type", "IN") != "IN":
        raise BadParam(f"filtering: {field} takes filter_type IN.")
    raw = item.get("filter_value")
    try:
        values = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError as exc:
        raise BadParam(f"filtering: filter_value of {field} is not a JSON array.") from exc
    if not isinstance(values, list) or not values:
        raise BadParam(f"filtering: filter_value of {field} must be a non-empty JSON array.")
    return field, [str(v) for v in values]


# --- Actions: status and budget ------------------------------------------------------------

_OPERATIONS = ("ENABLE", "DISABLE", "DELETE")
_LABELS = {CAMPAIGN: "Campaign", ADGROUP: "Ad group", AD: "Ad"}


@action_endpoint
def campaign_status_update(request: HttpRequest, grant: SandboxGrant, body: dict) -> HttpResponse:
    """``campaign/status/update/``: ``{advertiser_id, campaign_ids (1-20), operation_status}``."""
    ids, operation, _ = _status_change(grant, body, CAMPAIGN, partial=False)
    return tiktok(
        data={
            "campaign_ids": ids,
            "status": operation,
            "campaign_list": [{"campaign_id": i, "status": operation} for i in ids],
        }
    )


@action_endpoint
def adgroup_status_update(request: HttpRequest, grant: SandboxGrant, body: dict) -> HttpResponse:
    """``adgroup/status/update/``: ``{advertiser_id, adgroup_ids (1-20), operation_status}``.

    With ``allow_partial_success: true`` unknown or deleted ad groups are listed
    in ``error_list`` and the others change.
    """
    partial = body.get("allow_partial_success") is True
    ids, operation, errors = _status_change(grant, body, ADGROUP, partial=partial)
    data: dict[str, Any] = {"adgroup_ids": ids, "status": operation}
    if partial:
        data["error_list"] = [{"adgroup_id": i, "error_message": m} for i, m in errors]
    return tiktok(data=data)


@action_endpoint
def ad_status_update(request: HttpRequest, grant: SandboxGrant, body: dict) -> HttpResponse:
    """``ad/status/update/``: ``{advertiser_id, ad_ids (1-20), operation_status}``."""
    ids, operation, _ = _status_change(grant, body, AD, partial=False)
    return tiktok(data={"ad_ids": ids, "status": operation})


def _status_change(
    grant: SandboxGrant, body: dict, kind: str, *, partial: bool
) -> tuple[list[str], str, list[tuple[str, str]]]:
    """Validate and store a status change; returns (changed ids, operation, failures).

    Deleted objects (themselves, or through a deleted parent) cannot change:
    DELETE is final. Without ``partial`` the first failure refuses the whole call
    (40007 unknown id, 40002 deleted) and nothing is stored.
    """
    advertiser_id = _check_advertiser(grant, body.get("advertiser_id"))
    ids = _id_list(body.get(f"{kind}_ids"), f"{kind}_ids", MAX_STATUS_IDS)
    operation = body.get("operation_status")
    if operation not in _OPERATIONS:
        raise BadParam(f"operation_status: Must be one of {', '.join(_OPERATIONS)}.")
    rows = {row[f"{kind}_id"]: row for row in _rows_of(_objects(advertiser_id), kind)}
    changed, failures = [], []
    for object_id in ids:
        row = rows.get(object_id)
        if row is None:
            message = f"{_LABELS[kind]} {object_id} does not exist in advertiser {advertiser_id}."
            if not partial:
                raise NotFound(message)
        elif generator.is_deleted(kind, row):
            message = (
                f"{_LABELS[kind]} {object_id} is deleted ({row['secondary_status']}); "
                "its status cannot be changed."
            )
            if not partial:
                raise BadParam(message)
        else:
            changed.append(object_id)
            continue
        failures.append((object_id, message))
    _store(advertiser_id, kind, {i: operation for i in changed}, field="operation_status")
    return changed, operation, failures


def _rows_of(objects: generator.AdsObjects, kind: str) -> list[dict]:
    return {CAMPAIGN: objects.campaigns, ADGROUP: objects.adgroups, AD: objects.ads}[kind]


@action_endpoint
def adgroup_budget_update(request: HttpRequest, grant: SandboxGrant, body: dict) -> HttpResponse:
    """``adgroup/budget/update/``: ``{advertiser_id, budget: [{adgroup_id, budget}]}``.

    All or nothing. Refused with 40002: a budget under the currency's minimum
    daily budget (``generator.MIN_DAILY_BUDGET``; the message names it), an ad
    group whose ``budget_mode`` is not ``BUDGET_MODE_DAY``, a deleted ad group,
    ``schedule_budget`` (not emulated). Unknown ad groups: 40007. ``data`` is ``{}``.
    """
    advertiser_id = _check_advertiser(grant, body.get("advertiser_id"))
    if "schedule_budget" in body:
        raise BadParam("schedule_budget: Scheduled budget changes are not emulated; send budget.")
    items = body.get("budget")
    if not isinstance(items, list) or not items:
        raise BadParam("budget: Missing data for required field.")
    account = generator.advertiser(advertiser_id)
    currency = account["currency"] if account else "USD"
    minimum = Decimal(generator.min_daily_budget(currency))
    adgroups = {g["adgroup_id"]: g for g in _objects(advertiser_id).adgroups}
    budgets: dict[str, Decimal] = {}
    for item in items:
        if not isinstance(item, dict):
            raise BadParam("budget: Each item must be an object with adgroup_id and budget.")
        adgroup_id = str(item.get("adgroup_id") or "")
        row = adgroups.get(adgroup_id)
        if row is None:
            raise NotFound(f"Ad group {adgroup_id} does not exist in advertiser {advertiser_id}.")
        if generator.is_deleted(ADGROUP, row):
            raise BadParam(f"Ad group {adgroup_id} is deleted; its budget cannot be changed.")
        if row["budget_mode"] != "BUDGET_MODE_DAY":
            raise BadParam(
                f"Ad group {adgroup_id} uses {row['budget_mode']}; only ad groups with "
                "BUDGET_MODE_DAY can change their daily budget here."
            )
        amount = _amount(item.get("budget"), adgroup_id)
        if amount < minimum:
            raise BadParam(
                f"budget: The daily budget of ad group {adgroup_id} must be at least "
                f"{minimum:.2f} {currency} (the minimum daily budget in {currency}); got {amount}."
            )
        budgets[adgroup_id] = amount
    _store(advertiser_id, ADGROUP, budgets, field="budget")
    return tiktok(data={})


def _amount(value: object, adgroup_id: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BadParam(f"budget: The budget of ad group {adgroup_id} must be a number.")
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise BadParam(f"budget: The budget of ad group {adgroup_id} must be a number.") from exc
    if not amount.is_finite() or amount <= 0:
        raise BadParam(f"budget: The budget of ad group {adgroup_id} must be positive.")
    return amount.quantize(Decimal("0.01"))


def _store(advertiser_id: str, kind: str, values: dict[str, Any], *, field: str) -> None:
    """Upsert one override per object in one query, touching only ``field`` and the time."""
    if not values:
        return
    moment = generator.now()
    SandboxAdsOverride.objects.bulk_create(
        [
            SandboxAdsOverride(
                object_type=kind,
                object_id=object_id,
                advertiser_id=advertiser_id,
                modified_at=moment,
                **{field: value},
            )
            for object_id, value in values.items()
        ],
        update_conflicts=True,
        unique_fields=["object_type", "object_id"],
        update_fields=[field, "modified_at"],
    )
