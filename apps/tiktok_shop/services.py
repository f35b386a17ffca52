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

import hashlib
import logging
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from apps.integrations import scopes
from apps.integrations import services as core_services
from apps.integrations.adapters import AuthorizationDenied, ProviderAdapter, TokenGrant
from apps.integrations.fields import Secret
from apps.integrations.http import TokenExpired
from apps.integrations.models import Connection, ConnectionStatus, SyncRun
from apps.integrations.registry import providers
from apps.integrations.scheduling import sync_enqueue_all
from apps.integrations.upsert import bulk_upsert
from apps.tenants.models import Membership, Tenant

from .client import TikTokShopClient
from .models import Order, OrderStatusChange, PendingShopAuthorization, Shop
from .orders import orders_store

PROVIDER_KEY = "tiktok_shop"

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
        """``{"shops": [{id, name, region, seller_type, cipher, code}, ...]}``.

        The shops are also stored as :class:`~.models.Shop` rows at once, so
        the card lists them and the first orders sync has them.
        """
        shops = client_for(connection).authorized_shops()
        shops_store(connection=connection, shops=shops)
        return {"shops": [_shop(shop) for shop in shops]}


# --- shops ---------------------------------------------------------------------------------


def shops_store(*, connection: Connection, shops: list[Mapping[str, Any]]) -> list[Shop]:
    """Upsert the shops an authorization lists; the tenant's others are marked unauthorized.

    One authorization may cover several shops (cross-border sellers). A shop
    that drops out of the list keeps its row and its orders, with
    ``authorized=False``, and is no longer synced. Three queries.
    """
    rows = [
        {
            "tenant_id": connection.tenant_id,
            "connection_id": connection.pk,
            "shop_id": str(shop.get("id") or ""),
            "name": str(shop.get("name") or "")[:255],
            "region": str(shop.get("region") or "")[:8],
            "seller_type": str(shop.get("seller_type") or "")[:32],
            "cipher": str(shop.get("cipher") or "")[:255],
            "authorized": True,
        }
        for shop in shops
        if shop.get("id") and shop.get("cipher")
    ]
    ids = [row["shop_id"] for row in rows]
    with transaction.atomic():
        bulk_upsert(model=Shop, rows=rows, unique_fields=("tenant", "shop_id"))
        Shop.objects.for_tenant(connection.tenant).exclude(shop_id__in=ids).filter(
            authorized=True
        ).update(authorized=False)
    return list(Shop.objects.for_tenant(connection.tenant).filter(shop_id__in=ids))


def shops_refresh(*, connection: Connection) -> list[Shop]:
    """Ask TikTok which shops the authorization covers now and store them (one call)."""
    with client_for(connection) as client:
        shops = client.authorized_shops()
    return shops_store(connection=connection, shops=shops)


def shops_authorized(*, connection: Connection) -> list[Shop]:
    """The connection's shops the sync walks, in ``shop_id`` order."""
    return list(
        Shop.objects.filter(connection_id=connection.pk, authorized=True).order_by("shop_id")
    )


# --- orders -------------------------------------------------------------------------------


def order_refresh(
    *, shop: Shop, order_id: str, source: str = OrderStatusChange.Source.WEBHOOK
) -> Order | None:
    """Fetch one order again (one API call) and upsert it with its lines and history.

    What an order webhook does: the push only says that something changed, the
    order object says what. None when TikTok no longer returns the order.
    """
    if order_id not in orders_refresh(shop=shop, order_ids=[order_id], source=source):
        logger.warning("tiktok_shop order %s of shop %s not returned", order_id, shop.shop_id)
        return None
    return Order.objects.filter(shop=shop, order_id=order_id).first()


def orders_refresh(
    *, shop: Shop, order_ids: list[str], source: str = OrderStatusChange.Source.WEBHOOK
) -> set[str]:
    """Fetch up to 50 orders again in one API call and upsert them with their lines and
    history; the ids TikTok returned (an order it no longer returns is left as stored)."""
    connection = shop.connection
    with client_for(connection) as client:
        found = client.orders_get(shop_cipher=shop.cipher, order_ids=order_ids)
    if found:
        orders_store(connection=connection, shop=shop, items=found, source=source)
    return {str(order.get("id") or "") for order in found}


def order_reverse_event_record(
    *, shop: Shop, kind: str, data: Mapping[str, Any], changed_at: datetime | None
) -> OrderStatusChange | None:
    """Note a return or cancellation event on the order's history (returns are issue #6).

    An order not synced yet is fetched first. Recording the same event twice
    is a no-op (unique on order, kind, status and time).
    """
    order_id = str(data.get("order_id") or "")
    status = str(data.get("return_status") or data.get("cancel_status") or "")
    if not order_id or not status:
        logger.warning("tiktok_shop %s event without order id or status: ignored", kind)
        return None
    order = Order.objects.filter(shop=shop, order_id=order_id).first()
    if order is None:
        order = order_refresh(shop=shop, order_id=order_id)
    if order is None:
        return None
    detail_keys = ("return_id", "return_type", "return_role", "cancel_id", "cancellations_role")
    change = OrderStatusChange(
        tenant_id=order.tenant_id,
        order=order,
        kind=kind,
        to_status=status[:64],
        changed_at=changed_at or timezone.now(),
        source=OrderStatusChange.Source.WEBHOOK,
        detail={key: str(data[key]) for key in detail_keys if data.get(key) not in (None, "")},
    )
    OrderStatusChange.objects.bulk_create([change], ignore_conflicts=True)
    return change


# --- the seller's authorization -----------------------------------------------------------


