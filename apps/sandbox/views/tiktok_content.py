"""TikTok Login Kit v2, Display API and Content Posting API (contract tiktok-content.md §4).

OAuth errors are ``{error, error_description, log_id}`` (400, or 401 for
``invalid_client``); API answers are ``{data, error:{code, message,
log_id}}`` with ``error.code == "ok"`` on success. Refresh tokens rotate: the
one just spent stops working at once. PKCE uses TikTok's hex SHA-256 challenge.

Videos are generated per creator (:func:`content_videos`): the same account
and clock always give the same videos, and their counts grow with the sandbox
clock (``generator.now``), so daily snapshots show growth. Posts live in the
cache (shared by every dev-server process, like the fault rules): the init
call records one, each ``PUT`` chunk is checked against the media transfer
rules, and ``status/fetch`` derives the status from the sandbox clock:
``PROCESSING_UPLOAD`` (or ``PROCESSING_DOWNLOAD``) until
``SANDBOX_CONTENT_PROCESSING_SECONDS`` after the last chunk, then
``PUBLISH_COMPLETE`` (``SEND_TO_USER_INBOX`` for drafts), or ``FAILED``
(``file_format_check_failed``) when the first bytes are no MP4/MOV/WebM.
Public posts then appear in ``video/list``.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
import time
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
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
from .common import BadParam, json_body

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
    # The count agrees with what video/list lists.
    user["video_count"] = len(_all_videos(grant.account_id))
    return content_ok({"user": {f: user[f] for f in fields}})


# --- Generated videos -------------------------------------------------------------

#: How many videos a generated creator has (inclusive): more than one page of 20.
VIDEOS_PER_CREATOR = (24, 57)
#: ``video/list`` fields (contract §4.2, the video object).
VIDEO_FIELDS = (
    "id",
    "create_time",
    "cover_image_url",
    "share_url",
    "video_description",
    "duration",
    "height",
    "width",
    "title",
    "embed_html",
    "embed_link",
    "like_count",
    "comment_count",
    "share_count",
    "view_count",
    "is_aigc",
)
VIDEO_LIST_MAX = 20
VIDEO_LIST_DEFAULT = 10
#: Cover URLs are signed CDN addresses valid for 6 hours (contract §4.2).
COVER_TTL = timedelta(hours=6)
_TOPICS = (
    "Morning routine",
    "Street food tour",
    "30-second recipe",
    "Packing hacks",
    "Behind the scenes",
    "Q&A with followers",
    "Tiny apartment tour",
    "Sunset timelapse",
    "Trying a viral trend",
    "Day in my life",
)


def _video_id(r) -> str:
    return "7" + "".join(r.choice("0123456789") for _ in range(18))


def _growth(age_hours: float, tau_hours: float) -> float:
    """Share of a video's lifetime views reached at ``age_hours`` (0 at birth, then up to 1)."""
    if age_hours <= 0:
        return 0.0
    return 1.0 - math.exp(-age_hours / tau_hours)


def _counts(final_views: int, rates: tuple[float, float, float], fraction: float) -> dict:
    views = int(final_views * fraction)
    like_rate, comment_rate, share_rate = rates
    return {
        "view_count": views,
        "like_count": int(views * like_rate),
        "comment_count": int(views * comment_rate),
        "share_count": int(views * share_rate),
    }


