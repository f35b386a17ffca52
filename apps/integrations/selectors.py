"""Reads the hub page needs, each with a known query budget."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from apps.tenants.models import Tenant

from .registry import Provider, providers

# Tabs the core owns, after the platform tabs the providers bring.
CORE_TABS = [
    ("conversions", _("Conversions")),
    ("webhooks", _("Webhooks")),
    ("sync", _("Sync history")),
]


@dataclass(frozen=True)
class Tab:
    key: str
    label: str


@dataclass(frozen=True)
class Card:
    provider: Provider
    status: str  # "not_configured" | "not_connected"
    missing_settings: list[str]

    @property
    def status_label(self) -> str:
        return {"not_configured": _("Not configured"), "not_connected": _("Not connected")}[
            self.status
        ]


def hub_tabs() -> list[Tab]:
    platform_tabs = [Tab(p.key, p.label) for p in providers.platforms()]
    return platform_tabs + [Tab(key, label) for key, label in CORE_TABS]


def hub_cards(*, tenant: Tenant, platform_key: str) -> list[Card]:
    """The cards of one platform tab, from settings alone (no query)."""
    cards = []
    for provider in providers.for_platform(platform_key):
        missing = provider.missing_settings()
        cards.append(Card(provider, "not_configured" if missing else "not_connected", missing))
    return cards