def connection_deauthorized(*, connection: Connection) -> Connection:
    """The seller removed the app (webhook type 6): disconnect, keep the data, say why."""
    if not connection.is_live:
        return connection
    core_services.connection_disconnect(connection=connection)
    connection.last_error = _("The seller removed the app in TikTok Shop Seller Center.")
    connection.save(update_fields=["last_error", "updated_at"])
    return connection


def connection_authorization_expiring(
    *, connection: Connection, expires_at: datetime | None
) -> Connection:
    """TikTok says the authorization ends soon (webhook type 7): card ``expiring`` with the date.

    The date is kept in ``assets["authorization_expires_at"]`` and, when it
    is earlier, as the refresh token's end: past it nothing can be refreshed.
    """
    if not connection.is_live:
        return connection
    if expires_at is not None:
        connection.assets = {
            **(connection.assets or {}),
            "authorization_expires_at": expires_at.isoformat(),
        }
        if connection.refresh_expires_at is None or expires_at < connection.refresh_expires_at:
            connection.refresh_expires_at = expires_at
    if connection.status == ConnectionStatus.CONNECTED:
        connection.status = ConnectionStatus.EXPIRING
    connection.save(update_fields=["assets", "refresh_expires_at", "status", "updated_at"])
    return connection


# --- authorizations from the Seller Center App Store ----------------------------------------

#: How long a held App Store code waits for the admin's choice (TikTok's code lives 30 min).
PENDING_TTL = timedelta(minutes=10)


class AppStoreError(Exception):
    """A held App Store authorization that cannot be completed; the message is for people."""


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def app_store_authorization_hold(*, user: AbstractBaseUser, code: str) -> str:
    """Keep the code of a stateless callback for ``user``; return the confirmation token.

    Nothing is exchanged and nothing is saved on a tenant until the user picks
    one they administer (:func:`app_store_authorization_complete`).
    """
    PendingShopAuthorization.objects.filter(expires_at__lt=timezone.now()).delete()
    raw = secrets.token_urlsafe(32)
    PendingShopAuthorization.objects.create(
        user=user, token_hash=_hash(raw), code=code, expires_at=timezone.now() + PENDING_TTL
    )
    logger.info("tiktok_shop app store authorization held for user=%s", user.pk)
    return raw


def app_store_authorization_get(
    *, raw_token: str, user: AbstractBaseUser
) -> PendingShopAuthorization:
    """The held authorization, if it is this user's, unused and unexpired."""
    pending = PendingShopAuthorization.objects.filter(token_hash=_hash(raw_token or "")).first()
    if pending is None or pending.user_id != user.pk:
        raise AppStoreError(_("This TikTok Shop authorization link is not valid."))
    if pending.consumed_at is not None:
        raise AppStoreError(_("This TikTok Shop authorization was already used."))
    if pending.expires_at <= timezone.now():
        raise AppStoreError(
            _("This TikTok Shop authorization expired. Authorize the app again in Seller Center.")
        )
    return pending


def app_store_admin_tenants(*, user: AbstractBaseUser) -> list[Tenant]:
    """The tenants ``user`` may attach a shop to: those where they are owner or admin."""
    return list(
        Tenant.objects.filter(
            memberships__user=user, memberships__role__in=Membership.ADMIN_ROLES
        ).order_by("name")
    )


def _packs_confirmed(pack_keys: list[str], confirm_sensitive: bool) -> list[str]:
    try:
        packs = scopes.validate_packs(PROVIDER_KEY, pack_keys)
    except scopes.UnknownPack as exc:
        raise AppStoreError(str(exc)) from None
    unconfirmed = [str(p.label) for p in packs if p.sensitive and not confirm_sensitive]
    if unconfirmed:
        raise AppStoreError(
            _("%(packs)s give access to sensitive data: confirm them to continue.")
            % {"packs": ", ".join(unconfirmed)}
        )
    return [p.key for p in packs]


def app_store_authorization_complete(
    *,
    raw_token: str,
    user: AbstractBaseUser,
    tenant_id: int,
    pack_keys: list[str],
    confirm_sensitive: bool,
) -> Connection:
    """Attach a held App Store authorization to the tenant the admin chose.

    The choice is checked against the user's admin memberships, the record is
    spent once (a conditional UPDATE), then the code is exchanged and saved
    exactly as a hub-started connect would be. Raises :class:`AppStoreError`,
    ``AuthorizationDenied`` or ``ProviderError``.
    """
    pending = app_store_authorization_get(raw_token=raw_token, user=user)
    tenant = next((t for t in app_store_admin_tenants(user=user) if t.pk == tenant_id), None)
    if tenant is None:
        raise AppStoreError(_("Choose a tenant where you are an admin."))
    packs = _packs_confirmed(pack_keys, confirm_sensitive)
    spent = PendingShopAuthorization.objects.filter(pk=pending.pk, consumed_at__isnull=True).update(
        consumed_at=timezone.now()
    )
    if not spent:
        raise AppStoreError(_("This TikTok Shop authorization was already used."))
    provider = providers.get(PROVIDER_KEY)
    grant = provider.adapter.exchange_code(
        params={"code": pending.code.reveal()},
        redirect_uri=provider.redirect_uri,
        code_verifier=None,
    )
    connection = core_services.connection_save_grant(
        provider=provider, tenant=tenant, user=user, grant=grant, scope_packs=packs
    )
    core_services.connection_discover_assets(connection=connection)
    sync_enqueue_all(connection=connection, trigger=SyncRun.Trigger.MANUAL)
    logger.info(
        "tiktok_shop app store authorization attached tenant=%s connection=%s",
        tenant.pk,
        connection.pk,
    )
    return connection