def content_videos(account_id: str, *, now: datetime | None = None) -> list[dict]:
    """The creator's generated public videos, newest first, with counts as of ``now``.

    Everything but the counts and the cover URL's expiry is fixed per account;
    counts grow towards each video's lifetime total, fastest in its first days.
    """
    now = now or generator.now()
    r = generator.rng("content-videos", account_id)
    user = generator.content_user(account_id)
    username = user["username"]
    count = r.randint(*VIDEOS_PER_CREATOR)
    anchor = int(now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp())
    ages = sorted(r.sample(range(3600, 365 * 86400, 97), count))
    expires = int((now + COVER_TTL).timestamp())
    videos = []
    for index, age in enumerate(ages):
        video_id = _video_id(r)
        create_time = anchor - age
        final_views = int(min(r.lognormvariate(9.0, 1.4), 5_000_000))
        rates = (r.uniform(0.03, 0.12), r.uniform(0.001, 0.01), r.uniform(0.0005, 0.006))
        tau = r.uniform(24, 24 * 14)
        title = f"{r.choice(_TOPICS)} #{count - index}"
        videos.append(
            {
                "id": video_id,
                "create_time": create_time,
                "cover_image_url": (
                    f"https://p16-sign.tiktokcdn.example/sandbox/cover/{video_id}.jpeg"
                    f"?x-expires={expires}"
                ),
                "share_url": f"https://www.tiktok.com/@{username}/video/{video_id}",
                "video_description": f"{title} · sandbox video, nothing here is real",
                "duration": r.randint(6, 180),
                "height": 1920,
                "width": 1080,
                "title": title,
                "embed_html": (
                    f'<blockquote class="tiktok-embed" data-video-id="{video_id}"></blockquote>'
                ),
                "embed_link": f"https://www.tiktok.com/player/v1/{video_id}",
                "is_aigc": False,
                **_counts(final_views, rates, _growth((now.timestamp() - create_time) / 3600, tau)),
            }
        )
    videos.sort(key=lambda v: v["create_time"], reverse=True)
    return videos


def _all_videos(account_id: str) -> list[dict]:
    """Generated videos plus the public posts published through this sandbox, newest first."""
    now = generator.now()
    videos = content_videos(account_id, now=now) + _published_videos(account_id, now)
    videos.sort(key=lambda v: v["create_time"], reverse=True)
    return videos


def _authorized(request: HttpRequest, *scopes: str) -> tuple[SandboxGrant | None, HttpResponse]:
    """The grant behind the Bearer, if it holds one of ``scopes``; else the error to answer."""
    grant, outcome = grants.find_access(provider=CONTENT, token=bearer_token(request))
    if outcome is not grants.Outcome.OK:
        return None, content_error(
            "access_token_invalid",
            "The access token is invalid or not found in the request.",
            status=401,
        )
    if scopes and not set(scopes) & set(grant.scopes):
        return None, content_error(
            "scope_not_authorized",
            f"The user did not authorize the scope required for this endpoint: {' or '.join(scopes)}.",
            status=401,
        )
    return grant, HttpResponse()


def _fields(request: HttpRequest) -> list[str] | None:
    fields = [f.strip() for f in request.GET.get("fields", "").split(",") if f.strip()]
    if not fields or any(f not in VIDEO_FIELDS for f in fields):
        return None
    return fields


def _invalid(message: str) -> JsonResponse:
    return content_error("invalid_params", message, status=400)


@provider_api(CONTENT)
@require_POST
def video_list(request: HttpRequest) -> HttpResponse:
    """``/v2/video/list/?fields=``: body ``{cursor, max_count}``; newest first, cursor in ms."""
    grant, refusal = _authorized(request, "video.list")
    if grant is None:
        return refusal
    fields = _fields(request)
    if fields is None:
        return _invalid("The fields parameter is invalid.")
    try:
        body = json_body(request)
    except BadParam as exc:
        return _invalid(str(exc))
    max_count = body.get("max_count", VIDEO_LIST_DEFAULT)
    cursor = body.get("cursor")
    if not isinstance(max_count, int) or isinstance(max_count, bool):
        return _invalid("max_count must be an integer.")
    if not 1 <= max_count <= VIDEO_LIST_MAX:
        return _invalid(f"max_count must be between 1 and {VIDEO_LIST_MAX}.")
    if cursor is not None and (not isinstance(cursor, int) or isinstance(cursor, bool)):
        return _invalid("cursor must be an integer (a UTC timestamp in milliseconds).")
    videos = _all_videos(grant.account_id)
    if cursor:
        videos = [v for v in videos if v["create_time"] * 1000 < cursor]
    page = videos[:max_count]
    return content_ok(
        {
            "videos": [{f: v[f] for f in fields if f in v} for v in page],
            "cursor": page[-1]["create_time"] * 1000 if page else (cursor or 0),
            "has_more": len(videos) > max_count,
        }
    )


# --- Content Posting API ------------------------------------------------------------

