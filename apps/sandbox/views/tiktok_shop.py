"""TikTok Shop Open API, 202309 generation (contract tiktok-shop.md §3.1-3.4).

Signed endpoints check, in this order: ``app_key`` (36009004), ``sign`` present
(36009004), ``timestamp`` within [now - 5 min, now + 30 s] (36009004), the
signature itself (106001), ``x-tts-access-token`` present and known (36009004),
not expired (105002), no ``shop_cipher`` where none is expected (36009004),
then the granted scopes (105005). All in HTTP 200, like the real API.

The contract names no error codes for the token endpoints; the sandbox answers
36004003 (bad app_key/app_secret), 36004002 (bad grant_type), 36004004 (auth
code unknown, used or expired) and 36004005 (refresh token unknown, expired or
revoked). Treat any non-zero code there as "re-authorize".
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from .. import conf, generator, grants, shop_data, tiktok_shop_signing
from ..api import provider_api, relative_path, with_params
from ..consent import chosen_identity, render_consent, render_error
from ..envelopes import tiktok
from ..models import Provider, SandboxGrant

SHOP = Provider.TIKTOK_SHOP.value
APP_NAME = "Sandbox TikTok Shop app"
#: The Open API's own root below the sandbox mount; signatures cover the path after it.
API_ROOT = "/tiktok-shop/open-api"
TIMESTAMP_PAST_SECONDS = 5 * 60
TIMESTAMP_FUTURE_SECONDS = 30


# --- Consent ----------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def authorize(request: HttpRequest) -> HttpResponse:
    """``/services/open/authorize?service_id&state``; the redirect URL is the app's fixed one."""
    if request.GET.get("service_id") != settings.TIKTOK_SHOP_SERVICE_ID:
        return render_error(request, provider=SHOP, message=_("Invalid service_id."))
    state = request.GET.get("state", "").strip() or None
    if request.method == "GET":
        return render_consent(
            request,
            provider=SHOP,
            app_name=APP_NAME,
            fixed_permissions=conf.shop_granted_scopes(),
            app_store=True,
        )
    decision = request.POST.get("decision")
    if decision not in {"authorize", "app_store"}:
        params = {"code": "null", "error": "auth_denied", "state": state}
        return redirect(with_params(conf.shop_redirect_url(), params))
    who = chosen_identity(request, SHOP)
    if who is None:
        return render_error(request, provider=SHOP, message=_("Unknown seller."))
    grant = grants.issue_code(
        provider=SHOP, account_id=who.account_id, scopes=conf.shop_granted_scopes()
    )
    # From the Seller Center App Store the authorization carries no state at all.
    state = None if decision == "app_store" else state
    return redirect(with_params(conf.shop_redirect_url(), {"code": grant.code, "state": state}))


# --- Token endpoints (auth host) ---------------------------------------------------


def _token_answer(grant: SandboxGrant) -> HttpResponse:
    """Expiries are absolute Unix timestamps despite the ``_in`` suffix."""
    who = generator.seller(grant.account_id)
    data = {
        "access_token": grant.access_token,
        "access_token_expire_in": int(grant.access_expires_at.timestamp()),
        "refresh_token": grant.refresh_token,
        "refresh_token_expire_in": int(grant.refresh_expires_at.timestamp()),
        "open_id": who["open_id"],
        "seller_name": who["seller_name"],
        "seller_base_region": who["seller_base_region"],
        "user_type": who["user_type"],
        "granted_scopes": grant.scopes,
    }
    return tiktok(0, "success", data)


def _app_error(request: HttpRequest, grant_type: str) -> HttpResponse | None:
    query = request.GET
    if (
        query.get("app_key") != settings.TIKTOK_SHOP_APP_KEY
        or query.get("app_secret") != settings.TIKTOK_SHOP_APP_SECRET
    ):
        return tiktok(36004003, "Invalid app_key or app_secret.")
    if query.get("grant_type") != grant_type:
        return tiktok(36004002, f"Invalid grant_type: expected {grant_type}.")
    return None


