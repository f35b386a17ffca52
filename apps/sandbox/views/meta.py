"""Facebook Login and the Graph API calls the hub makes (contract meta.md §1.2-1.9).

Every Graph call made with a user token must carry ``appsecret_proof``: the
classic ``hex(HMAC-SHA256(app_secret, token))`` or the timestamped form with
``appsecret_time`` (at most 5 minutes old). Errors use Meta's envelope with
HTTP 400: 2500 no token, 100 missing or wrong proof / bad code (subcodes 36007
expired, 36008 redirect mismatch, 36009 used), 101 wrong app id, 1 wrong
secret, 190 bad token (subcode 463 expired, 458 app removed by the user).

Permissions are remembered per user (``SandboxConsent``), as Meta does: a
declined permission is not asked again unless the dialog says
``auth_type=rerequest``.

Marketing API (contract §2): ``/me/adaccounts``, ``/act_<id>/adspixels``,
``/act_<id>/insights`` and ad nodes answer from :mod:`apps.sandbox.meta_data`
(several users, ad accounts shared between neighbours), cursor-paged like
Graph. Without ``ads_read``/``ads_management`` they answer code 200; an
account or ad the user does not reach is code 100 (subcode 33). Throttles
per minute answer 17 (per user), 80004 with ``X-Business-Use-Case-Usage``
(per account) and 613 (insights per account). ``POST /<WABA_ID>/dataset``
(contract §4.2) needs ``whatsapp_business_management``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, date, timedelta

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from .. import conf, generator, grants, meta_data
from ..api import bearer_token, provider_api, redirect_allowed, with_params
from ..consent import ScopeChoice, chosen_identity, render_consent, render_error
from ..envelopes import graph_error
from ..models import Provider, SandboxConsent, SandboxGrant

META = Provider.META.value
APP_NAME = "Sandbox Meta app"
PROOF_MAX_AGE_SECONDS = 5 * 60
ALWAYS_GRANTED = "public_profile"
DATA_ACCESS_DAYS = 90


# --- Login dialog -----------------------------------------------------------------


def _requested_permissions(request: HttpRequest) -> list[str]:
    raw = request.GET.get("scope", "").replace(" ", ",")
    asked = [p.strip() for p in raw.split(",") if p.strip()]
    if not asked and request.GET.get("config_id"):
        asked = list(conf.META_CONFIG_PERMISSIONS)
    return [p for p in dict.fromkeys(asked) if p != ALWAYS_GRANTED]


def _consent(account_id: str) -> SandboxConsent:
    consent, _created = SandboxConsent.objects.get_or_create(provider=META, account_id=account_id)
    return consent


@require_http_methods(["GET", "POST"])
def dialog(request: HttpRequest) -> HttpResponse:
    """``/dialog/oauth``: log in as a sandbox profile, then grant or decline permissions."""
    redirect_uri = request.GET.get("redirect_uri", "")
    if request.GET.get("client_id") != settings.META_APP_ID:
        return render_error(request, provider=META, message=_("Invalid App ID."))
    if not redirect_allowed(redirect_uri):
        return render_error(
            request, provider=META, message=_("URL blocked: the redirect_uri is not allowed.")
        )
    if request.GET.get("response_type", "code") != "code":
        return render_error(
            request, provider=META, message=_("The sandbox supports response_type=code only.")
        )
    who = generator.identity(META, request.GET.get("sandbox_user", ""))
    if request.method == "GET" and who is None:
        return _choose_profile(request)
    if request.method == "GET":
        return _show_permissions(request, who)
    return _decide(request, redirect_uri=redirect_uri)


def _choose_profile(request: HttpRequest) -> HttpResponse:
    carried = [(k, v) for k, v in request.GET.items() if k != "sandbox_user"]
    context = {
        "provider_label": Provider.META.label,
        "app_name": APP_NAME,
        "action": request.path,
        "carried": carried,
        "identities": generator.identities(META),
    }
    return render(request, "sandbox/choose_profile.html", context)


def _to_ask(request: HttpRequest, consent: SandboxConsent) -> tuple[list, list, list]:
    """(ask now, already granted, declined before and not asked again)."""
    rerequest = request.GET.get("auth_type") == "rerequest"
    ask, already, skipped = [], [], []
    for permission in _requested_permissions(request):
        if permission in consent.granted:
            already.append(permission)
        elif permission in consent.declined and not rerequest:
            skipped.append(permission)
        else:
            ask.append(permission)
    return ask, already, skipped


def _show_permissions(request: HttpRequest, who: generator.Identity) -> HttpResponse:
    ask, already, skipped = _to_ask(request, _consent(who.account_id))
    return render_consent(
        request,
        provider=META,
        app_name=APP_NAME,
        identity_locked=who,
        scopes=[ScopeChoice(p) for p in ask],
        already_granted=already,
        skipped=skipped,
    )


def _decide(request: HttpRequest, *, redirect_uri: str) -> HttpResponse:
    state = request.GET.get("state")
    if request.POST.get("decision") != "authorize":
        params = {
            "error": "access_denied",
            "error_reason": "user_denied",
            "error_description": "Permissions error.",
            "state": state,
        }
        return redirect(with_params(redirect_uri, params))
    who = chosen_identity(request, META)
    if who is None:
        return render_error(request, provider=META, message=_("Unknown profile."))
    consent = _consent(who.account_id)
    ask, _already, _skipped = _to_ask(request, consent)
    ticked = {p for p in request.POST.getlist("scopes") if p in ask}
    consent.granted = sorted({*consent.granted, *ticked})
    consent.declined = sorted((set(consent.declined) | (set(ask) - ticked)) - ticked)
    consent.save(update_fields=["granted", "declined", "updated_at"])
    grant = grants.issue_code(
        provider=META,
        account_id=who.account_id,
        scopes=[ALWAYS_GRANTED, *consent.granted],
        redirect_uri=redirect_uri,
    )
    return redirect(with_params(redirect_uri, {"code": grant.code, "state": state}))


# --- Graph helpers -----------------------------------------------------------------


def _param(request: HttpRequest, name: str) -> str:
    """Graph reads parameters from the query, a form body, or a DELETE's body."""
    if name in request.GET:
        return request.GET[name]
    if request.method == "POST":
        return request.POST.get(name, "")
    if request.method == "DELETE" and request.body:
        return QueryDict(request.body).get(name, "")
    return ""