PUBLISH_SCOPE = "video.publish"
UPLOAD_SCOPE = "video.upload"
PRIVACY_LEVELS = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY")
#: Per-token limits per minute (contract §4.3). The sandbox counts per calendar
#: minute, a close stand-in for TikTok's sliding window.
RATE_LIMITS = {"creator_info": 20, "init": 6, "status": 30}
# Media transfer rules (contract §4.3), read strictly: "5 MB" as 5 MiB for the
# smallest chunk, "64 MB" and "128 MB" as 10^6-byte megabytes for the largest.
MIN_CHUNK = 5 * 1024 * 1024
MAX_CHUNK = 64 * 1000 * 1000
MAX_FINAL_CHUNK = 128 * 1000 * 1000
MAX_CHUNKS = 1000
UPLOAD_TYPES = ("video/mp4", "video/quicktime", "video/webm")
#: An upload URL is valid this long after the init call.
UPLOAD_URL_TTL = timedelta(hours=1)
TITLE_MAX = 2200
#: Posts are kept this long in the cache.
POST_TTL_SECONDS = 7 * 24 * 3600
CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")
#: Every creator option set the generated accounts use, by identity order.
_CREATOR_OPTIONS = (
    {
        "privacy_level_options": list(PRIVACY_LEVELS),
        "comment_disabled": False,
        "duet_disabled": False,
        "stitch_disabled": True,
        "max_video_post_duration_sec": 600,
    },
    {  # a private account: no PUBLIC_TO_EVERYONE
        "privacy_level_options": ["FOLLOWER_OF_CREATOR", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"],
        "comment_disabled": False,
        "duet_disabled": True,
        "stitch_disabled": True,
        "max_video_post_duration_sec": 180,
    },
    {
        "privacy_level_options": list(PRIVACY_LEVELS),
        "comment_disabled": False,
        "duet_disabled": False,
        "stitch_disabled": False,
        "max_video_post_duration_sec": 300,
    },
)


def processing_seconds() -> float:
    """How long TikTok "processes" a post once it has every byte (sandbox knob)."""
    return float(getattr(settings, "SANDBOX_CONTENT_PROCESSING_SECONDS", 3))


def verified_url_prefixes() -> list[str]:
    """URL prefixes verified on the sandbox developer app for ``PULL_FROM_URL``."""
    return list(
        getattr(
            settings, "SANDBOX_CONTENT_VERIFIED_URL_PREFIXES", ["https://media.sandbox.example/"]
        )
    )


def creator_info(account_id: str) -> dict:
    """``creator_info/query``'s answer for a generated creator (fixed per identity)."""
    ids = [i.account_id for i in generator.identities(CONTENT)]
    options = (
        _CREATOR_OPTIONS[ids.index(account_id) % 3] if account_id in ids else _CREATOR_OPTIONS[0]
    )
    user = generator.content_user(account_id)
    return {
        "creator_avatar_url": user["avatar_url"] + "?creator=1",
        "creator_username": user["username"],
        "creator_nickname": user["display_name"],
        **{k: (list(v) if isinstance(v, list) else v) for k, v in options.items()},
    }


def _spend(name: str, token: str) -> bool:
    """Count one call against the per-token budget; False once this minute's is spent."""
    digest = hashlib.sha256(token.encode()).hexdigest()[:16]
    key = f"sandbox:content:rate:{name}:{digest}:{int(time.time() // 60)}"
    if cache.add(key, 1, 120):
        return True
    return cache.incr(key) <= RATE_LIMITS[name]


def _throttled() -> JsonResponse:
    return content_error("rate_limit_exceeded", "API rate limit was exceeded.", status=429)


def _post_key(publish_id: str) -> str:
    return f"sandbox:content:post:{publish_id}"


def _upload_key(upload_id: str) -> str:
    return f"sandbox:content:upload:{upload_id}"


def _account_key(account_id: str) -> str:
    return f"sandbox:content:posts:{account_id}"


def _save_post(post: dict) -> None:
    cache.set(_post_key(post["publish_id"]), post, POST_TTL_SECONDS)


def _load_post(publish_id: str) -> dict | None:
    return cache.get(_post_key(publish_id)) if publish_id else None


@provider_api(CONTENT)
@require_POST
def creator_info_query(request: HttpRequest) -> HttpResponse:
    """``/v2/post/publish/creator_info/query/``: ``video.publish``; 20 a minute per token."""
    grant, refusal = _authorized(request, PUBLISH_SCOPE)
    if grant is None:
        return refusal
    if not _spend("creator_info", bearer_token(request)):
        return _throttled()
    return content_ok(creator_info(grant.account_id))


def _source_problem(source: Any) -> str | None:
    """What breaks the media transfer rules in ``source_info`` for FILE_UPLOAD, if anything."""
    values = [source.get(k) for k in ("video_size", "chunk_size", "total_chunk_count")]
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values):
        return "video_size, chunk_size and total_chunk_count must be positive integers."
    size, chunk, count = values
    if chunk > size:
        return "chunk_size cannot exceed video_size."
    if size < MIN_CHUNK and (chunk != size or count != 1):
        return (
            "A video under 5 MB is uploaded whole: chunk_size = video_size, total_chunk_count = 1."
        )
    if count != size // chunk:
        return f"total_chunk_count must be floor(video_size / chunk_size) = {size // chunk}."
    if count == 1:
        if chunk != size:
            return "With one chunk, chunk_size must equal video_size."
        if size > MAX_CHUNK:
            return "A video over 64 MB must be uploaded in several chunks."
        return None
    if not MIN_CHUNK <= chunk <= MAX_CHUNK:
        return "chunk_size must be between 5 MB and 64 MB."
    if count > MAX_CHUNKS:
        return f"total_chunk_count must be between 1 and {MAX_CHUNKS}."
    if size - (count - 1) * chunk > MAX_FINAL_CHUNK:
        return "The last chunk cannot exceed 128 MB."
    return None


