"""Response shapes of each emulated provider, and how each answers an injected fault.

- TikTok Ads and Shop: ``{code, message, request_id, data}``; errors mostly in HTTP 200.
- TikTok Content (Display API): ``{data, error:{code, message, log_id}}``;
  its OAuth endpoints: ``{error, error_description, log_id}``.
- Meta Graph: ``{"error": {message, type, code, error_subcode, fbtrace_id}}``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from django.http import HttpResponse, JsonResponse
from django.utils import timezone

from .faults import Fault


def request_id() -> str:
    """TikTok-style request/log id: a UTC timestamp followed by random hex."""
    return timezone.now().strftime("%Y%m%d%H%M%S") + secrets.token_hex(10).upper()


def tiktok(
    code: int = 0, message: str = "OK", data: Any = None, *, status: int = 200
) -> JsonResponse:
    """The Marketing API / Shop API envelope; ``code`` 0 is success."""
    body = {
        "code": code,
        "message": message,
        "request_id": request_id(),
        "data": {} if data is None else data,
    }
    return JsonResponse(body, status=status)


def content_ok(data: dict) -> JsonResponse:
    return JsonResponse({"data": data, "error": _content_error("ok", "")})


def content_error(code: str, message: str, *, status: int) -> JsonResponse:
    return JsonResponse({"data": {}, "error": _content_error(code, message)}, status=status)


def _content_error(code: str, message: str) -> dict:
    return {"code": code, "message": message, "log_id": request_id()}


def content_oauth_error(error: str, description: str, *, status: int = 400) -> JsonResponse:
    body = {"error": error, "error_description": description, "log_id": request_id()}
    return JsonResponse(body, status=status)


def graph_error(
    message: str,
    *,
    code: int,
    subcode: int | None = None,
    error_type: str = "OAuthException",
    status: int = 400,
    transient: bool | None = None,
) -> JsonResponse:
    """Meta's error envelope; ``error_subcode`` only when there is one, as Meta does."""
    error: dict[str, Any] = {"message": message, "type": error_type, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    if transient is not None:
        error["is_transient"] = transient
    error["fbtrace_id"] = "A" + secrets.token_urlsafe(16).replace("-", "x").replace("_", "y")
    return JsonResponse({"error": error}, status=status)


# --- Faults ---------------------------------------------------------------------

_TIKTOK_ADS = {
    "429": lambda: tiktok(40100, "Too many requests. Please retry in some time.", status=429),
    "500": lambda: tiktok(50000, "Internal service error.", status=500),
    "expired_token": lambda: tiktok(40102, "Access token is expired."),
    "rate_limit": lambda: tiktok(
        40100, "Requests from this app are temporarily restricted. Please retry later."
    ),
}
_TIKTOK_SHOP = {
    "429": lambda: tiktok(36009002, "Too many requests.", status=429),
    "500": lambda: tiktok(36009003, "Internal error. Please try again later.", status=500),
    "expired_token": lambda: tiktok(
        105002, "Expired credentials. The x-tts-access-token has expired."
    ),
    "rate_limit": lambda: tiktok(36009002, "Too many requests.", status=429),
}
_TIKTOK_CONTENT = {
    "429": lambda: content_error("rate_limit_exceeded", "API rate limit was exceeded.", status=429),
    "500": lambda: content_error("internal_error", "Something went wrong.", status=500),
    "expired_token": lambda: content_error(
        "access_token_invalid", "The access token is invalid or not found.", status=401
    ),
    "rate_limit": lambda: content_error(
        "rate_limit_exceeded", "API rate limit was exceeded.", status=429
    ),
}
_META = {
    "429": lambda: graph_error(
        "(#4) Application request limit reached", code=4, status=429, transient=True
    ),
    "500": lambda: graph_error(
        "An unexpected error has occurred. Please retry your request later.",
        code=2,
        status=500,
        transient=True,
    ),
    "expired_token": lambda: graph_error(
        "Error validating access token: Session has expired.", code=190, subcode=463
    ),
    "rate_limit": lambda: graph_error(
        "(#4) Application request limit reached", code=4, transient=True
    ),
}
FAULT_ANSWERS: dict[str, dict[str, Callable[[], HttpResponse]]] = {
    "tiktok_ads": _TIKTOK_ADS,
    "tiktok_shop": _TIKTOK_SHOP,
    "tiktok_content": _TIKTOK_CONTENT,
    "meta": _META,
}


def fault_answer(fault: Fault) -> HttpResponse:
    """The provider's answer to a non-timeout fault, with ``Retry-After`` when asked."""
    response = FAULT_ANSWERS[fault.provider][fault.kind]()
    if fault.retry_after is not None:
        response["Retry-After"] = str(fault.retry_after)
    return response


def gateway_timeout(fault: Fault) -> HttpResponse:
    response = HttpResponse("Gateway Timeout", status=504, content_type="text/plain")
    if fault.retry_after is not None:
        response["Retry-After"] = str(fault.retry_after)
    return response
