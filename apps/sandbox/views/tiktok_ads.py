"""TikTok for Business Marketing API v1.3 (contract tiktok-ads.md §2.1-2.4).

Every answer is the ``{code, message, request_id, data}`` envelope in HTTP 200,
errors included: 40104 no token, 40105 bad or revoked token, 40101 app/secret
mismatch, 40110 bad or used auth_code, 40002 bad parameter, 40001 an advertiser
the token does not reach, 40107 any refresh attempt (these tokens never expire).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .. import conf, generator, grants
from ..api import provider_api, redirect_allowed, with_params
from ..consent import chosen_identity, render_consent, render_error
from ..envelopes import tiktok
from ..models import Provider, SandboxGrant
from .common import BadParam, int_param, json_body, json_param, page_of

ADS = Provider.TIKTOK_ADS.value
APP_NAME = "Sandbox TikTok Ads app"
MAX_CAMPAIGN_IDS = 100


class NoPermission(Exception):
    """The token does not reach this advertiser (code 40001)."""


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
        try:
            return view(request, grant)
        except BadParam as exc:
            return tiktok(40002, str(exc))
        except NoPermission as exc:
            return tiktok(40001, str(exc))

    return wrapper


def _advertiser_ids(grant: SandboxGrant) -> list[str]:
    return [a["advertiser_id"] for a in generator.advertisers(grant.account_id)]


def _own_advertiser(request: HttpRequest, grant: SandboxGrant) -> str:
    advertiser_id = request.GET.get("advertiser_id", "")
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
    """``pixel/list/?advertiser_id&page&page_size`` (page_size 1-20)."""
    advertiser_id = _own_advertiser(request, grant)
    page = int_param(request, "page", default=1, low=1, high=10**6)
    page_size = int_param(request, "page_size", default=10, low=1, high=20)
    rows = generator.pixels(advertiser_id)
    if pixel_id := request.GET.get("pixel_id"):
        rows = [p for p in rows if p["pixel_id"] == pixel_id]
    items, info = page_of(rows, page=page, page_size=page_size)
    return tiktok(data={"pixels": items, "page_info": info})


@data_endpoint
def campaign_get(request: HttpRequest, grant: SandboxGrant) -> HttpResponse:
    """``campaign/get/``: deleted campaigns only with ``secondary_status=CAMPAIGN_STATUS_ALL``."""
    advertiser_id = _own_advertiser(request, grant)
    page = int_param(request, "page", default=1, low=1, high=10**6)
    page_size = int_param(request, "page_size", default=10, low=1, high=1000)
    filtering = json_param(request, "filtering", default={})
    if not isinstance(filtering, dict):
        raise BadParam("filtering: Not a valid JSON object.")
    rows = _filter_campaigns(generator.campaigns(advertiser_id), filtering)
    items, info = page_of(rows, page=page, page_size=page_size)
    fields = json_param(request, "fields")
    return tiktok(data={"list": _only_fields(items, fields, "campaign_id"), "page_info": info})


def _filter_campaigns(rows: list[dict], filtering: dict) -> list[dict]:
    status = filtering.get("secondary_status")
    if status != "CAMPAIGN_STATUS_ALL":
        rows = [r for r in rows if r["secondary_status"] != "CAMPAIGN_STATUS_DELETE"]
        if status:
            rows = [r for r in rows if r["secondary_status"] == status]
    if ids := filtering.get("campaign_ids"):
        if not isinstance(ids, list) or len(ids) > MAX_CAMPAIGN_IDS:
            raise BadParam(f"filtering.campaign_ids: At most {MAX_CAMPAIGN_IDS} ids.")
        wanted = {str(i) for i in ids}
        rows = [r for r in rows if r["campaign_id"] in wanted]
    if objective := filtering.get("objective_type"):
        rows = [r for r in rows if r["objective_type"] == objective]
    if name := filtering.get("campaign_name"):
        rows = [r for r in rows if str(name).lower() in r["campaign_name"].lower()]
    return rows