def _post_info_problem(post_info: Any, creator: dict) -> str | None:
    if not isinstance(post_info, dict):
        return "post_info is required."
    if post_info.get("privacy_level") not in creator["privacy_level_options"]:
        return (
            "privacy_level_option_mismatch: privacy_level must be one of "
            + ", ".join(creator["privacy_level_options"])
            + "."
        )
    if len(str(post_info.get("title") or "")) > TITLE_MAX:
        return f"title cannot exceed {TITLE_MAX} characters."
    for name in ("comment", "duet", "stitch"):
        if creator[f"{name}_disabled"] and post_info.get(f"disable_{name}") is not True:
            return f"disable_{name} must be true: the creator turned {name}s off."
    if post_info.get("brand_content_toggle") and post_info["privacy_level"] == "SELF_ONLY":
        return "Branded content cannot be private (SELF_ONLY)."
    return None


def _init(request: HttpRequest, *, mode: str, scope: str) -> HttpResponse:
    grant, refusal = _authorized(request, scope)
    if grant is None:
        return refusal
    if not _spend("init", bearer_token(request)):
        return _throttled()
    try:
        body = json_body(request)
    except BadParam as exc:
        return _invalid(str(exc))
    source = body.get("source_info")
    if not isinstance(source, dict):
        return _invalid("source_info is required.")
    post_info = body.get("post_info") or {}
    if mode == "direct":
        problem = _post_info_problem(post_info, creator_info(grant.account_id))
        if problem:
            return _invalid(problem)
    kind = source.get("source")
    now = generator.now()
    publish_id = f"v_{'inbox' if mode == 'inbox' else 'pub'}_{'url' if kind == 'PULL_FROM_URL' else 'file'}~v2-1.{secrets.randbelow(10**18):018d}"
    post = {
        "publish_id": publish_id,
        "account_id": grant.account_id,
        "mode": mode,
        "source": kind,
        "post_info": post_info,
        "created_at": now.isoformat(),
        "post_id": _video_id(generator.rng("content-post", publish_id)),
    }
    data: dict[str, Any] = {"publish_id": publish_id}
    if kind == "FILE_UPLOAD":
        problem = _source_problem(source)
        if problem:
            return _invalid(problem)
        upload_id = secrets.token_hex(8)
        post.update(
            video_size=source["video_size"],
            chunk_size=source["chunk_size"],
            total_chunk_count=source["total_chunk_count"],
            received=0,
            chunks=0,
            upload_id=upload_id,
            upload_token=secrets.token_urlsafe(16),
            uploaded_at=None,
            format_ok=None,
        )
        data["upload_url"] = (
            f"{settings.SANDBOX_BASE_URL}/tiktok-content/upload/video/"
            f"?upload_id={upload_id}&upload_token={post['upload_token']}"
        )
        cache.set(_upload_key(upload_id), publish_id, POST_TTL_SECONDS)
    elif kind == "PULL_FROM_URL":
        url = str(source.get("video_url") or "")
        if not url.startswith("https://"):
            return _invalid("video_url must be an https URL.")
        if not any(url.startswith(prefix) for prefix in verified_url_prefixes()):
            return content_error(
                "url_ownership_unverified",
                "The domain or URL prefix of video_url is not verified for this app.",
                status=403,
            )
        post.update(video_url=url, video_size=len(url) * 1_000_003 % 40_000_000 + 1_000_000)
    else:
        return _invalid("source_info.source must be FILE_UPLOAD or PULL_FROM_URL.")
    _save_post(post)
    posts = cache.get(_account_key(grant.account_id)) or []
    cache.set(_account_key(grant.account_id), [*posts, publish_id], POST_TTL_SECONDS)
    return content_ok(data)


