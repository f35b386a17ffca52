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
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, timedelta

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from .. import conf, generator, grants
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
