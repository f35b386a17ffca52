"""OAuth state: random, stored hashed, single use, expiring, bound to tenant, user and product.

The plaintext state goes to the provider and comes back on the callback; the
database only keeps its SHA-256. Consumption is one conditional UPDATE, so a
replayed callback (or two racing ones) can use a state once.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.tenants.models import Tenant

from .models import OAuthState

logger = logging.getLogger(__name__)

STATE_TTL = timedelta(minutes=10)
# RFC 7636: 43-128 characters from the unreserved set.
PKCE_VERIFIER_LENGTH = 64
_PKCE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"


class OAuthStateError(Exception):
    """A callback's state cannot be used. ``reason`` is stable; the message is for people."""

    MESSAGES = {
        "missing": _("The provider sent no state. Start the connection again from this page."),
        "unknown": _("This authorization link is not valid. Start the connection again."),
        "expired": _("This authorization took more than 10 minutes. Start the connection again."),
        "reused": _("This authorization was already used. Start the connection again."),
        "other_user": _("This authorization was started by another user."),
        "other_tenant": _(
            "This authorization was started for another tenant. Switch back to it, or start again."
        ),
        "wrong_product": _("This authorization belongs to another product."),
    }

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(str(self.MESSAGES[reason]))


@dataclass(frozen=True)
class IssuedState:
    raw: str
    record: OAuthState
    code_verifier: str | None


def hash_state(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def new_pkce_verifier() -> str:
    return "".join(secrets.choice(_PKCE_ALPHABET) for _ in range(PKCE_VERIFIER_LENGTH))


def oauth_state_issue(
    *,
    tenant: Tenant,
    user: AbstractBaseUser,
    product: str,
    scope_packs: list[str],
    redirect_uri: str,
    pkce: bool = False,
    extra: dict | None = None,
) -> IssuedState:
    raw = secrets.token_urlsafe(32)
    verifier = new_pkce_verifier() if pkce else None
    record = OAuthState.objects.create(
        tenant=tenant,
        user=user,
        product=product,
        state_hash=hash_state(raw),
        scope_packs=scope_packs,
        pkce_verifier=verifier,
        redirect_uri=redirect_uri,
        extra=extra or {},
        expires_at=timezone.now() + STATE_TTL,
    )
    return IssuedState(raw=raw, record=record, code_verifier=verifier)


def oauth_state_consume(
    *,
    raw_state: str | None,
    user: AbstractBaseUser,
    tenant: Tenant | None,
    products: Collection[str],
) -> OAuthState:
    """Check a callback's state and spend it. Raises :class:`OAuthStateError`.

    Ownership is checked before spending, so someone else's replay cannot burn
    the rightful user's state.
    """
    raw_state = (raw_state or "").strip()
    if not raw_state:
        raise OAuthStateError("missing")
    record = OAuthState.objects.filter(state_hash=hash_state(raw_state)).first()
    if record is None:
        raise OAuthStateError("unknown")
    if record.user_id != user.pk:
        raise OAuthStateError("other_user")
    if tenant is None or record.tenant_id != tenant.pk:
        raise OAuthStateError("other_tenant")
    if record.product not in products:
        raise OAuthStateError("wrong_product")
    if record.consumed_at is not None:
        raise OAuthStateError("reused")
    now = timezone.now()
    if record.expires_at <= now:
        raise OAuthStateError("expired")
    spent = OAuthState.objects.filter(pk=record.pk, consumed_at__isnull=True).update(
        consumed_at=now
    )
    if spent != 1:
        raise OAuthStateError("reused")
    record.consumed_at = now
    return record


def oauth_state_prune(*, older_than: timedelta = timedelta(days=1)) -> int:
    """Delete states past their expiry by ``older_than``; they can never be used."""
    deleted, _ = OAuthState.objects.filter(expires_at__lt=timezone.now() - older_than).delete()
    return deleted
