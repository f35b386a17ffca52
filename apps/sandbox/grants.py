"""The emulated providers' authorization server: codes, tokens, refresh, revoke.

Every provider view goes through these functions, so single use, expiry,
rotation and revocation behave the same way everywhere. Spending a code or a
refresh token is one conditional UPDATE, so two racing requests cannot both win.
"""

from __future__ import annotations

import secrets
import string
from datetime import datetime, timedelta
from enum import Enum

from django.db import transaction
from django.utils import timezone

from . import conf
from .models import SandboxGrant

_ALPHANUM = string.ascii_letters + string.digits

#: (access token prefix, refresh token prefix) in each provider's real style
_TOKEN_STYLE = {
    "tiktok_ads": ("", ""),
    "tiktok_shop": ("ROW_", "ROW_"),
    "tiktok_content": ("act.", "rft."),
    "meta": ("EAA", ""),
}


class Outcome(Enum):
    OK = "ok"
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    REVOKED = "revoked"
    ROTATED = "rotated"


def random_token(prefix: str = "", length: int = 48) -> str:
    """Unpredictable, URL-safe without escaping (letters and digits only)."""
    return prefix + "".join(secrets.choice(_ALPHANUM) for _ in range(length))


def issue_code(
    *,
    provider: str,
    account_id: str,
    scopes: list,
    redirect_uri: str = "",
    code_challenge: str = "",
) -> SandboxGrant:
    """What the consent screen does when the user authorizes."""
    ttl = conf.CODE_TTL_SECONDS[provider]
    return SandboxGrant.objects.create(
        provider=provider,
        account_id=account_id,
        scopes=list(scopes),
        code=random_token(length=40),
        code_expires_at=timezone.now() + timedelta(seconds=ttl),
        redirect_uri=redirect_uri,
        code_challenge=code_challenge,
    )


def redeem_code(*, provider: str, code: str) -> tuple[SandboxGrant | None, Outcome]:
    """Spend a code once. The grant comes back even when used or expired, for messages."""
    grant = SandboxGrant.objects.filter(provider=provider, code=code).first() if code else None
    if grant is None:
        return None, Outcome.UNKNOWN
    now = timezone.now()
    spent = SandboxGrant.objects.filter(pk=grant.pk, code_used_at__isnull=True).update(
        code_used_at=now
    )
    if not spent:
        return grant, Outcome.USED
    grant.code_used_at = now
    if grant.code_expires_at and grant.code_expires_at <= now:
        return grant, Outcome.EXPIRED
    return grant, Outcome.OK


def mint_tokens(
    grant: SandboxGrant,
    *,
    access_ttl: int | None,
    refresh_ttl: int | None = None,
    lifetime: str = "",
) -> SandboxGrant:
    """Give a redeemed grant its tokens. ``None`` lifetimes mean "no expiry" / "no refresh"."""
    access_prefix, refresh_prefix = _TOKEN_STYLE[grant.provider]
    now = timezone.now()
    grant.access_token = random_token(access_prefix)
    grant.access_expires_at = _after(now, access_ttl)
    if refresh_ttl is not None:
        grant.refresh_token = random_token(refresh_prefix)
        grant.refresh_expires_at = _after(now, refresh_ttl)
    grant.lifetime = lifetime
    grant.save(
        update_fields=[
            "access_token",
            "access_expires_at",
            "refresh_token",
            "refresh_expires_at",
            "lifetime",
        ]
    )
    return grant


def find_access(*, provider: str, token: str) -> tuple[SandboxGrant | None, Outcome]:
    """Look up an access token; say why it cannot be used."""
    grant = (
        SandboxGrant.objects.filter(provider=provider, access_token=token).first()
        if token
        else None
    )
    if grant is None:
        return None, Outcome.UNKNOWN
    if grant.revoked:
        return grant, Outcome.REVOKED
    if grant.access_expired():
        return grant, Outcome.EXPIRED
    return grant, Outcome.OK


