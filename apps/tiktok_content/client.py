"""HTTP to TikTok Login Kit v2 and the Display API (``open.tiktokapis.com``).

Two answer shapes share one host:

- the API envelope ``{"data": {...}, "error": {"code", "message", "log_id"}}``,
  where ``error.code == "ok"`` means success (contract §4.2);
- the OAuth endpoints (``/v2/oauth/token/``, ``/v2/oauth/revoke/``), which answer
  a flat ``{"error", "error_description", "log_id"}`` on failure and the token
  fields on success (contract §4.1).

Both are classified by :data:`ERRORS`, one table keyed by the provider's code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
        data = (response.body or {}).get("data") or {}
        return dict(data.get("user") or {})


def _header(headers: Mapping, name: str) -> str:
    """Case-insensitive header read that also works on a plain dict."""
    lowered = name.lower()
    for key, value in headers.items():
        if str(key).lower() == lowered:
            return str(value)
    return ""