def _token_of(request: HttpRequest) -> str:
    return _param(request, "access_token") or bearer_token(request)


def _app_token() -> str:
    return f"{settings.META_APP_ID}|{settings.META_APP_SECRET}"


def appsecret_proof(token: str, at: int | None = None) -> str:
    """The proof a client sends; ``at`` gives the timestamped form."""
    message = token if at is None else f"{token}|{at}"
    return hmac.new(settings.META_APP_SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()


def _proof_error(request: HttpRequest, token: str) -> HttpResponse | None:
    proof = _param(request, "appsecret_proof")
    if not proof:
        return graph_error(
            "API calls from the server require an appsecret_proof argument", code=100
        )
    raw_time = _param(request, "appsecret_time")
    if raw_time:
        fresh = raw_time.isdigit() and time.time() - int(raw_time) <= PROOF_MAX_AGE_SECONDS
        expected = appsecret_proof(token, int(raw_time)) if raw_time.isdigit() else ""
        if not fresh:
            return graph_error("The appsecret_time is expired or malformed.", code=100)
    else:
        expected = appsecret_proof(token)
    if not hmac.compare_digest(expected, proof):
        return graph_error("Invalid appsecret_proof provided in the API argument", code=100)
    return None


def _token_state_error(grant: SandboxGrant | None, outcome: grants.Outcome) -> HttpResponse:
    if outcome is grants.Outcome.EXPIRED:
        expired = grant.access_expires_at.astimezone(UTC)
        return graph_error(
            f"Error validating access token: Session has expired on {expired:%A, %d-%b-%y %H:%M:%S} UTC.",
            code=190,
            subcode=463,
        )
    if outcome is grants.Outcome.REVOKED:
        return graph_error(
            f"Error validating access token: The user has not authorized application {settings.META_APP_ID}.",
            code=190,
            subcode=458,
        )
    return graph_error("Invalid OAuth access token - Cannot parse access token", code=190)


def _user(request: HttpRequest) -> tuple[SandboxGrant | None, HttpResponse | None]:
    """The user grant behind a Graph call, after the proof and token checks."""
    token = _token_of(request)
    if not token:
        return None, graph_error(
            "An active access token must be used to query information about the current user.",
            code=2500,
        )
    if error := _proof_error(request, token):
        return None, error
    grant, outcome = grants.find_access(provider=META, token=token)
    if outcome is not grants.Outcome.OK:
        return None, _token_state_error(grant, outcome)
    return grant, None


def _granted(account_id: str) -> list[str]:
    consent = SandboxConsent.objects.filter(provider=META, account_id=account_id).first()
    return [ALWAYS_GRANTED, *(consent.granted if consent else [])]


# --- OAuth token endpoint ----------------------------------------------------------


@provider_api(META)
@require_http_methods(["GET", "POST"])
def access_token(request: HttpRequest, version: str) -> HttpResponse:
    """``/oauth/access_token``: code exchange, or ``grant_type=fb_exchange_token``."""
    if _param(request, "client_id") != settings.META_APP_ID:
        return graph_error("Error validating application. Invalid application ID.", code=101)
    if _param(request, "client_secret") != settings.META_APP_SECRET:
        return graph_error("Error validating client secret.", code=1)
    if _param(request, "grant_type") == "fb_exchange_token":
        return _long_lived(request)
    return _exchange_code(request)


_CODE_ERRORS = {
    grants.Outcome.USED: ("This authorization code has been used.", 36009),
    grants.Outcome.EXPIRED: ("This authorization code has expired.", 36007),
}


def _exchange_code(request: HttpRequest) -> HttpResponse:
    code = _param(request, "code")
    peek = SandboxGrant.objects.filter(provider=META, code=code).first() if code else None
    if peek is None:
        return graph_error("Invalid verification code format.", code=100)
    if _param(request, "redirect_uri") != peek.redirect_uri:
        return graph_error(
            "Error validating verification code. Please make sure your redirect_uri is "
            "identical to the one you used in the OAuth dialog request",
            code=100,
            subcode=36008,
        )
    grant, outcome = grants.redeem_code(provider=META, code=code)
    if outcome is not grants.Outcome.OK:
        message, subcode = _CODE_ERRORS[outcome]
        return graph_error(message, code=100, subcode=subcode)
    grants.mint_tokens(grant, access_ttl=conf.token_ttl(), lifetime="short")
    return _token_answer(grant)


def _long_lived(request: HttpRequest) -> HttpResponse:
    grant, outcome = grants.find_access(provider=META, token=_param(request, "fb_exchange_token"))
    if outcome is not grants.Outcome.OK:
        return _token_state_error(grant, outcome)
    return _token_answer(grants.exchange_long_lived(grant, ttl=conf.meta_long_lived_ttl()))


def _token_answer(grant: SandboxGrant) -> JsonResponse:
    expires_in = int((grant.access_expires_at - timezone.now()).total_seconds())
    return JsonResponse(
        {"access_token": grant.access_token, "token_type": "bearer", "expires_in": expires_in}
    )


# --- Graph nodes -------------------------------------------------------------------

_ME_FIELDS = {"id", "name", "email"}


@provider_api(META)
@require_GET
def me(request: HttpRequest, version: str) -> HttpResponse:
    """``/me?fields=id,name``; ``email`` only when asked for and granted."""
    grant, error = _user(request)
    if error is not None:
        return error
    fields = [f.strip() for f in (request.GET.get("fields") or "id,name").split(",") if f.strip()]
    unknown = [f for f in fields if f not in _ME_FIELDS]
    if unknown:
        return graph_error(
            f"(#100) Tried accessing nonexisting field ({unknown[0]}) on node type (User)",
            code=100,
        )
    user = generator.meta_user(grant.account_id)
    granted = _granted(grant.account_id)
    body = {f: user[f] for f in fields if f != "email" or "email" in granted}
    body.setdefault("id", user["id"])
    return JsonResponse(body)


@provider_api(META)
@require_http_methods(["GET", "DELETE"])
def permissions(request: HttpRequest, version: str, user_id: str = "me") -> HttpResponse:
    """``GET /me/permissions``; ``DELETE /{user-id|me}/permissions`` removes the app."""
    grant, error = _user(request)
    if error is not None:
        return error
    if user_id not in {"me", grant.account_id}:
        return graph_error("(#100) Unsupported request: cannot act on another user.", code=100)
    if request.method == "DELETE":
        grants.revoke_account(provider=META, account_id=grant.account_id)
        SandboxConsent.objects.filter(provider=META, account_id=grant.account_id).delete()
        return JsonResponse(True, safe=False)
    consent = _consent(grant.account_id)
    rows = [{"permission": p, "status": "granted"} for p in _granted(grant.account_id)]
    rows += [{"permission": p, "status": "declined"} for p in consent.declined]
    return JsonResponse({"data": rows})


@provider_api(META)
@require_http_methods(["DELETE"])
def permission(request: HttpRequest, version: str, permission: str) -> HttpResponse:
    """``DELETE /me/permissions/{permission}``: the user takes one permission back."""
    grant, error = _user(request)
    if error is not None:
        return error
    consent = _consent(grant.account_id)
    consent.granted = [p for p in consent.granted if p != permission]
    consent.declined = sorted({*consent.declined, permission})
    consent.save(update_fields=["granted", "declined", "updated_at"])
    return JsonResponse(True, safe=False)


@provider_api(META)
@require_GET
def debug_token(request: HttpRequest, version: str) -> HttpResponse:
    """``/debug_token?input_token&access_token=APP_ID|APP_SECRET`` (or a user token + proof)."""
    if _token_of(request) != _app_token():
        _grant, error = _user(request)
        if error is not None:
            return error
    input_token = request.GET.get("input_token", "")
    if not input_token:
        return graph_error("(#100) The parameter input_token is required", code=100)
    grant, outcome = grants.find_access(provider=META, token=input_token)
    return JsonResponse({"data": _debug_data(grant, outcome)})


def _debug_data(grant: SandboxGrant | None, outcome: grants.Outcome) -> dict:
    if grant is None:
        return {
            "error": {"code": 190, "message": "Invalid OAuth access token."},
            "is_valid": False,
            "scopes": [],
        }
    scopes = _granted(grant.account_id) if outcome is grants.Outcome.OK else []
    data = {
        "app_id": settings.META_APP_ID,
        "type": "USER",
        "application": APP_NAME,
        "data_access_expires_at": int(
            (grant.created_at + timedelta(days=DATA_ACCESS_DAYS)).timestamp()
        ),
        "expires_at": int(grant.access_expires_at.timestamp()) if grant.access_expires_at else 0,
        "is_valid": outcome is grants.Outcome.OK,
        "issued_at": int(grant.created_at.timestamp()),
        "scopes": scopes,
        "granular_scopes": [{"scope": s} for s in scopes if s != ALWAYS_GRANTED],
        "user_id": grant.account_id,
    }
    if outcome is not grants.Outcome.OK:
        subcode = 463 if outcome is grants.Outcome.EXPIRED else 458
        data["error"] = {
            "code": 190,
            "message": "Error validating access token.",
            "subcode": subcode,
        }
    return data


# --- Marketing API and WhatsApp (data from ``meta_data``) ----------------------------------

#: Graph's default page size when ``limit`` is not given, and the largest the sandbox allows.
DEFAULT_LIMIT = 25
MAX_LIMIT = 5000
#: Throttles (calls per minute), read at call time so tests can lower them:
#: ``SANDBOX_META_USER_CALLS_PER_MINUTE`` -> code 17 (user-level limit),
#: ``SANDBOX_META_ACCOUNT_CALLS_PER_MINUTE`` -> code 80004 (ads management BUC limit),
#: ``SANDBOX_META_INSIGHTS_CALLS_PER_MINUTE`` -> code 613 (insights calls on an account).
DEFAULT_CALLS_PER_MINUTE = 2000
#: Business Use Case limits answer with how long until access is regained (minutes).
BUC_REGAIN_MINUTES = 1
ADS_PERMISSIONS = ("ads_read", "ads_management")
WHATSAPP_PERMISSION = "whatsapp_business_management"
#: Insights are kept 37 months (contract §2.5).
INSIGHTS_RETENTION_DAYS = 37 * 30


def _over_limit(setting: str, key: str) -> bool:
    """Count a call in this minute's bucket; True once the bucket passes the setting."""
    limit = int(getattr(settings, setting, DEFAULT_CALLS_PER_MINUTE))
    bucket = f"sandbox:meta:rate:{setting}:{key}:{int(time.time() // 60)}"
    count = 1 if cache.add(bucket, 1, 120) else cache.incr(bucket)
    return count > limit


def _user_limit(grant: SandboxGrant) -> HttpResponse | None:
    if _over_limit("SANDBOX_META_USER_CALLS_PER_MINUTE", grant.account_id):
        return graph_error(
            "(#17) User request limit reached", code=17, subcode=2446079, transient=True
        )
    return None


def _account_limit(account: meta_data.AdAccount) -> HttpResponse | None:
    if not _over_limit("SANDBOX_META_ACCOUNT_CALLS_PER_MINUTE", account.account_id):
        return None
    response = graph_error(
        "(#80004) There have been too many calls to this ad-account. Wait a bit and try again. "
        "For more info, please refer to "
        "https://developers.facebook.com/docs/graph-api/overview/rate-limiting#ads-management.",
        code=80004,
        subcode=2446079,
        transient=True,
    )
    usage = {
        account.account_id: [
            {
                "type": "ads_management",
                "call_count": 100,
                "total_cputime": 30,
                "total_time": 40,
                "estimated_time_to_regain_access": BUC_REGAIN_MINUTES,
            }
        ]
    }
    response["X-Business-Use-Case-Usage"] = json.dumps(usage)
    return response


def _insights_limit(account: meta_data.AdAccount) -> HttpResponse | None:
    if _over_limit("SANDBOX_META_INSIGHTS_CALLS_PER_MINUTE", account.account_id):
        return graph_error(
            "(#613) There have been too many calls from this ad-account. Wait a bit and try again.",
            code=613,
            subcode=1487742,
        )
    return None


def _ads_permission(grant: SandboxGrant) -> HttpResponse | None:
    if any(p in _granted(grant.account_id) for p in ADS_PERMISSIONS):
        return None
    return graph_error("(#200) Requires ads_read permission to manage the object", code=200)


def _missing_object(node: str) -> HttpResponse:
    return graph_error(
        f"Unsupported get request. Object with ID '{node}' does not exist, cannot be loaded due "
        "to missing permissions, or does not support this operation. Please read the Graph API "
        "documentation at https://developers.facebook.com/docs/graph-api",
        code=100,
        subcode=33,
        error_type="GraphMethodException",
    )


def _reached_account(
    request: HttpRequest, account_id: str
) -> tuple[SandboxGrant | None, meta_data.AdAccount | None, HttpResponse | None]:
    """The user grant and the ad account it reaches, after token, limit and permission checks."""
    grant, error = _user(request)
    if error is not None:
        return None, None, error
    if error := _user_limit(grant) or _ads_permission(grant):
        return None, None, error
    account = next(
        (a for a in meta_data.accounts_of(grant.account_id) if a.account_id == account_id), None
    )
    if account is None:
        return None, None, _missing_object(f"act_{account_id}")
    return grant, account, None


def _fields(request: HttpRequest) -> dict[str, list[str] | None]:
    """``fields`` with field expansion: ``a,b{c,d}`` -> ``{"a": None, "b": ["c", "d"]}``."""
    fields: dict[str, list[str] | None] = {}
    depth, name, inner = 0, "", ""
    for char in request.GET.get("fields", "") + ",":
        if char == "{":
            depth += 1
            if depth == 1:
                continue
        elif char == "}":
            depth -= 1
            if depth == 0:
                continue
        if depth == 0 and char == ",":
            if name.strip():
                subfields = [f.strip() for f in inner.split(",") if f.strip()]
                fields[name.strip()] = subfields or None
            name, inner = "", ""
        elif depth == 0:
            name += char
        else:
            inner += char
    return fields


def _limit(request: HttpRequest) -> int:
    raw = request.GET.get("limit", "")
    return min(max(int(raw), 1), MAX_LIMIT) if raw.isdigit() else DEFAULT_LIMIT


def _paged(request: HttpRequest, rows: list[dict]) -> HttpResponse:
    """Cursor paging as Graph does it: ``paging.cursors`` always, ``paging.next`` if more."""
    limit = _limit(request)
    after = request.GET.get("after", "")
    offset = meta_data.offset_of(after) if after else 0
    if offset is None:
        return graph_error("(#100) Invalid cursor: after", code=100)
    page = rows[offset : offset + limit]
    body: dict = {"data": page}
    if page:
        paging: dict = {
            "cursors": {
                "before": meta_data.cursor_for(offset),
                "after": meta_data.cursor_for(offset + len(page)),
            }
        }
        if offset + len(page) < len(rows):
            query = request.GET.copy()
            query["after"] = paging["cursors"]["after"]
            paging["next"] = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
        body["paging"] = paging
    return JsonResponse(body)


def _pick(
    row: dict, fields: dict[str, list[str] | None], always: tuple[str, ...] = ("id",)
) -> dict:
    """Only the fields asked for (and ``always``), nested objects cut to their sub-fields."""
    picked = {}
    for key, value in row.items():
        if key in always and key not in fields:
            picked[key] = value
        elif key in fields:
            sub = fields[key]
            picked[key] = (
                {k: v for k, v in value.items() if k in sub}
                if sub and isinstance(value, dict)
                else value
            )
    return picked


@provider_api(META)
@require_GET
def ad_accounts(request: HttpRequest, version: str) -> HttpResponse:
    """``/me/adaccounts``: the ad accounts the user reaches, cursor-paged."""
    grant, error = _user(request)
    if error is not None:
        return error
    if error := _user_limit(grant) or _ads_permission(grant):
        return error
    fields = _fields(request)
    rows = [_pick(a.as_graph(), fields) for a in meta_data.accounts_of(grant.account_id)]
    return _paged(request, rows)


@provider_api(META)
@require_GET
def ads_pixels(request: HttpRequest, version: str, account_id: str) -> HttpResponse:
    """``/act_<id>/adspixels``: the account's pixels/datasets."""
    _grant, account, error = _reached_account(request, account_id)
    if error is not None:
        return error
    if error := _account_limit(account):
        return error
    fields = _fields(request)
    return _paged(request, [_pick(p, fields) for p in meta_data.pixels(account.account_id)])


def _insights_range(request: HttpRequest) -> tuple[date, date] | HttpResponse:
    try:
        value = json.loads(request.GET.get("time_range", ""))
        since, until = date.fromisoformat(value["since"]), date.fromisoformat(value["until"])
    except (ValueError, KeyError, TypeError):
        return graph_error(
            "(#100) time_range must be a JSON object with since and until (YYYY-MM-DD)", code=100
        )
    if since > until:
        return graph_error("(#100) since must be on or before until", code=100)
    if since < generator.now().date() - timedelta(days=INSIGHTS_RETENTION_DAYS):
        return graph_error(
            "(#100) The start date of the time range cannot be beyond 37 months from the "
            "current date",
            code=100,
        )
    return since, until


@provider_api(META)
@require_GET
def insights(request: HttpRequest, version: str, account_id: str) -> HttpResponse:
    """``/act_<id>/insights?level=ad&time_increment=1&time_range=...``: daily rows per ad."""
    _grant, account, error = _reached_account(request, account_id)
    if error is not None:
        return error
    if error := _insights_limit(account):
        return error
    if request.GET.get("level", "ad") != "ad" or request.GET.get("time_increment", "1") != "1":
        return graph_error("(#100) The sandbox answers level=ad with time_increment=1", code=100)
    days = _insights_range(request)
    if isinstance(days, HttpResponse):
        return days
    fields = _fields(request)
    rows = meta_data.insight_rows(account, *days)
    always = ("date_start", "date_stop")
    return _paged(request, [_pick(r, fields, always) for r in rows])


@provider_api(META)
@require_GET
def node(request: HttpRequest, version: str, node_id: str) -> HttpResponse:
    """``/<ad id>?fields=id,name,adset{id,name},campaign{id,name},account_id``."""
    grant, error = _user(request)
    if error is not None:
        return error
    if error := _user_limit(grant) or _ads_permission(grant):
        return error
    item = meta_data.ad(node_id)
    reached = {a.account_id for a in meta_data.accounts_of(grant.account_id)}
    if item is None or item.account_id not in reached:
        return _missing_object(node_id)
    if error := _account_limit(meta_data.ad_account(item.account_id)):
        return error
    full = {
        "id": item.ad_id,
        "name": item.name,
        "account_id": item.account_id,
        "adset_id": item.adset_id,
        "campaign_id": item.campaign_id,
        "effective_status": "ACTIVE",
        "adset": {"id": item.adset_id, "name": item.adset_name},
        "campaign": {
            "id": item.campaign_id,
            "name": item.campaign_name,
            "objective": meta_data.objective(item),
        },
    }
    return JsonResponse(_pick(full, _fields(request)))


@provider_api(META)
@require_http_methods(["POST"])
def waba_dataset(request: HttpRequest, version: str, waba_id: str) -> HttpResponse:
    """``POST /<WABA_ID>/dataset``: creates the WABA's dataset or returns the existing one."""
    grant, error = _user(request)
    if error is not None:
        return error
    if error := _user_limit(grant):
        return error
    if WHATSAPP_PERMISSION not in _granted(grant.account_id):
        return graph_error(
            f"(#200) Requires {WHATSAPP_PERMISSION} permission to manage the object", code=200
        )
    return JsonResponse({"id": meta_data.waba_dataset_id(waba_id)})
