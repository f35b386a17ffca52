"""Reads the hub page needs, each with a known query budget.

A platform tab costs one query per product (its connections, each annotated
with its latest sync run and whether one is active) plus one query for those
runs, whatever the number of connections or runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef, Subquery
from django.utils.translation import gettext_lazy as _

from apps.tenants.models import Tenant

from . import scopes
from .models import Connection, ConnectionStatus, SyncRun
from .registry import Provider, providers

# Tabs the core owns, after the platform tabs the providers bring.
CORE_TABS = [
    ("conversions", _("Conversions")),
    ("webhooks", _("Webhooks")),
    ("sync", _("Sync history")),
]
#: core tab key -> dotted path of ``panel(request) -> dict``: the context of that tab's
#: panel (with ``panel_template``), registered by the app that fills the tab in its
#: ``AppConfig.ready()``: capi fills "conversions", webhooks fills "webhooks".
TAB_PANELS: dict[str, str] = {}

CARD_STATUS_LABELS = {
    "not_configured": _("Not configured"),
    "not_connected": _("Not connected"),
    **dict(ConnectionStatus.choices),
}


@dataclass(frozen=True)
class Tab:
    key: str
    label: str


@dataclass
class ConnectionView:
    connection: Connection
    coverage: list[scopes.PackCoverage]
    last_run: SyncRun | None
    sync_active: bool

    @property
    def missing_packs(self) -> list[scopes.PackCoverage]:
        return [c for c in self.coverage if c.state != scopes.GRANTED]


@dataclass
class Card:
    provider: Provider
    status: str
    missing_settings: list[str]
    connections: list[ConnectionView] = field(default_factory=list)
    #: what the product's ``card_extras`` hook returned
    extra: dict = field(default_factory=dict)

    @property
    def status_label(self) -> str:
        return CARD_STATUS_LABELS[self.status]

    @property
    def packs(self) -> list[scopes.ScopePack]:
        return scopes.packs_for(self.provider.key)

    @property
    def fold_connect_form(self) -> bool:
        """Once connected, changing packs is secondary; adding another Meta profile is not."""
        return bool(self.live_connections) and not self.provider.many_connections

    @property
    def has_sensitive_packs(self) -> bool:
        return any(p.sensitive for p in self.packs)

    @property
    def requestable(self) -> bool:
        return scopes.PRODUCTS[self.provider.key].requestable

    @property
    def live_connections(self) -> list[ConnectionView]:
        return [c for c in self.connections if c.connection.is_live]

    @property
    def polling(self) -> bool:
        return any(c.sync_active for c in self.connections)

    @property
    def chosen_packs(self) -> set[str]:
        return {key for c in self.live_connections for key in c.connection.scope_packs}


def hub_tabs() -> list[Tab]:
    platform_tabs = [Tab(p.key, p.label) for p in providers.platforms()]
    return platform_tabs + [Tab(key, label) for key, label in CORE_TABS]


def _annotated_connections(provider: Provider, tenant: Tenant) -> list[Connection]:
    runs = SyncRun.objects.filter(product=provider.key, connection_id=OuterRef("pk"))
    return list(
        provider.model.objects.for_tenant(tenant)
        .annotate(
            latest_run_id=Subquery(runs.order_by("-created_at", "-pk").values("pk")[:1]),
            sync_active=Exists(runs.filter(status__in=SyncRun.ACTIVE)),
        )
        .order_by("display_name", "pk")
    )


def _card_status(provider: Provider, connections: list[Connection]) -> str:
    if not provider.is_configured():
        return "not_configured"
    live = [c for c in connections if c.is_live]
    if not live:
        return ConnectionStatus.DISCONNECTED if connections else "not_connected"
    # The card shows the most urgent state among its live connections.
    for status in (
        ConnectionStatus.EXPIRED,
        ConnectionStatus.ERROR,
        ConnectionStatus.EXPIRING,
    ):
        if any(c.status == status for c in live):
            return status
    return ConnectionStatus.CONNECTED


def _cards_for(providers_list: list[Provider], tenant: Tenant) -> list[Card]:
    by_provider = {p.key: _annotated_connections(p, tenant) for p in providers_list}
    run_ids = [c.latest_run_id for rows in by_provider.values() for c in rows if c.latest_run_id]
    runs = SyncRun.objects.in_bulk(run_ids) if run_ids else {}
    cards = []
    for provider in providers_list:
        rows = by_provider[provider.key]
        views = [
            ConnectionView(
                connection=c,
                coverage=scopes.pack_coverage(provider.key, c.granted_scopes),
                last_run=runs.get(c.latest_run_id),
                sync_active=c.sync_active,
            )
            for c in rows
        ]
        live = [c for c in rows if c.is_live]
        cards.append(
            Card(
                provider=provider,
                status=_card_status(provider, rows),
                missing_settings=provider.missing_settings(),
                connections=views,
                extra=provider.card_extras(tenant=tenant, connections=live) if live else {},
            )
        )
    return cards


def hub_cards(*, tenant: Tenant, platform_key: str) -> list[Card]:
    return _cards_for(providers.for_platform(platform_key), tenant)


def hub_card(*, tenant: Tenant, provider: Provider) -> Card:
    return _cards_for([provider], tenant)[0]


@dataclass(frozen=True)
class RunsPage:
    """One page of sync runs; no total count, which would cost a scan of the tenant's history."""

    runs: list[SyncRun]
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def sync_history(
    *, tenant: Tenant, product: str = "", status: str = "", page: int = 1, per_page: int = 50
) -> RunsPage:
    """The tenant's sync runs, newest first, filterable: one query a page."""
    runs = SyncRun.objects.for_tenant(tenant)
    if product:
        runs = runs.filter(product=product)
    if status:
        runs = runs.filter(status=status)
    start = (page - 1) * per_page
    rows = list(runs.order_by("-created_at", "-pk")[start : start + per_page + 1])
    return RunsPage(runs=rows[:per_page], number=page, has_next=len(rows) > per_page)
