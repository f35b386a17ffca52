"""Connect, refresh, test and disconnect any registered product.

The core owns the flow and the statuses; each product's adapter owns its
provider's quirks. Nothing here names a product.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.tenants.models import Tenant

from . import scopes
from .adapters import AuthorizationDenied, RefreshNotSupported, TokenGrant
from .http import PermissionDenied, ProviderError, TokenExpired, TransportError
from .models import Connection, ConnectionStatus, SyncRun
from .oauth import oauth_state_consume, oauth_state_issue
from .redaction import redact_text
from .registry import Provider, providers

logger = logging.getLogger(__name__)

# A refresh holds its lease this long at most; a crashed worker's lease lapses.
REFRESH_LEASE = timedelta(seconds=60)
# How long the loser of a refresh race waits for the winner before re-reading anyway:
# as long as the lease, which outlasts a token call (5 s connect + 30 s read).
REFRESH_WAIT_SECONDS = REFRESH_LEASE.total_seconds()
REFRESH_POLL_SECONDS = 0.1
# The sweep refreshes access tokens expiring within this window ...
REFRESH_AHEAD = timedelta(minutes=30)
# ... and a refresh token (or a non-refreshable token) this close to its end turns the card to "expiring".
EXPIRING_AHEAD = timedelta(days=7)
LAST_ERROR_MAX = 500


class ConnectError(Exception):
    """A connect request the hub refuses before going to the provider."""


@dataclass(frozen=True)
class CallbackOutcome:
    connection: Connection
    provider: Provider
    missing_packs: list[str]


# --- connect ---------------------------------------------------------------------


def _requested_packs(
    *, provider: Provider, tenant: Tenant, pack_keys: list[str], confirm_sensitive: bool
) -> list[scopes.ScopePack]:
    try:
        packs = scopes.validate_packs(provider.key, pack_keys)
    except scopes.UnknownPack as exc:
        raise ConnectError(str(exc)) from None
    unconfirmed = [p for p in packs if p.sensitive and not confirm_sensitive]
    if unconfirmed:
        names = ", ".join(str(p.label) for p in unconfirmed)
        raise ConnectError(
            _("%(packs)s give access to sensitive data: confirm them to continue.")
            % {"packs": names}
        )
    return packs


def connection_authorize_start(
    *,
    provider: Provider,
    tenant: Tenant,
    user: AbstractBaseUser,
    pack_keys: list[str],
    confirm_sensitive: bool = False,
    connection: Connection | None = None,
) -> str:
    """Issue a state and return the provider URL the browser goes to.

    Reconnecting an existing connection asks for its packs plus the new ones
    (incremental consent) and re-asks declined permissions.
    """
    if not provider.is_configured():
        raise ConnectError(_("%(label)s is not configured.") % {"label": provider.label})
    if connection is not None:
        pack_keys = list(dict.fromkeys([*connection.scope_packs, *pack_keys]))
    packs = _requested_packs(
        provider=provider, tenant=tenant, pack_keys=pack_keys, confirm_sensitive=confirm_sensitive
    )
    product_scopes = scopes.PRODUCTS[provider.key]
    requested = scopes.scopes_to_request(provider.key, packs) if product_scopes.requestable else []
    adapter = provider.adapter
    issued = oauth_state_issue(
        tenant=tenant,
        user=user,
        product=provider.key,
        scope_packs=[p.key for p in packs],
        redirect_uri=provider.redirect_uri,
        pkce=adapter.uses_pkce,
        extra={"connection_id": connection.pk} if connection is not None else {},
    )
    challenge = adapter.pkce_challenge(issued.code_verifier) if issued.code_verifier else None
    logger.info(
        "oauth start product=%s tenant=%s packs=%s",
        provider.key,
        tenant.pk,
        issued.record.scope_packs,
    )
    return adapter.authorization_url(
        state=issued.raw,
        scopes=requested,
        redirect_uri=provider.redirect_uri,
        code_challenge=challenge,
        rerequest=connection is not None,
    )


def connection_authorize_complete(
    *,
    provider_keys: list[str],
    params: Mapping[str, str],
    tenant: Tenant | None,
    user: AbstractBaseUser,
) -> CallbackOutcome:
    """Finish a callback: spend the state, exchange the code, save the connection.

    Raises OAuthStateError, AuthorizationDenied or ProviderError; nothing is
    written unless the exchange succeeded.
    """
    state = oauth_state_consume(
        raw_state=params.get("state"), user=user, tenant=tenant, products=provider_keys
    )
    provider = providers.get(state.product)
    verifier = state.pkce_verifier.reveal() if state.pkce_verifier else None
    grant = provider.adapter.exchange_code(
        params=params, redirect_uri=state.redirect_uri, code_verifier=verifier
    )
    connection = connection_save_grant(
        provider=provider,
        tenant=state.tenant,
        user=user,
        grant=grant,
        scope_packs=state.scope_packs,
    )
    connection_discover_assets(connection=connection)
    # The first sync starts at once, so the card fills in without a click.
    from .scheduling import sync_enqueue_all

    sync_enqueue_all(connection=connection, trigger=SyncRun.Trigger.MANUAL)
    missing = [
        c.pack.key
        for c in scopes.pack_coverage(provider.key, connection.granted_scopes)
        if c.pack.key in state.scope_packs and c.state != scopes.GRANTED
    ]
    logger.info(
        "oauth complete product=%s tenant=%s connection=%s missing_packs=%s",
        provider.key,
        state.tenant_id,
        connection.pk,
        missing,
    )
    return CallbackOutcome(connection=connection, provider=provider, missing_packs=missing)


def _status_for(*, access_expires_at, refresh_expires_at, refreshable: bool) -> str:
    """``expiring`` when the credential that keeps us connected ends soon."""
    horizon = timezone.now() + EXPIRING_AHEAD
    lasting = refresh_expires_at if refreshable else access_expires_at
    if lasting is not None and lasting <= horizon:
        return ConnectionStatus.EXPIRING
    return ConnectionStatus.CONNECTED


@transaction.atomic
def connection_save_grant(
    *,
    provider: Provider,
    tenant: Tenant,
    user: AbstractBaseUser | None,
    grant: TokenGrant,
    scope_packs: list[str],
) -> Connection:
    """Create or update the tenant's connection from a fresh grant, in one write.

    A reconnect updates the same row, so everything synced under it is kept.
    """
    model = provider.model
    lookup = {"tenant": tenant}
    if provider.many_connections:
        lookup["external_user_id"] = grant.external_user_id
    now = timezone.now()
    existing = model.objects.select_for_update().filter(**lookup).first()
    connection = existing or model(**lookup)
    connection.access_token = grant.access_token
    connection.refresh_token = grant.refresh_token
    connection.access_expires_at = grant.access_expires_at
    connection.refresh_expires_at = grant.refresh_expires_at
    connection.granted_scopes = [str(s) for s in grant.granted_scopes]
    connection.scope_packs = scope_packs
    connection.external_user_id = grant.external_user_id
    connection.display_name = grant.display_name or connection.display_name
    if grant.assets is not None:
        connection.assets = {**connection.assets, **grant.assets}
    connection.status = _status_for(
        access_expires_at=grant.access_expires_at,
        refresh_expires_at=grant.refresh_expires_at,
        refreshable=provider.adapter.refreshable,
    )
    connection.connected_by = user
    connection.connected_at = now
    connection.disconnected_at = None
    connection.last_error = ""
    connection.last_refreshed_at = now
    connection.save()
    return connection


def connection_discover_assets(*, connection: Connection) -> None:
    """Ask the provider what the token reaches; a failure is recorded, not fatal."""
    provider = providers.get(connection.provider_key)
    try:
        assets = provider.adapter.discover_assets(connection=connection)
    except ProviderError as exc:
        _record_error(connection, exc)
        return
    if assets:
        connection.assets = {**connection.assets, **assets}
        connection.save(update_fields=["assets", "updated_at"])


# --- refresh ---------------------------------------------------------------------


def _take_lease(connection: Connection) -> str | None:
    now = timezone.now()
    lease = uuid.uuid4().hex
    won = (
        type(connection)
        .objects.filter(pk=connection.pk)
        .filter(Q(refresh_lease_until__isnull=True) | Q(refresh_lease_until__lt=now))
        .update(refresh_lease_token=lease, refresh_lease_until=now + REFRESH_LEASE)
    )
    return lease if won else None


def _release_lease(connection: Connection, lease: str) -> None:
    type(connection).objects.filter(pk=connection.pk, refresh_lease_token=lease).update(
        refresh_lease_token="", refresh_lease_until=None
    )
    # A later full save() of this instance must not write the lease back.
    connection.refresh_lease_token = ""
    connection.refresh_lease_until = None


def _wait_for_other_refresh(connection: Connection) -> Connection:
    """The loser of a race waits for the winner's lease to end, then re-reads."""
    deadline = time.monotonic() + REFRESH_WAIT_SECONDS
    model = type(connection)
    while time.monotonic() < deadline:
        leased = model.objects.filter(
            pk=connection.pk, refresh_lease_until__gte=timezone.now()
        ).exists()
        if not leased:
            break
        time.sleep(REFRESH_POLL_SECONDS)
    connection.refresh_from_db()
    return connection


