"""TikTok Login Kit v2 and Display API (contract tiktok-content.md §4.1-4.2).

OAuth errors are ``{error, error_description, log_id}`` (400, or 401 for
``invalid_client``); Display API answers are ``{data, error:{code, message,
log_id}}`` with ``error.code == "ok"`` on success. Refresh tokens rotate: the
one just spent stops working at once. PKCE uses TikTok's hex SHA-256 challenge.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .. import conf, generator, grants
from ..api import bearer_token, provider_api, redirect_allowed, with_params
from ..consent import ScopeChoice, chosen_identity, render_consent, render_error
from ..envelopes import content_error, content_oauth_error, content_ok
from ..models import Provider, SandboxGrant

CONTENT = Provider.TIKTOK_CONTENT.value
APP_NAME = "Sandbox TikTok Content app"

#: Which scope each ``user/info/`` field needs.
USER_FIELD_SCOPES = {
    "open_id": "user.info.basic",
    "union_id": "user.info.basic",
    "avatar_url": "user.info.basic",
    "avatar_url_100": "user.info.basic",
    "avatar_large_url": "user.info.basic",
    "display_name": "user.info.basic",
    "bio_description": "user.info.profile",
    "profile_deep_link": "user.info.profile",
    "is_verified": "user.info.profile",
    "username": "user.info.profile",
    "follower_count": "user.info.stats",
    "following_count": "user.info.stats",
    "likes_count": "user.info.stats",
    "video_count": "user.info.stats",
}


def hex_challenge(verifier: str) -> str:
    """TikTok's PKCE quirk: hex SHA-256 of the verifier, not RFC 7636 base64url."""
    return hashlib.sha256(verifier.encode()).hexdigest()


# --- Consent ----------------------------------------------------------------------


def _requested_scopes(raw: str) -> list[str]:
    scopes = [s.strip() for s in raw.replace(" ", ",").split(",") if s.strip()]
    return list(dict.fromkeys(scopes))


def _authorize_error(request: HttpRequest) -> str | None:
    """A problem that can be sent back to the app (invalid_scope and the like)."""
    if request.GET.get("response_type") != "code":
        return "unsupported_response_type"
    scopes = _requested_scopes(request.GET.get("scope", ""))
    if not scopes or any(s not in conf.CONTENT_SCOPES for s in scopes):
        return "invalid_scope"
    if request.GET.get("code_challenge") and request.GET.get("code_challenge_method") != "S256":
        return "invalid_request"
    return None


@require_http_methods(["GET", "POST"])
def authorize(request: HttpRequest) -> HttpResponse:
    """``/v2/auth/authorize/``: scopes as checkboxes the user may untick."""
    redirect_uri = request.GET.get("redirect_uri", "")
    state = request.GET.get("state")
    if request.GET.get("client_key") != settings.TIKTOK_CONTENT_CLIENT_KEY:
        return render_error(request, provider=CONTENT, message=_("Invalid client_key."))
    if not redirect_allowed(redirect_uri):
        return render_error(request, provider=CONTENT, message=_("Invalid redirect_uri."))
    if error := _authorize_error(request):
        params = {"error": error, "error_description": error.replace("_", " "), "state": state}
        return redirect(with_params(redirect_uri, params))
    requested = _requested_scopes(request.GET["scope"])
    if request.method == "GET":
        choices = [ScopeChoice(s, required=s == conf.CONTENT_REQUIRED_SCOPE) for s in requested]
        return render_consent(request, provider=CONTENT, app_name=APP_NAME, scopes=choices)
    return _decide(request, redirect_uri=redirect_uri, state=state, requested=requested)


def _decide(
    request: HttpRequest, *, redirect_uri: str, state: str | None, requested: list[str]
) -> HttpResponse:
    ticked = set(request.POST.getlist("scopes"))
    granted = [s for s in requested if s in ticked or s == conf.CONTENT_REQUIRED_SCOPE]
    if request.POST.get("decision") != "authorize" or not granted:
        params = {
            "error": "access_denied",
            "error_description": "The user denied the authorization request.",
            "state": state,
        }
        return redirect(with_params(redirect_uri, params))
    who = chosen_identity(request, CONTENT)
    if who is None:
        return render_error(request, provider=CONTENT, message=_("Unknown account."))
    grant = grants.issue_code(
        provider=CONTENT,
        account_id=who.account_id,
        scopes=granted,
        redirect_uri=redirect_uri,
        code_challenge=request.GET.get("code_challenge", ""),
    )
    params = {"code": grant.code, "scopes": ",".join(granted), "state": state}
    return redirect(with_params(redirect_uri, params))


# --- OAuth endpoints --------------------------------------------------------------