@provider_api(SHOP)
@require_GET
def token_get(request: HttpRequest) -> HttpResponse:
    """``/api/v2/token/get?app_key&app_secret&auth_code&grant_type=authorized_code``."""
    if error := _app_error(request, "authorized_code"):
        return error
    grant, outcome = grants.redeem_code(provider=SHOP, code=request.GET.get("auth_code", ""))
    if outcome is not grants.Outcome.OK:
        return tiktok(36004004, f"Invalid auth_code ({outcome.value}).")
    grants.mint_tokens(
        grant, access_ttl=conf.shop_access_ttl(), refresh_ttl=conf.shop_refresh_ttl()
    )
    return _token_answer(grant)


@provider_api(SHOP)
@require_GET
def token_refresh(request: HttpRequest) -> HttpResponse:
    """``/api/v2/token/refresh``: a new access token; the refresh token carries over."""
    if error := _app_error(request, "refresh_token"):
        return error
    grant, outcome = grants.rotate(
        provider=SHOP,
        refresh_token=request.GET.get("refresh_token", ""),
        access_ttl=conf.shop_access_ttl(),
        refresh_ttl=None,
    )
    if outcome is not grants.Outcome.OK:
        return tiktok(36004005, f"Invalid refresh_token ({outcome.value}).")
    return _token_answer(grant)


# --- Signed Open API endpoints ----------------------------------------------------------

SignedView = Callable[[HttpRequest, SandboxGrant], HttpResponse]


def signed_path(request: HttpRequest) -> str:
    """The path the client signed: below the Open API root, like ``/authorization/202309/shops``."""
    path = relative_path(request)
    return path[len(API_ROOT) :] if path.startswith(API_ROOT) else path


def _signature_error(request: HttpRequest) -> HttpResponse | None:
    query = request.GET
    if query.get("app_key") != settings.TIKTOK_SHOP_APP_KEY:
        return tiktok(36009004, "Invalid credentials. The app_key is invalid.")
    signature = query.get("sign", "")
    if not signature:
        return tiktok(36009004, "Invalid credentials. The sign query parameter is missing.")
    if not _timestamp_fresh(query.get("timestamp", "")):
        return tiktok(
            36009004, "Invalid timestamp. It must be within [now - 5 minutes, now + 30 seconds]."
        )
    body = b"" if request.method == "GET" else request.body
    valid = tiktok_shop_signing.verify(
        app_secret=settings.TIKTOK_SHOP_APP_SECRET,
        path=signed_path(request),
        query={key: query.getlist(key) for key in query},
        signature=signature,
        body=body,
        content_type=request.content_type or "",
    )
    if not valid:
        return tiktok(106001, "Invalid credentials. The sign is invalid.")
    return None


def _timestamp_fresh(raw: str) -> bool:
    if not raw.isdigit():
        return False
    now = time.time()
    return now - TIMESTAMP_PAST_SECONDS <= int(raw) <= now + TIMESTAMP_FUTURE_SECONDS


def _token_error(request: HttpRequest) -> tuple[SandboxGrant | None, HttpResponse | None]:
    token = request.headers.get("x-tts-access-token", "").strip()
    grant, outcome = grants.find_access(provider=SHOP, token=token)
    if outcome is grants.Outcome.EXPIRED:
        return None, tiktok(105002, "Expired credentials. The x-tts-access-token has expired.")
    if outcome is not grants.Outcome.OK:
        return None, tiktok(
            36009004, "Invalid credentials. The x-tts-access-token header is invalid."
        )
    return grant, None


def signed_endpoint(
    *, scope: str, shop_scoped: bool = False, methods: tuple[str, ...] = ("GET",)
) -> Callable[[SignedView], Callable[[HttpRequest], HttpResponse]]:
    """Verify signature, timestamp, token, ``shop_cipher`` rules and scope before the view."""

    def decorate(view: SignedView) -> Callable[[HttpRequest], HttpResponse]:
        @provider_api(SHOP)
        @require_http_methods(list(methods))
        @wraps(view)
        def wrapper(request: HttpRequest) -> HttpResponse:
            if error := _signature_error(request):
                return error
            grant, error = _token_error(request)
            if error is not None:
                return error
            if error := _cipher_error(request, shop_scoped):
                return error
            if scope not in grant.scopes:
                return tiktok(
                    105005,
                    "Access denied. The access scopes granted by the seller do not contain "
                    f"the required access scope {scope}.",
                )
            return view(request, grant)

        return wrapper

    return decorate