def _token_text(secret) -> str | None:
    return secret.reveal() if secret else None


def _needs_refresh(connection: Connection, stale_token: str | None) -> bool:
    if not connection.is_live or not connection.refresh_token:
        return False
    if stale_token is not None:
        # The caller saw this token refused: refresh only if nobody replaced it yet.
        return _token_text(connection.access_token) == stale_token
    expires = connection.access_expires_at
    return expires is not None and expires <= timezone.now() + REFRESH_AHEAD


def connection_refresh(*, connection: Connection, stale_token: str | None = None) -> Connection:
    """Refresh the connection's tokens if they need it, at most once across all workers.

    ``stale_token`` is the access token a caller just saw refused; without it the
    token is refreshed only when it expires within ``REFRESH_AHEAD``. One worker
    takes the lease (a conditional UPDATE); the others wait and re-read. The new
    pair is saved in one write before anyone uses it, because providers that
    rotate refresh tokens (Login Kit) invalidate the old one at once.
    """
    provider = providers.get(connection.provider_key)
    if not provider.adapter.refreshable:
        return connection
    lease = _take_lease(connection)
    if lease is None:
        return _wait_for_other_refresh(connection)
    try:
        connection.refresh_from_db()
        if not _needs_refresh(connection, stale_token):
            return connection
        try:
            grant = provider.adapter.refresh(connection=connection)
        except RefreshNotSupported:
            return connection
        except (TokenExpired, PermissionDenied) as exc:
            _mark(connection, ConnectionStatus.EXPIRED, exc)
            logger.warning(
                "refresh refused product=%s connection=%s code=%s",
                provider.key,
                connection.pk,
                exc.code,
            )
            return connection
        except ProviderError as exc:
            _record_error(connection, exc)
            raise
        _save_refreshed(connection, grant, lease, refreshable=True)
        logger.info("refreshed product=%s connection=%s", provider.key, connection.pk)
        return connection
    finally:
        _release_lease(connection, lease)


