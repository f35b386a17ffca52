"""TikTok Content (Login Kit v2): connect, refresh, test and disconnect.

The core (``apps.integrations.services``) owns the flow; this adapter owns
Login Kit's quirks: comma-separated scopes, lifetimes in seconds, rotating
refresh tokens and the hex PKCE challenge.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.integrations.adapters import AuthorizationDenied, ProviderAdapter, TokenGrant
from apps.integrations.fields import Secret
from apps.integrations.http import ProviderError, TokenExpired
from apps.integrations.models import Connection

from .client import TikTokContentClient

logger = logging.getLogger(__name__)

PROFILE_SCOPE = "user.info.profile"
#: user.info.basic fields, always granted with Login Kit
BASIC_FIELDS = ["open_id", "union_id", "avatar_url", "display_name"]
#: user.info.profile fields the hub shows (``username`` moved here from basic in 2024)
PROFILE_FIELDS = ["username"]


def _plain(value: Secret | str | None) -> str | None:
    """The plaintext of a token field (a :class:`Secret`; a bare str is taken as is)."""
    if isinstance(value, Secret):
        return value.reveal() or None
    return value or None


def client_for(connection: Connection) -> TikTokContentClient:
    """A client holding the connection's token that refreshes it once when TikTok refuses it."""
    from apps.integrations.services import connection_token_refresher

    return TikTokContentClient(
        tenant=connection.tenant,
        access_token=_plain(connection.access_token),
        token_refresher=connection_token_refresher(connection),
    )


def _expires_at(now: datetime, seconds: Any) -> datetime | None:
    """``now + seconds``; Login Kit lifetimes changed in 2026, so they are always read, never assumed."""
    if seconds in (None, ""):
        return None
    return now + timedelta(seconds=int(seconds))


def _scopes(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(scope).strip() for scope in value if str(scope).strip()]
    return [scope.strip() for scope in str(value or "").split(",") if scope.strip()]


def _user_fields(granted_scopes: list[str]) -> list[str]:
    """Only fields whose scope was granted: another field fails the whole call."""
    fields = list(BASIC_FIELDS)
    if PROFILE_SCOPE in granted_scopes:
        fields.extend(PROFILE_FIELDS)
    return fields


def _grant_from_token(answer: Mapping[str, Any]) -> TokenGrant:
    if not answer.get("access_token"):
        raise ProviderError(
            "TikTok answered the token call without an access token",
            request_id=str(answer.get("log_id") or ""),
        )
    now = timezone.now()
    return TokenGrant(
        access_token=str(answer["access_token"]),
        refresh_token=str(answer["refresh_token"]) if answer.get("refresh_token") else None,
        access_expires_at=_expires_at(now, answer.get("expires_in")),
        refresh_expires_at=_expires_at(now, answer.get("refresh_expires_in")),
        granted_scopes=_scopes(answer.get("scope")),
        external_user_id=str(answer.get("open_id") or ""),
    )


def _summary(user: Mapping[str, Any]) -> str:
    if user.get("username"):
        return f"@{user['username']}"
    return str(user.get("display_name") or user.get("open_id") or "")


class TikTokContentAdapter(ProviderAdapter):
    """Login Kit v2 for the web flow.

    PKCE is documented for desktop and mobile apps only (contract §4.1), so the
    web flow leaves ``uses_pkce`` off; :meth:`pkce_challenge` already speaks
    TikTok's hex encoding, so turning it on is this one attribute.
    """

    provider_key = "tiktok_content"
    uses_pkce = False
    refreshable = True

    def pkce_challenge(self, verifier: str) -> str:
        """Hex SHA-256 of the verifier: TikTok's quirk, not RFC 7636's base64url."""
        return hashlib.sha256(verifier.encode()).hexdigest()

    def authorization_url(
        self,
        *,
        state: str,
        scopes: list[str],
        redirect_uri: str,
        code_challenge: str | None,
        rerequest: bool,
    ) -> str:
        """``https://www.tiktok.com/v2/auth/authorize/?...``.

        ``rerequest`` needs nothing here: Login Kit shows every requested scope
        again, so reconnecting with more packs is incremental consent already.
        """
        params = {
            "client_key": settings.TIKTOK_CONTENT_CLIENT_KEY,
            "response_type": "code",
            "scope": ",".join(scopes),
            "redirect_uri": redirect_uri,
            "state": state,
        }
        if code_challenge:
            params["code_challenge"] = code_challenge
            params["code_challenge_method"] = "S256"
        return f"{settings.TIKTOK_CONTENT_AUTHORIZE_URL}/?{urlencode(params, safe=',')}"

    def exchange_code(
        self, *, params: Mapping[str, str], redirect_uri: str, code_verifier: str | None
    ) -> TokenGrant:
        if params.get("error"):
            raise AuthorizationDenied(params.get("error_description") or params["error"])
        code = params.get("code")
        if not code:
            raise AuthorizationDenied(_("TikTok sent no authorization code."))
        answer = TikTokContentClient().token_from_code(
            code=code, redirect_uri=redirect_uri, code_verifier=code_verifier
        )
        grant = _grant_from_token(answer)
        user = self._profile(grant)
        if user:
            grant.display_name = str(user.get("display_name") or user.get("username") or "")
            grant.assets = {
                "avatar_url": str(user.get("avatar_url") or ""),
                "username": str(user.get("username") or ""),
            }
        return grant

    def _profile(self, grant: TokenGrant) -> dict:
        """The creator's profile for the card.

        The code is spent by now, so a failure here must not lose the tokens:
        it is logged and the card shows the open id until the next test.
        """
        client = TikTokContentClient(access_token=grant.access_token)
        try:
            return client.user_info(fields=_user_fields(grant.granted_scopes))
        except ProviderError as exc:
            logger.warning(
                "tiktok_content user info failed after code exchange code=%s request_id=%s",
                exc.code,
                exc.request_id,
            )
            return {}

    def refresh(self, *, connection: Connection) -> TokenGrant:
        """Spend the refresh token; the grant carries its replacement (the old one is dead now).

        ``invalid_grant`` surfaces as :class:`TokenExpired`: reconnect.
        """
        refresh_token = _plain(connection.refresh_token)
        if not refresh_token:
            raise TokenExpired(
                _("There is no refresh token: reconnect TikTok."), code="invalid_grant"
            )
        answer = TikTokContentClient(tenant=connection.tenant).token_refresh(
            refresh_token=refresh_token
        )
        return _grant_from_token(answer)

    def revoke(self, *, connection: Connection) -> None:
        token = _plain(connection.access_token)
        if token:
            TikTokContentClient(tenant=connection.tenant).revoke(token=token)

    def test(self, *, connection: Connection) -> str:
        user = client_for(connection).user_info(
            fields=_user_fields(list(connection.granted_scopes or []))
        )
        return _summary(user)
