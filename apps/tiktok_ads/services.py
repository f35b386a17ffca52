"""TikTok Ads (Marketing API): connect, test, discover advertisers, disconnect.

The core (``apps.integrations.services``) owns the flow; this adapter owns the
Marketing API's quirks (contract tiktok-ads.md §0.3, §2.1, §2.6):

- permissions are numeric ids fixed on the developer app, so the
  authorization URL carries no scopes, and the token answer lists the granted
  ids as integers (stored as strings);
- advertiser tokens never expire and have no refresh token
  (``refreshable = False``; a refused token means reconnect);
- the callback carries ``auth_code``, not ``code``. A refusal sends the
  browser back with ``state`` only, so a missing ``auth_code`` is a refusal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from apps.integrations.adapters import AuthorizationDenied, ProviderAdapter, TokenGrant
from apps.integrations.http import ProviderError, TokenExpired
from apps.integrations.models import Connection
from apps.integrations.upsert import UpsertResult, bulk_upsert

from .client import TikTokAdsClient
from .models import TikTokAdsConnection, TikTokPixel


def client_for(connection: Connection | None = None) -> TikTokAdsClient:
    """A client for the connection's token (or for the app alone, without one).

    No token refresher: advertiser tokens cannot be refreshed, so a refused
    token surfaces as TokenExpired and the card asks for a reconnect. The sync
    kinds (``sync.py``) get their client here too.
    """
    if connection is None:
        return TikTokAdsClient()
    token = connection.access_token.reveal() if connection.access_token else None
    return TikTokAdsClient(tenant=connection.tenant, access_token=token)


def _advertiser_summary(row: Mapping[str, Any]) -> dict[str, str]:
    return {
        "id": str(row.get("advertiser_id") or ""),
        "name": str(row.get("name") or row.get("advertiser_name") or ""),
        "currency": str(row.get("currency") or ""),
        "timezone": str(row.get("timezone") or row.get("display_timezone") or ""),
        "status": str(row.get("status") or ""),
    }


class TikTokAdsAdapter(ProviderAdapter):
    provider_key = "tiktok_ads"
    uses_pkce = False
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
        """``.../portal/auth?app_id&state&redirect_uri``.

        ``scopes`` and ``rerequest`` are ignored: Ads permissions are ticked
        on the developer app, never requested per authorization.
        """
        params = {"app_id": settings.TIKTOK_APP_ID, "state": state, "redirect_uri": redirect_uri}
        return f"{settings.TIKTOK_ADS_AUTH_URL}?{urlencode(params)}"

    def exchange_code(
        self, *, params: Mapping[str, str], redirect_uri: str, code_verifier: str | None
    ) -> TokenGrant:
        if params.get("error"):
            raise AuthorizationDenied(params.get("error_description") or params["error"])
        auth_code = params.get("auth_code")
        if not auth_code:
            raise AuthorizationDenied(
                _("TikTok returned no authorization: the advertiser declined.")
            )
        with client_for() as client:
            data = client.exchange_auth_code(auth_code=auth_code)
        if not data.get("access_token"):
            raise ProviderError(_("TikTok answered the token call without an access token."))
        advertiser_ids = [str(advertiser_id) for advertiser_id in data.get("advertiser_ids") or []]
        return TokenGrant(
            access_token=str(data["access_token"]),
            refresh_token=None,
            access_expires_at=None,
            refresh_expires_at=None,
            granted_scopes=[str(permission) for permission in data.get("scope") or []],
            external_user_id=advertiser_ids[0] if advertiser_ids else "",
            assets={"advertiser_ids": advertiser_ids},
        )

    def revoke(self, *, connection: Connection) -> None:
        """Revoke the token; one TikTok already refuses is as good as revoked."""
        if not connection.access_token:
            return
        with client_for() as client:
            try:
                client.revoke_token(access_token=connection.access_token.reveal())
            except TokenExpired:
                return

    def test(self, *, connection: Connection) -> str:
        with client_for(connection) as client:
            count = len(client.advertisers())
        return ngettext(
            "%(count)d advertiser reachable", "%(count)d advertisers reachable", count
        ) % {"count": count}

    def discover_assets(self, *, connection: Connection) -> dict | None:
        """``{"advertisers": [{id, name, currency, timezone, status}], "advertiser_ids": [...]}``.

        The ids come from ``oauth2/advertiser/get/`` (what the token reaches
        now, which changes when the advertiser adds or removes accounts), the
        details from ``advertiser/info/``. The advertisers are stored as
        :class:`~.models.TikTokAdvertiser` rows too, so the tenant admin can
        pick the active ones before the first sync.
        """
        with client_for(connection) as client:
            reachable = client.advertisers()
            ids = [str(row["advertiser_id"]) for row in reachable if row.get("advertiser_id")]
            details = {
                str(row.get("advertiser_id")): row
                for row in (client.advertiser_info(advertiser_ids=ids) if ids else [])
            }
        merged = [
            {**row, **details.get(str(row.get("advertiser_id")), {})}
            for row in reachable
            if row.get("advertiser_id")
        ]
        advertisers_store(connection=connection, items=merged)
        return {
            "advertisers": [_advertiser_summary(row) for row in merged],
            "advertiser_ids": ids,
        }


def advertisers_store(*, connection: Connection, items: list[dict]) -> UpsertResult:
    """Upsert advertisers (``advertiser/info/`` records) as the ``advertisers`` sync kind does.

    The tenant admin's ``is_active`` choice is never overwritten: the rows do
    not carry it, so new advertisers start active and known ones keep theirs.
    """
    from .sync import ADVERTISERS, advertiser_rows

    converted = advertiser_rows(connection=connection, items=items, synced_at=timezone.now())
    return bulk_upsert(
        model=ADVERTISERS.target_model(),
        rows=converted.rows,
        unique_fields=ADVERTISERS.unique_fields,
    )


class TikTokConversions:
    """What capi asks TikTok Ads about conversions (registered in ``TikTokAdsConfig.ready()``).

    The destination is the tenant's one conversion pixel, chosen on the card
    (its ``pixel_code`` is the Events API's ``event_source_id``); the token is
    the connection's Marketing API token, whose app holds permission
    7224195155857866754 "Report Conversion Event" (contract §5).
    """

    def _pixel(self, tenant) -> TikTokPixel | None:
        return (
            TikTokPixel.objects.for_tenant(tenant)
            .filter(is_conversion_pixel=True)
            .exclude(pixel_code="")
            .first()
        )

    def _target(self, pixel: TikTokPixel):
        from apps.capi.registry import Target

        return Target(external_id=pixel.pixel_code, kind="pixel", label=str(pixel))

    def target_for(self, *, facts, mapping):
        pixel = self._pixel(facts.tenant)
        return self._target(pixel) if pixel is not None else None

    def targets(self, *, tenant, mapping) -> list:
        pixel = self._pixel(tenant)
        return [self._target(pixel)] if pixel is not None else []

    def access_token(self, *, tenant, destination) -> str | None:
        connection = TikTokAdsConnection.objects.for_tenant(tenant).live().first()
        if connection is None or not connection.access_token:
            return None
        return connection.access_token.reveal() or None
