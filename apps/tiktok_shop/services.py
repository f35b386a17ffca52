"""TikTok Shop: connect, refresh, test and list the shops a seller authorized.

Quirks this adapter absorbs (contract §3.1, §3.2):

- the authorization link takes the app's ``service_id`` and ``state`` only:
  the redirect URL is fixed in Partner Center and the scopes are the API
  packages enabled on the app, echoed back in ``granted_scopes``;
- a refusal comes back as ``code=null&error=auth_denied``;
- ``access_token_expire_in`` and ``refresh_token_expire_in`` are absolute Unix
  timestamps despite their names (access ~7 days, refresh = the seller's
  authorization window, up to year 2125 in real answers);
- there is no revoke call: the seller removes the app in Seller Center, and
  TikTok pushes webhook type 6 (seller deauthorization).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from apps.integrations.adapters import AuthorizationDenied, ProviderAdapter, TokenGrant
from apps.integrations.fields import Secret
from apps.integrations.http import TokenExpired
from apps.integrations.models import Connection

from .client import TikTokShopClient

logger = logging.getLogger(__name__)

#: What the callback's ``code`` holds when the seller refused.
DENIED_CODE = "null"
#: Fields kept for each shop the authorization covers (``cipher`` is needed on every shop call).
SHOP_FIELDS = ("id", "name", "region", "seller_type", "cipher", "code")


def _plain(value: Secret | None) -> str | None:
    """The plaintext of a token field (the field hands out Secret objects), None when empty."""
    return (value.reveal() or None) if value else None


def _token_refresher(connection: Connection) -> Callable[[], str]:
    # Imported here: the core's services import the registry, which imports adapters lazily.
    from apps.integrations.services import connection_token_refresher

    return connection_token_refresher(connection)


def client_for(connection: Connection) -> TikTokShopClient:
    """A client holding the connection's token, refreshed once by the core when TikTok says 105002."""
    return TikTokShopClient(
        base_url=settings.TIKTOK_SHOP_API_BASE,
        tenant=connection.tenant,
        access_token=_plain(connection.access_token),
        token_refresher=_token_refresher(connection),
    )


def _auth_client() -> TikTokShopClient:
    """A client for the auth host: no tenant, no token, no refresher."""
    return TikTokShopClient(base_url=settings.TIKTOK_SHOP_API_BASE)


def _from_unix(value: Any) -> datetime | None:
    """An absolute Unix timestamp (seconds) as an aware UTC datetime; 0 or missing is None."""
    try:
        seconds = int(value or 0)
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(seconds, tz=UTC) if seconds > 0 else None


def token_grant_from(data: Mapping[str, Any]) -> TokenGrant:
    """Parse ``data`` of ``/api/v2/token/get`` or ``/api/v2/token/refresh``.

    The expiries are used as they are; adding them to "now" would put the
    access token's end in year 2082.
    """
    assets: dict[str, Any] = {}
    if "seller_base_region" in data:
        assets["seller_base_region"] = data.get("seller_base_region") or ""
    if "user_type" in data:
        assets["user_type"] = data.get("user_type")
    return TokenGrant(
        access_token=str(data["access_token"]),
        refresh_token=str(data.get("refresh_token") or "") or None,
        access_expires_at=_from_unix(data.get("access_token_expire_in")),
        refresh_expires_at=_from_unix(data.get("refresh_token_expire_in")),
        granted_scopes=[str(scope) for scope in data.get("granted_scopes") or []],
        external_user_id=str(data.get("open_id") or ""),
        display_name=str(data.get("seller_name") or ""),
        assets=assets or None,
    )


def _shop(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {field: raw.get(field, "") for field in SHOP_FIELDS}


class TikTokShopAdapter(ProviderAdapter):
    """TikTok Shop Partner API (202309), one seller authorization per tenant."""

    provider_key = "tiktok_shop"
    uses_pkce = False
    refreshable = True

    def authorization_url(
        self,
        *,
        state: str,
        scopes: list[str],
        redirect_uri: str,
        code_challenge: str | None,
        rerequest: bool,
    ) -> str:
        """``TIKTOK_SHOP_AUTHORIZE_URL?service_id=..&state=..``.

        ``scopes`` and ``redirect_uri`` are ignored: TikTok Shop takes neither
        (both are fixed on the app in Partner Center). A link pasted from
        Partner Center that already carries ``service_id`` keeps its own.
        """
        parts = urlsplit(settings.TIKTOK_SHOP_AUTHORIZE_URL)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        query.setdefault("service_id", settings.TIKTOK_SHOP_SERVICE_ID)
        query["state"] = state.strip()
        return urlunsplit(parts._replace(query=urlencode(query)))

    def exchange_code(
        self, *, params: Mapping[str, str], redirect_uri: str, code_verifier: str | None
    ) -> TokenGrant:
        """Refusals (``error=auth_denied``, ``code=null``, no code) raise AuthorizationDenied."""
        code = (params.get("code") or "").strip()
        error = (params.get("error") or "").strip()
        if error or not code or code == DENIED_CODE:
            reason = params.get("error_description") or error or _("no authorization code")
            raise AuthorizationDenied(
                _("The TikTok Shop authorization was not granted (%(reason)s).")
                % {"reason": reason}
            )
        return token_grant_from(_auth_client().token_get(auth_code=code))

    def refresh(self, *, connection: Connection) -> TokenGrant:
        """Spend the refresh token; keep both tokens and both expiries from the answer.

        A refused refresh raises :class:`TokenExpired` (from the client), so
        the core marks the connection expired and asks for a reconnect.
        """
        refresh_token = _plain(connection.refresh_token)
        if not refresh_token:
            raise TokenExpired(_("This TikTok Shop connection has no refresh token."))
        return token_grant_from(_auth_client().token_refresh(refresh_token=refresh_token))

    def revoke(self, *, connection: Connection) -> None:
        """Nothing to call: TikTok Shop has no revoke API (contract §3.1).

        The seller removes the app in Seller Center (App Store, My apps), which
        TikTok reports with webhook type 6. Disconnecting here wipes our copy
        of the tokens; the authorization itself lives on until the seller
        removes it or it expires.
        """
        logger.info(
            "tiktok_shop has no revoke API; connection=%s tokens are wiped locally", connection.pk
        )

    def test(self, *, connection: Connection) -> str:
        """One signed call that needs only the base scope: the authorized shops."""
        count = len(client_for(connection).authorized_shops())
        return ngettext("%(count)d shop authorized", "%(count)d shops authorized", count) % {
            "count": count
        }

    def discover_assets(self, *, connection: Connection) -> dict | None:
        """``{"shops": [{id, name, region, seller_type, cipher, code}, ...]}``."""
        shops = client_for(connection).authorized_shops()
        return {"shops": [_shop(shop) for shop in shops]}