@provider_api(CONTENT)
@require_POST
def video_init(request: HttpRequest) -> HttpResponse:
    """``/v2/post/publish/video/init/``: a direct post (``video.publish``), 6 a minute."""
    return _init(request, mode="direct", scope=PUBLISH_SCOPE)


@provider_api(CONTENT)
@require_POST
def inbox_video_init(request: HttpRequest) -> HttpResponse:
    """``/v2/post/publish/inbox/video/init/``: a draft to the inbox (``video.upload``)."""
    return _init(request, mode="inbox", scope=UPLOAD_SCOPE)


def _upload_refusal(message: str, status: int = 400) -> JsonResponse:
    return content_error("invalid_file_upload", message, status=status)


def _is_video(head: bytes) -> bool:
    return (len(head) >= 8 and head[4:8] == b"ftyp") or head.startswith(b"\x1a\x45\xdf\xa3")


@provider_api(CONTENT)
@require_http_methods(["PUT"])
def upload_video(request: HttpRequest) -> HttpResponse:
    """``PUT {upload_url}``: one chunk, in order, with its ``Content-Range``; 206, then 201.

    The body is read as a stream (only its first bytes are kept, to check the
    format), so chunks larger than Django's in-memory limit are fine.
    """
    publish_id = cache.get(_upload_key(request.GET.get("upload_id", "")))
    post = _load_post(publish_id or "")
    if post is None or not hmac.compare_digest(
        str(post.get("upload_token")), request.GET.get("upload_token", "")
    ):
        return _upload_refusal("The upload URL is unknown.", status=404)
    if generator.now() - datetime.fromisoformat(post["created_at"]) > UPLOAD_URL_TTL:
        return _upload_refusal("The upload URL has expired.", status=403)
    content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type not in UPLOAD_TYPES:
        return _upload_refusal(f"Content-Type must be one of {', '.join(UPLOAD_TYPES)}.")
    match = CONTENT_RANGE.match(request.headers.get("Content-Range", ""))
    if not match:
        return _upload_refusal("Content-Range must read 'bytes {first}-{last}/{total}'.")
    first, last, total = (int(g) for g in match.groups())
    size, chunk, count = post["video_size"], post["chunk_size"], post["total_chunk_count"]
    if total != size:
        return _upload_refusal(f"The total in Content-Range must be video_size ({size}).")
    index = post["chunks"]
    if index >= count:
        return _upload_refusal("Every chunk was uploaded already.", status=416)
    if first != post["received"]:
        return _upload_refusal(
            f"Chunks are uploaded in order: the next one starts at byte {post['received']}.",
            status=416,
        )
    expected_last = size - 1 if index == count - 1 else first + chunk - 1
    if last != expected_last:
        return _upload_refusal(
            f"Chunk {index + 1} of {count} must cover bytes {first}-{expected_last}."
        )
    received, head = 0, b""
    while block := request.read(1 << 20):
        if len(head) < 16:
            head += block[: 16 - len(head)]
        received += len(block)
    if received != last - first + 1:
        return _upload_refusal(
            f"The body has {received} bytes; Content-Range announces {last - first + 1}."
        )
    if index == 0:
        post["format_ok"] = _is_video(head)
    post["received"] = last + 1
    post["chunks"] = index + 1
    done = post["chunks"] == count
    if done:
        post["uploaded_at"] = generator.now().isoformat()
    _save_post(post)
    return HttpResponse(status=201 if done else 206)


