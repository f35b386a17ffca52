"""Meta (Facebook Login): connect, test and disconnect Facebook profiles.

A tenant may connect several profiles; the core keys them on the Facebook
user id (``external_user_id``). Long-lived user tokens (~60 days) cannot be
refreshed without the user (contract §1.5): the core turns the card to
``expiring`` ahead of ``access_expires_at`` and the user logs in again.
Login for Business system-user tokens do not expire at all.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.integrations.adapters import AuthorizationDenied, ProviderAdapter, TokenGrant
from apps.integrations.fields import Secret
from apps.integrations.http import ProviderError, TokenExpired
from apps.integrations.models import Connection

from .client import MetaClient

logger = logging.getLogger(__name__)

GRANTED = "granted"


def _plain(value: Secret | str | None) -> str | None:
    """The plaintext of a token field (a :class:`Secret`; a bare str is taken as is)."""
    if isinstance(value, Secret):
        return value.reveal() or None
    return value or None


def _client_for(connection: Connection) -> MetaClient:
    """A client with the profile's token. No refresher: Meta tokens cannot be refreshed."""
    return MetaClient(tenant=connection.tenant, access_token=_plain(connection.access_token))


def _expires_in(answer: Mapping[str, Any]) -> int | None:
    value = answer.get("expires_in")
    if value in (None, ""):
        return None
    return int(value)


def _from_unix(value: Any) -> datetime | None:
    """debug_token's ``expires_at``: a Unix time, 0 meaning "never"."""
    try:
        seconds = int(value or 0)
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(seconds, tz=UTC) if seconds > 0 else None


class MetaAdapter(ProviderAdapter):
    """Facebook Login (classic scopes, or Login for Business with a configuration id)."""

    provider_key = "meta_ads"
    uses_pkce = False
    #: long-lived user tokens are renewed by logging in again, not by a refresh call
    refreshable = False

    def authorization_url(
        self,
        *,
        state: str,
        scopes: list[str],
        redirect_uri: str,
        code_challenge: str | None,
        rerequest: bool,
    ) -> str:
        """The login dialog (contract §1.2).

        With ``META_LOGIN_CONFIG_ID`` set, the Login for Business configuration
        decides the permissions and ``config_id`` replaces ``scope``.
        ``rerequest`` asks again for permissions the user declined before;
        without it the dialog silently skips them.
        """
        params = {
            "client_id": settings.META_APP_ID,
            "redirect_uri": redirect_uri,
            "state": state,
            "response_type": "code",
        }
        if settings.META_LOGIN_CONFIG_ID:
            params["config_id"] = settings.META_LOGIN_CONFIG_ID
        else:
            params["scope"] = ",".join(scopes)
        if rerequest:
            params["auth_type"] = "rerequest"
        params["return_scopes"] = "true"
        return f"{settings.META_DIALOG_URL}?{urlencode(params, safe=',')}"

    def exchange_code(
        self, *, params: Mapping[str, str], redirect_uri: str, code_verifier: str | None
    ) -> TokenGrant:
        """Code -> short-lived -> long-lived token, then who it is and what it may do.

        A code-exchange answer without ``expires_in`` is a token that does not
        expire (Login for Business system user): it needs no long-lived
        exchange. A long-lived answer without ``expires_in`` (it happens,
        contract §1.4) is settled with ``/debug_token``.
        """
        if params.get("error"):
            raise AuthorizationDenied(
                params.get("error_description") or params.get("error_reason") or params["error"]
            )
        code = params.get("code")
        if not code:
            raise AuthorizationDenied(_("Facebook sent no authorization code."))
        app = MetaClient()
        short = app.exchange_code(code=code, redirect_uri=redirect_uri)
        answer = short
        if _expires_in(short) is not None:
            answer = app.exchange_long_lived(short_lived_token=str(short["access_token"]))
        token = str(answer["access_token"])
        expires_in = _expires_in(answer)
        if expires_in is not None:
            expires_at = timezone.now() + timedelta(seconds=expires_in)
        elif answer is short:
            expires_at = None
        else:
            expires_at = self._expiry_from_debug(app, token)

        user = MetaClient(access_token=token)
        me = user.me()
        permissions = user.permissions()
        granted = [p["permission"] for p in permissions if p.get("status") == GRANTED]
        # "declined" by the user, or "expired": either way the dialog must ask again.
        declined = [p["permission"] for p in permissions if p.get("status") != GRANTED]
        return TokenGrant(
            access_token=token,
            refresh_token=None,
            access_expires_at=expires_at,
            granted_scopes=granted,
            external_user_id=str(me["id"]),
            display_name=str(me.get("name") or ""),
            assets={"declined": declined},
        )

    def _expiry_from_debug(self, app: MetaClient, token: str) -> datetime | None:
        try:
            return _from_unix(app.debug_token(input_token=token).get("expires_at"))
        except ProviderError as exc:
            logger.warning(
                "meta debug_token failed after code exchange code=%s request_id=%s",
                exc.code,
                exc.request_id,
            )
            return None

    def revoke(self, *, connection: Connection) -> None:
        """``DELETE /me/permissions``: removes the app from the profile and kills the token."""
        _client_for(connection).revoke_permissions()

    def test(self, *, connection: Connection) -> str:
        """Inspect the token with ``/debug_token`` (Meta asks apps to check daily).

        A token that is invalid, or minted for another app, raises
        :class:`TokenExpired`: the profile needs a reconnect.
        """
        token = _plain(connection.access_token)
        if not token:
            raise TokenExpired(_("There is no Facebook token: reconnect the profile."), code="190")
        data = MetaClient(tenant=connection.tenant).debug_token(input_token=token)
        if not data.get("is_valid"):
            error = data.get("error") or {}
            code = str(error.get("code") or "190")
            if error.get("subcode"):
                code = f"{code}/{error['subcode']}"
            raise TokenExpired(
                str(error.get("message") or _("The Facebook token is no longer valid.")),
                code=code,
            )
        if str(data.get("app_id") or "") != str(settings.META_APP_ID):
            raise TokenExpired(_("The Facebook token was issued to another app."), code="app_id")
        expires_at = _from_unix(data.get("expires_at"))
        if expires_at is None:
            return _("token valid, does not expire")
        return _("token valid until %(date)s") % {"date": expires_at.date().isoformat()}
