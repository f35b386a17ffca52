"""Reads the Meta card and pages need, each with a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef, Prefetch, Q

from apps.integrations.models import ConnectionStatus
from apps.tenants.models import Tenant

from .models import MetaAdAccount, MetaAdAccountAccess, MetaProfile, WhatsAppNumber

WORKING = (ConnectionStatus.CONNECTED, ConnectionStatus.EXPIRING)


@dataclass
class AdAccountRow:
    """One ad account, once, with the live profiles that reach it."""

    account: MetaAdAccount
    profiles: list[MetaProfile] = field(default_factory=list)

    @property
    def working(self) -> bool:
        """Some profile that reaches it has a token believed to work."""
        return any(p.status in WORKING for p in self.profiles)


def _accounts(tenant: Tenant, pk: int | None = None) -> list[AdAccountRow]:
    live_access = MetaAdAccountAccess.objects.filter(ad_account=OuterRef("pk")).exclude(
        profile__status=ConnectionStatus.DISCONNECTED
    )
    links = (
        MetaAdAccountAccess.objects.exclude(profile__status=ConnectionStatus.DISCONNECTED)
        .select_related("profile")
        .defer("profile__access_token", "profile__refresh_token")
        .order_by("profile_id")
    )
    accounts = MetaAdAccount.objects.for_tenant(tenant)
    if pk is not None:
        accounts = accounts.filter(pk=pk)
    accounts = (
        accounts.filter(Q(Exists(live_access)) | Q(tracking_enabled=True))
        .prefetch_related(Prefetch("access", queryset=links, to_attr="live_links"))
        .order_by("name", "account_id")
    )
    return [
        AdAccountRow(account=a, profiles=[link.profile for link in a.live_links]) for a in accounts
    ]


def ad_account_rows(*, tenant: Tenant) -> list[AdAccountRow]:
    """Every ad account a live profile reaches (plus tracked ones nobody reaches now): 2 queries."""
    return _accounts(tenant)


def ad_account_row(*, tenant: Tenant, pk: int) -> AdAccountRow | None:
    rows = _accounts(tenant, pk)
    return rows[0] if rows else None


def whatsapp_numbers(*, tenant: Tenant) -> list[WhatsAppNumber]:
    return list(WhatsAppNumber.objects.for_tenant(tenant))


def card_extras(*, tenant: Tenant, connections: list) -> dict:
    """What the Meta card shows besides the profiles: 3 queries."""
    return {
        "ad_accounts": ad_account_rows(tenant=tenant),
        "whatsapp_numbers": whatsapp_numbers(tenant=tenant),
    }