def _status(post: dict, now: datetime) -> dict:
    """The post's status as TikTok would report it ``now`` (derived, never stored)."""
    wait = timedelta(seconds=processing_seconds())
    final = "SEND_TO_USER_INBOX" if post["mode"] == "inbox" else "PUBLISH_COMPLETE"
    if post["source"] == "FILE_UPLOAD":
        if not post.get("uploaded_at"):
            return {"status": "PROCESSING_UPLOAD", "uploaded_bytes": post["received"]}
        if post.get("format_ok") is False:
            return {
                "status": "FAILED",
                "fail_reason": "file_format_check_failed",
                "uploaded_bytes": post["video_size"],
            }
        ready = datetime.fromisoformat(post["uploaded_at"]) + wait
        if now < ready:
            return {"status": "PROCESSING_UPLOAD", "uploaded_bytes": post["video_size"]}
        answer = {"status": final, "uploaded_bytes": post["video_size"]}
    else:
        started = datetime.fromisoformat(post["created_at"])
        ready = started + wait
        if urlsplit(post["video_url"]).path.endswith("/broken.mp4"):
            return {"status": "FAILED", "fail_reason": "video_pull_failed", "downloaded_bytes": 0}
        if now < ready:
            share = (now - started) / wait if wait else 1
            return {
                "status": "PROCESSING_DOWNLOAD",
                "downloaded_bytes": int(post["video_size"] * min(share, 1)),
            }
        answer = {"status": final, "downloaded_bytes": post["video_size"]}
    public = (post.get("post_info") or {}).get("privacy_level") == "PUBLIC_TO_EVERYONE"
    # Public posts show their id after moderation: one more processing interval.
    moderated = now >= ready + wait
    answer["publicaly_available_post_id"] = (
        [int(post["post_id"])] if final == "PUBLISH_COMPLETE" and public and moderated else []
    )
    answer["_ready"] = ready.isoformat()
    return answer


@provider_api(CONTENT)
@require_POST
def publish_status_fetch(request: HttpRequest) -> HttpResponse:
    """``/v2/post/publish/status/fetch/``: body ``{publish_id}``; 30 a minute per token."""
    grant, refusal = _authorized(request, PUBLISH_SCOPE, UPLOAD_SCOPE)
    if grant is None:
        return refusal
    if not _spend("status", bearer_token(request)):
        return _throttled()
    try:
        body = json_body(request)
    except BadParam as exc:
        return _invalid(str(exc))
    post = _load_post(str(body.get("publish_id") or ""))
    if post is None or post["account_id"] != grant.account_id:
        return _invalid("publish_id is invalid or does not belong to this user.")
    answer = _status(post, generator.now())
    answer.pop("_ready", None)
    answer.setdefault("fail_reason", "")
    return content_ok(answer)


def _published_videos(account_id: str, now: datetime) -> list[dict]:
    """Public direct posts that reached PUBLISH_COMPLETE, as ``video/list`` shows them."""
    videos = []
    user = generator.content_user(account_id)
    for publish_id in cache.get(_account_key(account_id)) or []:
        post = _load_post(publish_id)
        if post is None or post["mode"] != "direct":
            continue
        status = _status(post, now)
        if not status.get("publicaly_available_post_id"):
            continue
        ready = datetime.fromisoformat(status["_ready"])
        video_id = post["post_id"]
        title = str(post["post_info"].get("title") or "")
        hours = (now - ready).total_seconds() / 3600
        videos.append(
            {
                "id": video_id,
                "create_time": int(ready.timestamp()),
                "cover_image_url": f"https://p16-sign.tiktokcdn.example/sandbox/cover/{video_id}.jpeg",
                "share_url": f"https://www.tiktok.com/@{user['username']}/video/{video_id}",
                "video_description": title[:150],
                "duration": 0,
                "height": 1920,
                "width": 1080,
                "title": title[:150],
                "embed_html": "",
                "embed_link": f"https://www.tiktok.com/player/v1/{video_id}",
                "is_aigc": False,
                **_counts(2000, (0.08, 0.005, 0.002), _growth(hours, 48)),
            }
        )
    return videos