def _client_matches(request: HttpRequest) -> bool:
    return (
        request.POST.get("client_key") == settings.TIKTOK_CONTENT_CLIENT_KEY
        and request.POST.get("client_secret") == settings.TIKTOK_CONTENT_CLIENT_SECRET
    )


def _invalid_client() -> JsonResponse:
    return content_oauth_error("invalid_client", "Client key or secret is incorrect.", status=401)


def _token_answer(grant: SandboxGrant) -> JsonResponse:
    """Lifetimes in seconds, unlike TikTok Shop."""
    now = timezone.now()
    return JsonResponse(
        {
            "access_token": grant.access_token,
            "expires_in": int((grant.access_expires_at - now).total_seconds()),
            "refresh_token": grant.refresh_token,
            "refresh_expires_in": int((grant.refresh_expires_at - now).total_seconds()),
            "open_id": generator.content_user(grant.account_id)["open_id"],
            "scope": ",".join(grant.scopes),
            "token_type": "Bearer",
        }
    )


@provider_api(CONTENT)
@require_POST
def token(request: HttpRequest) -> HttpResponse:
    """``/v2/oauth/token/``: form-encoded, ``authorization_code`` or ``refresh_token``."""
    if not _client_matches(request):
        return _invalid_client()
    grant_type = request.POST.get("grant_type")
    if grant_type == "authorization_code":
        return _exchange_code(request)
    if grant_type == "refresh_token":
        return _refresh(request)
    return content_oauth_error("unsupported_grant_type", "The grant_type is not supported.")


def _code_problem(request: HttpRequest, grant: SandboxGrant | None) -> str | None:
    """Checked before the code is spent, so a fixable client mistake does not burn it."""
    if grant is None:
        return "Authorization code is invalid."
    if request.POST.get("redirect_uri") != grant.redirect_uri:
        return "The redirect_uri does not match the one used to authorize."
    if grant.code_challenge:
        verifier = request.POST.get("code_verifier", "")
        if not hmac.compare_digest(hex_challenge(verifier), grant.code_challenge):
            return "The code_verifier does not match the code_challenge."
    return None


def _exchange_code(request: HttpRequest) -> HttpResponse:
    code = request.POST.get("code", "")
    peek = SandboxGrant.objects.filter(provider=CONTENT, code=code).first() if code else None
    if problem := _code_problem(request, peek):
        return content_oauth_error("invalid_grant", problem)
    grant, outcome = grants.redeem_code(provider=CONTENT, code=code)
    if outcome is not grants.Outcome.OK:
        return content_oauth_error("invalid_grant", f"Authorization code is {outcome.value}.")
    grants.mint_tokens(grant, access_ttl=conf.token_ttl(), refresh_ttl=conf.content_refresh_ttl())
    return _token_answer(grant)


def _refresh(request: HttpRequest) -> HttpResponse:
    grant, outcome = grants.rotate(
        provider=CONTENT,
        refresh_token=request.POST.get("refresh_token", ""),
        access_ttl=conf.token_ttl(),
        refresh_ttl=conf.content_refresh_ttl(),
    )
    if outcome is not grants.Outcome.OK:
        return content_oauth_error("invalid_grant", f"Refresh token is {outcome.value}.")
    return _token_answer(grant)


@provider_api(CONTENT)
@require_POST
def revoke(request: HttpRequest) -> HttpResponse:
    """``/v2/oauth/revoke/``: ends the user's authorization; unknown tokens still get 200."""
    if not _client_matches(request):
        return _invalid_client()
    grants.revoke_token(provider=CONTENT, token=request.POST.get("token", ""), whole_account=True)
    return JsonResponse({})


# --- Display API ------------------------------------------------------------------


@provider_api(CONTENT)
@require_GET
def user_info(request: HttpRequest) -> HttpResponse:
    """``/v2/user/info/?fields=...``: only the fields asked for, each needing its scope."""
    grant, outcome = grants.find_access(provider=CONTENT, token=bearer_token(request))
    if outcome is not grants.Outcome.OK:
        return content_error(
            "access_token_invalid",
            "The access token is invalid or not found in the request.",
            status=401,
        )
    if conf.CONTENT_REQUIRED_SCOPE not in grant.scopes:
        return content_error(
            "scope_not_authorized", "The user did not authorize the scope.", status=401
        )
    fields = [f.strip() for f in request.GET.get("fields", "").split(",") if f.strip()]
    if not fields or any(f not in USER_FIELD_SCOPES for f in fields):
        return content_error("invalid_params", "The fields parameter is invalid.", status=400)
    missing = sorted({USER_FIELD_SCOPES[f] for f in fields} - set(grant.scopes))
    if missing:
        return content_error(
            "scope_permission_missed",
            f"The fields requested need scopes the user did not grant: {', '.join(missing)}.",
            status=400,
        )
    user = generator.content_user(grant.account_id)
    return content_ok({"user": {f: user[f] for f in fields}})