@transaction.atomic
def rotate(
    *,
    provider: str,
    refresh_token: str,
    access_ttl: int,
    refresh_ttl: int | None,
) -> tuple[SandboxGrant | None, Outcome]:
    """Spend a refresh token: the old grant is rotated, a child grant holds the new tokens.

    ``refresh_ttl=None`` keeps the refresh token itself (value and expiry) on the
    child: TikTok Shop's behaviour as far as public answers show it. Otherwise a
    new refresh token is minted and the old one stops working at once (Login Kit).
    """
    old = (
        SandboxGrant.objects.filter(provider=provider, refresh_token=refresh_token)
        .order_by("rotated", "-pk")
        .first()
        if refresh_token
        else None
    )
    outcome = _refresh_outcome(old)
    if outcome is not Outcome.OK:
        return old, outcome
    won = SandboxGrant.objects.filter(pk=old.pk, rotated=False, revoked=False).update(rotated=True)
    if not won:
        return old, Outcome.ROTATED
    return _child(old, access_ttl=access_ttl, refresh_ttl=refresh_ttl), Outcome.OK


def _refresh_outcome(grant: SandboxGrant | None) -> Outcome:
    if grant is None:
        return Outcome.UNKNOWN
    if grant.revoked:
        return Outcome.REVOKED
    if grant.rotated:
        return Outcome.ROTATED
    if grant.refresh_expired():
        return Outcome.EXPIRED
    return Outcome.OK


def _child(old: SandboxGrant, *, access_ttl: int, refresh_ttl: int | None) -> SandboxGrant:
    access_prefix, refresh_prefix = _TOKEN_STYLE[old.provider]
    now = timezone.now()
    keep_refresh = refresh_ttl is None
    return SandboxGrant.objects.create(
        provider=old.provider,
        account_id=old.account_id,
        scopes=old.scopes,
        parent=old,
        access_token=random_token(access_prefix),
        access_expires_at=_after(now, access_ttl),
        refresh_token=old.refresh_token if keep_refresh else random_token(refresh_prefix),
        refresh_expires_at=old.refresh_expires_at if keep_refresh else _after(now, refresh_ttl),
        lifetime=old.lifetime,
    )


def exchange_long_lived(old: SandboxGrant, *, ttl: int) -> SandboxGrant:
    """Meta's ``fb_exchange_token``: a long-lived child; the short-lived token stays valid."""
    return SandboxGrant.objects.create(
        provider=old.provider,
        account_id=old.account_id,
        scopes=old.scopes,
        parent=old,
        access_token=random_token(_TOKEN_STYLE[old.provider][0]),
        access_expires_at=_after(timezone.now(), ttl),
        lifetime="long",
    )


def revoke_account(*, provider: str, account_id: str) -> int:
    """Revoke every live grant one user gave the app; returns how many."""
    return SandboxGrant.objects.filter(
        provider=provider, account_id=account_id, revoked=False
    ).update(revoked=True)


def revoke_token(*, provider: str, token: str, whole_account: bool) -> SandboxGrant | None:
    """Revoke the grant holding this access or refresh token.

    ``whole_account`` also revokes every other grant the same user gave the app
    (Login Kit's revoke ends the user's authorization, not just one token).
    """
    grant = (
        (
            SandboxGrant.objects.filter(provider=provider, access_token=token).first()
            or SandboxGrant.objects.filter(provider=provider, refresh_token=token).first()
        )
        if token
        else None
    )
    if grant is None:
        return None
    if whole_account:
        revoke_account(provider=provider, account_id=grant.account_id)
    else:
        SandboxGrant.objects.filter(pk=grant.pk).update(revoked=True)
    grant.refresh_from_db()
    return grant


def expire_access(grant: SandboxGrant) -> None:
    """Make an access token expire now: the next call gets the provider's "expired" error."""
    SandboxGrant.objects.filter(pk=grant.pk).update(access_expires_at=timezone.now())


def _after(now: datetime, seconds: int | None) -> datetime | None:
    return None if seconds is None else now + timedelta(seconds=seconds)