def _cipher_error(request: HttpRequest, shop_scoped: bool) -> HttpResponse | None:
    has_cipher = bool(request.GET.get("shop_cipher"))
    if shop_scoped and not has_cipher:
        return tiktok(106013, "The shop_cipher query parameter is required.")
    if not shop_scoped and has_cipher:
        return tiktok(
            36009004, "Unexpected identifier. The shop_cipher query parameter is not required."
        )
    return None


@signed_endpoint(scope="seller.authorization.info")
def authorized_shops(request: HttpRequest, grant: SandboxGrant) -> HttpResponse:
    """``/authorization/202309/shops``: every shop this authorization covers."""
    return tiktok(0, "Success", {"shops": generator.shops(grant.account_id)})


# --- Orders (seller.order.info) ------------------------------------------------------


def _shop_for_cipher(request: HttpRequest, grant: SandboxGrant) -> dict | None:
    cipher = request.GET.get("shop_cipher", "")
    return next((s for s in generator.shops(grant.account_id) if s["cipher"] == cipher), None)


def _unknown_cipher() -> HttpResponse:
    return tiktok(36009004, "Invalid shop_cipher. The shop is not authorized for this token.")


def _optional_int(value: object) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not str(value).lstrip("-").isdigit():
        raise ValueError(value)
    return int(value)


def _search_query(request: HttpRequest) -> shop_data.SearchQuery:
    """Query ``page_size`` (1-100, required), ``page_token``, sort; body filters (Unix s)."""
    raw_size = request.GET.get("page_size", "")
    if not raw_size.isdigit() or not 1 <= int(raw_size) <= shop_data.MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be between 1 and {shop_data.MAX_PAGE_SIZE}")
    body = json.loads(request.body or b"{}")
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    sort_field = request.GET.get("sort_field") or "create_time"
    sort_order = (request.GET.get("sort_order") or "DESC").upper()
    if sort_field not in {"create_time", "update_time"} or sort_order not in {"ASC", "DESC"}:
        raise ValueError("sort_field or sort_order is invalid")
    return shop_data.SearchQuery(
        page_size=int(raw_size),
        sort_field=sort_field,
        sort_order=sort_order,
        page_token=request.GET.get("page_token", ""),
        order_status=str(body.get("order_status") or ""),
        create_time_ge=_optional_int(body.get("create_time_ge")),
        create_time_lt=_optional_int(body.get("create_time_lt")),
        update_time_ge=_optional_int(body.get("update_time_ge")),
        update_time_lt=_optional_int(body.get("update_time_lt")),
    )


@signed_endpoint(scope="seller.order.info", shop_scoped=True, methods=("POST",))
def orders_search(request: HttpRequest, grant: SandboxGrant) -> HttpResponse:
    """``POST /order/202309/orders/search``: keyset pages of at most 100, by the sort asked."""
    shop = _shop_for_cipher(request, grant)
    if shop is None:
        return _unknown_cipher()
    try:
        query = _search_query(request)
    except ValueError as exc:
        return tiktok(36009004, f"Invalid params: {exc}.")
    orders = shop_data.orders_for(shop, grant.account_id)
    try:
        page = shop_data.search(orders, query, shop_data.now_seconds())
    except shop_data.BadPageToken:
        return tiktok(36009004, "Invalid params: page_token is invalid.")
    data = {
        "orders": [shop_data.order_object(orders, state) for state in page.states],
        "next_page_token": page.next_page_token,
        "total_count": page.total_count,
    }
    return tiktok(0, "Success", data)


@signed_endpoint(scope="seller.order.info", shop_scoped=True)
def orders_get(request: HttpRequest, grant: SandboxGrant) -> HttpResponse:
    """``GET /order/202309/orders?ids=a,b`` (at most 50); unknown ids are left out."""
    shop = _shop_for_cipher(request, grant)
    if shop is None:
        return _unknown_cipher()
    ids = [i for i in request.GET.get("ids", "").split(",") if i]
    if not ids or len(ids) > shop_data.MAX_GET_IDS:
        return tiktok(36009004, f"Invalid params: ids must hold 1 to {shop_data.MAX_GET_IDS} ids.")
    orders = shop_data.orders_for(shop, grant.account_id)
    at = shop_data.now_seconds()
    states = [state for i in ids if (state := shop_data.state_of(orders, i, at)) is not None]
    data = {"orders": [shop_data.order_object(orders, state) for state in states]}
    return tiktok(0, "Success", data)
