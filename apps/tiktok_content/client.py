"""HTTP to TikTok Login Kit v2 and the Display API (``open.tiktokapis.com``).

Two answer shapes share one host:

- the API envelope ``{"data": {...}, "error": {"code", "message", "log_id"}}``,
  where ``error.code == "ok"`` means success (contract §4.2);
- the OAuth endpoints (``/v2/oauth/token/``, ``/v2/oauth/revoke/``), which answer
  a flat ``{"error", "error_description", "log_id"}`` on failure and the token
  fields on success (contract §4.1).

Both are classified by :data:`ERRORS`, one table keyed by the provider's code.

Uploads (``PUT {upload_url}``) go to the address the init call returned, without
the Bearer (the address is signed), in the chunks :func:`chunk_plan` lays out
from the media transfer rules (contract §4.3).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from django.conf import settings

from apps.integrations.http import (
    PermissionDenied,
    ProviderClient,
    ProviderError,
    RateLimited,
    TokenExpired,
    parse_retry_after,
)
from apps.integrations.redaction import register_secret

TOKEN_PATH = "/v2/oauth/token/"  # noqa: S105 (a URL path, not a secret)
REVOKE_PATH = "/v2/oauth/revoke/"
USER_INFO_PATH = "/v2/user/info/"
VIDEO_LIST_PATH = "/v2/video/list/"
CREATOR_INFO_PATH = "/v2/post/publish/creator_info/query/"
VIDEO_INIT_PATH = "/v2/post/publish/video/init/"
INBOX_VIDEO_INIT_PATH = "/v2/post/publish/inbox/video/init/"
PUBLISH_STATUS_PATH = "/v2/post/publish/status/fetch/"

#: ``max_count`` of ``/v2/video/list/`` is 1..20 (contract §4.2).
VIDEO_LIST_MAX_COUNT = 20

# --- media transfer rules (contract §4.3) -------------------------------------------
# The contract says "5 MB", "64 MB" and "128 MB" without saying 10^6 or 2^20 bytes.
# The limits below take the stricter reading of each, so a plan built from them
# is valid under both: chunks of at least 5 MiB, at most 64,000,000 bytes, a
# final chunk of at most 128,000,000 bytes.
#: smallest chunk; a file below this is sent whole, as one chunk
MIN_CHUNK_BYTES = 5 * 1024 * 1024
#: largest chunk but the last (a file above it must be chunked)
MAX_CHUNK_BYTES = 64 * 1000 * 1000
#: the last chunk absorbs the trailing bytes and may reach this
MAX_FINAL_CHUNK_BYTES = 128 * 1000 * 1000
#: 1 to 1000 chunks, uploaded in order
MAX_CHUNK_COUNT = 1000
#: our chunk size: TikTok's own worked example uses 10,000,000 bytes
DEFAULT_CHUNK_BYTES = 10_000_000
#: what ``Content-Type`` an upload may carry
VIDEO_CONTENT_TYPES = ("video/mp4", "video/quicktime", "video/webm")

#: ``error.code`` of a successful API answer
OK = "ok"

#: Provider error code -> typed error. Codes not listed here become a plain
#: :class:`ProviderError` carrying the answer's ``log_id``.
ERRORS: dict[str, type[ProviderError]] = {
    # API envelope (contract §4.2)
    "access_token_invalid": TokenExpired,  # 401: expired or revoked; refresh once and retry
    "scope_not_authorized": PermissionDenied,  # 401: the user did not grant the scope
    "scope_permission_missed": PermissionDenied,  # 400: a requested field needs another scope
    "rate_limit_exceeded": RateLimited,  # 429: 600 requests/min per endpoint
    # OAuth endpoints (contract §4.1): a bad, spent or revoked code or refresh
    # token. For a refresh this means the refresh token is dead: reconnect.
    "invalid_grant": TokenExpired,
}

#: HTTP statuses that say enough on their own when the body carries no code.
STATUS_ERRORS: dict[int, type[ProviderError]] = {
    401: TokenExpired,
    403: PermissionDenied,
    429: RateLimited,
}


def _error_fields(body: Any) -> tuple[str, str, str]:
    """``(code, message, log_id)`` from either answer shape; ``code`` is "" when none."""
    if not isinstance(body, Mapping):
        return "", "", ""
    error = body.get("error")
    if isinstance(error, Mapping):  # API envelope
        return (
            str(error.get("code") or ""),
            str(error.get("message") or ""),
            str(error.get("log_id") or ""),
        )
    if isinstance(error, str) and error:  # OAuth endpoint
        return error, str(body.get("error_description") or ""), str(body.get("log_id") or "")
    return "", "", str(body.get("log_id") or "")


class UploadRuleError(ValueError):
    """A file the media transfer rules refuse; raised before any call is made."""


@dataclass(frozen=True)
class ChunkPlan:
    """How one file is cut: ``source_info`` for the init call and the byte range of each PUT.

    ``total_chunk_count = floor(video_size / chunk_size)``: the last chunk
    takes the trailing bytes, so it may be larger than ``chunk_size``.
    """

    video_size: int
    chunk_size: int
    total_chunk_count: int

    def ranges(self) -> list[tuple[int, int]]:
        """``(first, last)`` byte offsets of each chunk, inclusive, as ``Content-Range`` says."""
        bounds = []
        for index in range(self.total_chunk_count):
            first = index * self.chunk_size
            last = (
                self.video_size - 1
                if index == self.total_chunk_count - 1
                else first + self.chunk_size - 1
            )
            bounds.append((first, last))
        return bounds

    def source_info(self) -> dict[str, Any]:
        return {
            "source": "FILE_UPLOAD",
            "video_size": self.video_size,
            "chunk_size": self.chunk_size,
            "total_chunk_count": self.total_chunk_count,
        }


def chunk_plan(video_size: int, *, chunk_size: int = DEFAULT_CHUNK_BYTES) -> ChunkPlan:
    """Lay out ``video_size`` bytes in chunks the media transfer guide accepts.

    - below :data:`MIN_CHUNK_BYTES`: the whole file as one chunk;
    - otherwise chunks of ``chunk_size`` (kept within 5 MiB..64 MB), and
      ``floor(size / chunk)`` of them, the last absorbing the rest;
    - when that floor is 1 (``chunk <= size < 2 * chunk``), ``chunk_size``
      must equal ``video_size`` (the "common bug" of contract §4.3), which
      is allowed only up to 64 MB; above, the file is cut in two;
    - more than 1000 chunks: the chunk grows until 1000 suffice.

    Raises :class:`UploadRuleError` for an empty file or one no plan can carry.
    """
    if video_size <= 0:
        raise UploadRuleError("The file is empty.")
    if video_size < MIN_CHUNK_BYTES:
        return ChunkPlan(video_size, video_size, 1)
    chunk = min(max(chunk_size, MIN_CHUNK_BYTES), MAX_CHUNK_BYTES)
    count = video_size // chunk
    if count > MAX_CHUNK_COUNT:
        chunk = math.ceil(video_size / MAX_CHUNK_COUNT)
        if chunk > MAX_CHUNK_BYTES:
            raise UploadRuleError(
                f"The file is {video_size} bytes: more than {MAX_CHUNK_COUNT} chunks of "
                f"{MAX_CHUNK_BYTES} bytes can carry."
            )
        count = video_size // chunk
    if count <= 1:
        if video_size <= MAX_CHUNK_BYTES:
            return ChunkPlan(video_size, video_size, 1)
        chunk = video_size // 2
        count = video_size // chunk
    plan = ChunkPlan(video_size, chunk, count)
    last_first, last_last = plan.ranges()[-1]
    if last_last - last_first + 1 > MAX_FINAL_CHUNK_BYTES:  # pragma: no cover - floor prevents it
        raise UploadRuleError("The last chunk would be larger than the rules allow.")
    return plan


class TikTokContentClient(ProviderClient):
    """Login Kit token calls and Display API reads for one creator's token.

    OAuth calls authenticate with the app's ``client_key``/``client_secret`` in
    the form body (``authenticated=False``); API calls with ``Authorization:
    Bearer <access token>``, added in :meth:`prepare` so a refreshed token is
    used on the retry.
    """

    product = "tiktok_content"

    def __init__(
        self,
        *,
        base_url: str | None = None,
        client_key: str | None = None,
        client_secret: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(base_url=base_url or settings.TIKTOK_CONTENT_API_BASE, **kwargs)
        self.client_key = (
            client_key if client_key is not None else settings.TIKTOK_CONTENT_CLIENT_KEY
        )
        self.client_secret = (
            client_secret if client_secret is not None else settings.TIKTOK_CONTENT_CLIENT_SECRET
        )
        register_secret(self.client_secret)

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
            headers["Authorization"] = f"Bearer {self.access_token}"
        return url, params, headers

    def classify(self, *, status_code: int, body: Any, headers: Mapping) -> ProviderError | None:
        code, message, log_id = _error_fields(body)
        if code == OK or (not code and status_code < 400):
            return None
        # A code outside the table is a plain ProviderError whatever the status
        # (invalid_client comes with 401 but is the app's misconfiguration, not
        # an expired token); the status speaks only when the body has no code.
        if code:
            error_class = ERRORS.get(code, ProviderError)
        else:
            error_class = STATUS_ERRORS.get(status_code, ProviderError)
        retry_after = (
            parse_retry_after(_header(headers, "Retry-After"))
            if error_class is RateLimited
            else None
        )
        return error_class(
            message or f"TikTok answered HTTP {status_code}",
            code=code,
            request_id=log_id or self.request_id_of(body=body, headers=headers),
            status_code=status_code,
            retry_after=retry_after,
        )

    def request_id_of(self, *, body: Any, headers: Mapping) -> str:
        _code, _message, log_id = _error_fields(body)
        return log_id or _header(headers, "X-Tt-Logid")

    def provider_code_of(self, *, body: Any) -> str:
        return _error_fields(body)[0]

    # --- OAuth -----------------------------------------------------------------------

    def _token_call(self, form: dict[str, str]) -> dict:
        """POST the token endpoint. Never repeated: a code and a refresh token are single use."""
        response = self.request(
            "POST",
            TOKEN_PATH,
            data={"client_key": self.client_key, "client_secret": self.client_secret, **form},
            repeatable=False,
            authenticated=False,
        )
        return dict(response.body or {})

    def token_from_code(
        self, *, code: str, redirect_uri: str, code_verifier: str | None = None
    ) -> dict:
        """Exchange an authorization code: ``open_id``, ``scope``, tokens and their lifetimes."""
        form = {"code": code, "grant_type": "authorization_code", "redirect_uri": redirect_uri}
        if code_verifier:
            form["code_verifier"] = code_verifier
        return self._token_call(form)

    def token_refresh(self, *, refresh_token: str) -> dict:
        """Spend a refresh token; the answer carries a new one (Login Kit rotates them)."""
        return self._token_call({"grant_type": "refresh_token", "refresh_token": refresh_token})

    def revoke(self, *, token: str) -> None:
        """Revoke the creator's authorization of the app (the access token and its refresh token)."""
        self.request(
            "POST",
            REVOKE_PATH,
            data={
                "client_key": self.client_key,
                "client_secret": self.client_secret,
                "token": token,
            },
            repeatable=False,
            authenticated=False,
        )

    # --- Display API -----------------------------------------------------------------

    def user_info(self, *, fields: list[str]) -> dict:
        """``data.user`` of ``GET /v2/user/info/``; ask only for fields whose scope was granted."""
        response = self.request("GET", USER_INFO_PATH, params={"fields": ",".join(fields)})
        return dict(_data(response.body).get("user") or {})

    def video_list(
        self,
        *,
        fields: Sequence[str],
        cursor: int | None = None,
        max_count: int = VIDEO_LIST_MAX_COUNT,
    ) -> dict:
        """One page of ``POST /v2/video/list/``: ``{videos, cursor, has_more}``, newest first.

        ``cursor`` is the previous page's ``data.cursor`` (a UTC timestamp in
        ms); None asks for the first page. A POST, but a read: safe to repeat.
        """
        body: dict[str, Any] = {"max_count": max_count}
        if cursor is not None:
            body["cursor"] = cursor
        response = self.request(
            "POST",
            VIDEO_LIST_PATH,
            params={"fields": ",".join(fields)},
            json=body,
            repeatable=True,
        )
        return _data(response.body)

    # --- Content Posting API -----------------------------------------------------------

    def creator_info(self) -> dict:
        """``POST /v2/post/publish/creator_info/query/`` (no body): the posting options.

        Must be asked before showing the post form (contract §4.3); 20 calls a
        minute per token.
        """
        response = self.request(
            "POST",
            CREATOR_INFO_PATH,
            headers={"Content-Type": "application/json; charset=UTF-8"},
            repeatable=True,
        )
        return _data(response.body)

    def publish_video_init(self, *, post_info: Mapping[str, Any], source_info: Mapping) -> dict:
        """Direct post (``video.publish``): ``{publish_id, upload_url}`` (no URL when pulled).

        Never repeated: a second init would be a second post.
        """
        response = self.request(
            "POST",
            VIDEO_INIT_PATH,
            json={"post_info": dict(post_info), "source_info": dict(source_info)},
            repeatable=False,
        )
        return _data(response.body)

    def inbox_video_init(self, *, source_info: Mapping[str, Any]) -> dict:
        """Draft to the creator's inbox (``video.upload``): ``{publish_id, upload_url}``."""
        response = self.request(
            "POST", INBOX_VIDEO_INIT_PATH, json={"source_info": dict(source_info)}, repeatable=False
        )
        return _data(response.body)

    def publish_status(self, *, publish_id: str) -> dict:
        """``POST /v2/post/publish/status/fetch/``: ``{status, fail_reason, uploaded_bytes, ...}``.

        The post ids are under TikTok's own misspelling, ``publicaly_available_post_id``.
        """
        response = self.request(
            "POST", PUBLISH_STATUS_PATH, json={"publish_id": publish_id}, repeatable=True
        )
        return _data(response.body)

    def upload_chunk(
        self,
        *,
        upload_url: str,
        chunk: bytes,
        first: int,
        last: int,
        total: int,
        content_type: str,
    ) -> int:
        """``PUT`` one chunk with its ``Content-Range``; returns the HTTP status (206, then 201).

        The upload URL is signed, so no Bearer goes with it. ``Content-Length``
        is the chunk's length (requests sets it from the body).
        """
        response = self.request(
            "PUT",
            upload_url,
            data=chunk,
            headers={
                "Content-Type": content_type,
                "Content-Range": f"bytes {first}-{last}/{total}",
            },
            authenticated=False,
        )
        return response.status_code

    def upload_file(
        self,
        *,
        upload_url: str,
        stream: BinaryIO,
        plan: ChunkPlan,
        content_type: str,
        on_chunk: Callable[[int], None] | None = None,
    ) -> None:
        """Send ``stream`` chunk by chunk, in order; ``on_chunk(bytes_sent)`` after each one.

        Only one chunk is in memory at a time.
        """
        for first, last in plan.ranges():
            chunk = stream.read(last - first + 1)
            if len(chunk) != last - first + 1:
                raise UploadRuleError(
                    f"The file is shorter than the {plan.video_size} bytes declared."
                )
            self.upload_chunk(
                upload_url=upload_url,
                chunk=chunk,
                first=first,
                last=last,
                total=plan.video_size,
                content_type=content_type,
            )
            if on_chunk is not None:
                on_chunk(last + 1)


def _data(body: Any) -> dict:
    """``data`` of an API envelope, as a dict (``{}`` when absent)."""
    if not isinstance(body, Mapping):
        return {}
    return dict(body.get("data") or {})


def _header(headers: Mapping, name: str) -> str:
    """Case-insensitive header read that also works on a plain dict."""
    lowered = name.lower()
    for key, value in headers.items():
        if str(key).lower() == lowered:
            return str(value)
    return ""
