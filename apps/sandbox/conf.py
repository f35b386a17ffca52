"""The sandbox's own knobs, read from Django settings at call time.

Nothing here is in ``config/settings.py``: every knob has a default chosen so a
bare checkout exercises refresh paths quickly, and tests override them with
``settings`` fixtures. Reading at call time (never at import) keeps overrides
effective.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

DAY = 24 * 60 * 60

#: Authorization codes: single use, and valid this long (seconds), per provider.
#: Ads 1 h and Shop 30 min come from the contracts; Login Kit and Meta say
#: "short", so 10 minutes.
CODE_TTL_SECONDS = {
    "tiktok_ads": 60 * 60,
    "tiktok_shop": 30 * 60,
    "tiktok_content": 10 * 60,
    "meta": 10 * 60,
}

#: Login Kit scopes the sandbox app is approved for.
CONTENT_SCOPES = (
    "user.info.basic",
    "user.info.profile",
    "user.info.stats",
    "video.list",
    "video.upload",
    "video.publish",
)
#: The scope TikTok never lets the user untick.
CONTENT_REQUIRED_SCOPE = "user.info.basic"

#: Marketing API permission ids the sandbox developer app was given (contract §2.6):
#: ad account management, ads management, audiences, reporting, measurement,
#: creatives, pixels, leads, and "Report Conversion Event".
ADS_PERMISSION_IDS = (1, 2, 3, 4, 5, 6, 8, 12000000, 7224195155857866754)

#: Shop API packages the sandbox Partner Center app has enabled (contract §3.7).
SHOP_GRANTED_SCOPES = (
    "seller.authorization.info",
    "seller.shop.info",
    "seller.order.info",
    "seller.product.basic",
    "seller.product.write",
    "seller.fulfillment.basic",
    "seller.logistics",
    "seller.return_refund.basic",
    "seller.customer_service",
    "seller.finance.info",
)

#: What a Login for Business ``config_id`` without ``scope`` asks for.
META_CONFIG_PERMISSIONS = ("ads_read", "business_management")


def _get(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def token_ttl() -> int:
    """Login Kit access tokens and Meta short-lived tokens (seconds)."""
    return int(_get("SANDBOX_TOKEN_TTL_SECONDS", 600))


def content_refresh_ttl() -> int:
    return int(_get("SANDBOX_CONTENT_REFRESH_TTL_SECONDS", 30 * DAY))


def shop_access_ttl() -> int:
    return int(_get("SANDBOX_SHOP_ACCESS_TTL_SECONDS", 900))


def shop_refresh_ttl() -> int:
    return int(_get("SANDBOX_SHOP_REFRESH_TTL_SECONDS", 30 * DAY))


def meta_long_lived_ttl() -> int:
    """Meta's long-lived tokens last ~60 days; the sandbox keeps them short."""
    return int(_get("SANDBOX_META_LONG_LIVED_TTL_SECONDS", 3600))


def timeout_seconds() -> float:
    """How long a ``timeout`` fault holds a real HTTP request before answering 504."""
    return float(_get("SANDBOX_TIMEOUT_SECONDS", 35))


def shop_granted_scopes() -> list[str]:
    return list(_get("SANDBOX_TIKTOK_SHOP_GRANTED_SCOPES", SHOP_GRANTED_SCOPES))


def redirect_uri_prefixes() -> list[str]:
    """Where consent screens may send the browser (the hub by default).

    Real providers only redirect to URIs registered on the app; the sandbox
    mirrors that so it cannot be used as an open redirect.
    """
    default = [f"{settings.PUBLIC_BASE_URL}/"]
    return [_with_slash(p) for p in _get("SANDBOX_REDIRECT_URI_PREFIXES", default)]


def shop_redirect_url() -> str:
    """TikTok Shop's redirect URL is fixed in Partner Center, never sent by the app."""
    return f"{settings.PUBLIC_BASE_URL}/integrations/tiktok/callback/"


def _with_slash(prefix: str) -> str:
    return prefix if prefix.endswith("/") else f"{prefix}/"