def _save_refreshed(connection: Connection, grant: TokenGrant, lease: str, *, refreshable: bool):
    connection.access_token = grant.access_token
    # Some providers omit the refresh token when it did not change.
    if grant.refresh_token:
        connection.refresh_token = grant.refresh_token
    connection.access_expires_at = grant.access_expires_at
    if grant.refresh_expires_at is not None:
        connection.refresh_expires_at = grant.refresh_expires_at
    if grant.granted_scopes:
        connection.granted_scopes = [str(s) for s in grant.granted_scopes]
    connection.status = _status_for(
        access_expires_at=connection.access_expires_at,
        refresh_expires_at=connection.refresh_expires_at,
        refreshable=refreshable,
    )
    connection.last_error = ""
    connection.last_refreshed_at = timezone.now()
    connection.save(
        update_fields=[
            "access_token",
            "refresh_token",
            "access_expires_at",
            "refresh_expires_at",
            "granted_scopes",
            "status",
            "last_error",
            "last_refreshed_at",
            "updated_at",
        ]
    )


def connection_token_refresher(connection: Connection) -> Callable[[], str]:
    """What a client calls when the provider says the token expired: refresh once, re-read."""

    def refresh() -> str:
        stale = _token_text(connection.access_token)
        connection_refresh(connection=connection, stale_token=stale)
        fresh = _token_text(connection.access_token)
        if not fresh or fresh == stale:
            raise TokenExpired(_("The access token expired and could not be refreshed."))
        return fresh

    return refresh


# --- test and disconnect -----------------------------------------------------------


def _short(exc: Exception) -> str:
    return redact_text(str(exc))[:LAST_ERROR_MAX]


def _record_error(connection: Connection, exc: Exception) -> None:
    connection.last_error = _short(exc)
    connection.save(update_fields=["last_error", "updated_at"])


def _mark(connection: Connection, status: str, exc: Exception | None = None) -> None:
    connection.status = status
    connection.last_error = _short(exc) if exc else ""
    connection.save(update_fields=["status", "last_error", "updated_at"])


def connection_test(*, connection: Connection) -> str:
    """Make one cheap authenticated call and set the status from the answer."""
    provider = providers.get(connection.provider_key)
    if not connection.is_live:
        raise ConnectError(_("This connection is disconnected."))
    try:
        summary = provider.adapter.test(connection=connection)
    except TokenExpired as exc:
        _mark(connection, ConnectionStatus.EXPIRED, exc)
        raise
    except PermissionDenied as exc:
        # The token works but lacks a permission: reconnecting with the pack fixes it.
        _mark(connection, ConnectionStatus.ERROR, exc)
        raise
    except (TransportError, ProviderError) as exc:
        _mark(connection, ConnectionStatus.ERROR, exc)
        raise
    connection.status = _status_for(
        access_expires_at=connection.access_expires_at,
        refresh_expires_at=connection.refresh_expires_at,
        refreshable=provider.adapter.refreshable,
    )
    connection.last_error = ""
    connection.save(update_fields=["status", "last_error", "updated_at"])
    return summary


def connection_disconnect(*, connection: Connection) -> Connection:
    """Revoke at the provider where it can, wipe the tokens, keep the synced data."""
    provider = providers.get(connection.provider_key)
    if connection.access_token:
        try:
            provider.adapter.revoke(connection=connection)
        except ProviderError as exc:
            logger.warning(
                "revoke failed product=%s connection=%s code=%s (tokens wiped anyway)",
                provider.key,
                connection.pk,
                exc.code,
            )
    connection.access_token = None
    connection.refresh_token = None
    connection.access_expires_at = None
    connection.refresh_expires_at = None
    connection.status = ConnectionStatus.DISCONNECTED
    connection.disconnected_at = timezone.now()
    connection.last_error = ""
    connection.save(
        update_fields=[
            "access_token",
            "refresh_token",
            "access_expires_at",
            "refresh_expires_at",
            "status",
            "disconnected_at",
            "last_error",
            "updated_at",
        ]
    )
    logger.info("disconnected product=%s connection=%s", provider.key, connection.pk)
    return connection


def connection_refresh_due_ids(*, provider: Provider) -> list[int]:
    """Ids of the product's live connections whose access token expires soon."""
    if not provider.adapter.refreshable:
        return []
    soon = timezone.now() + REFRESH_AHEAD
    return list(
        provider.model.objects.live()
        .filter(access_expires_at__lte=soon, refresh_token__isnull=False)
        .values_list("pk", flat=True)
    )


def connection_mark_expiring(*, provider: Provider) -> int:
    """Turn cards ``expiring`` when the credential that keeps them alive ends soon, and
    ``expired`` once it has ended (Meta tokens, refresh tokens past their date).

    Returns how many connections changed.
    """
    now = timezone.now()
    field = "refresh_expires_at" if provider.adapter.refreshable else "access_expires_at"
    live = provider.model.objects.filter(
        status__in=[ConnectionStatus.CONNECTED, ConnectionStatus.EXPIRING]
    )
    expired = live.filter(**{f"{field}__lte": now}).update(
        status=ConnectionStatus.EXPIRED,
        last_error=_("The authorization has ended. Reconnect to continue."),
    )
    expiring = (
        provider.model.objects.filter(status=ConnectionStatus.CONNECTED)
        .filter(**{f"{field}__lte": now + EXPIRING_AHEAD})
        .update(status=ConnectionStatus.EXPIRING)
    )
    return expired + expiring


__all__ = [
    "AuthorizationDenied",
    "CallbackOutcome",
    "ConnectError",
    "connection_authorize_complete",
    "connection_authorize_start",
    "connection_disconnect",
    "connection_discover_assets",
    "connection_mark_expiring",
    "connection_refresh",
    "connection_refresh_due_ids",
    "connection_save_grant",
    "connection_test",
    "connection_token_refresher",
]
