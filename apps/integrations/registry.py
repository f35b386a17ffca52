"""The provider registry: what the hub, the OAuth views and the sweeps iterate.

Each product app registers its :class:`Provider` in ``AppConfig.ready()``; the
core never names a product. A fifth provider is one new app that registers
itself here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from django.apps import apps
from django.conf import settings
from django.utils.functional import Promise
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from .adapters import ProviderAdapter
    from .models import Connection


@dataclass(frozen=True)
class Platform:
    """A tab of the hub page that groups the products of one vendor."""

    key: str
    label: str | Promise
    order: int = 100


@dataclass(frozen=True, eq=False)
class Provider:
    key: str
    label: str | Promise
    platform: Platform
    app_label: str
    summary: str | Promise
    # Settings that must all be non-empty for the product to be usable.
    credential_settings: tuple[str, ...]
    # Where a tenant's operator registers the developer app, shown when not configured.
    register_at: str | Promise
    callback_path: str
    #: "app_label.ModelName" of the product's Connection subclass
    connection_model: str = ""
    #: dotted path of the product's ProviderAdapter subclass
    adapter_path: str = ""
    #: several connections per tenant (Meta profiles) or one (TikTok products)
    many_connections: bool = False
    #: dotted path of ``f(*, tenant, connections) -> dict``: product data for its card
    #: (advertisers, pixels, shops...), in a fixed number of queries; lands in ``card.extra``
    card_extras_path: str = ""
    #: dotted path of a view ``f(request) -> HttpResponse`` that takes a callback arriving
    #: at ``callback_path`` without ``state`` (authorizations started outside the hub,
    #: e.g. TikTok Shop's Seller Center App Store); without one such callbacks are refused
    stateless_callback_path: str = ""
    order: int = 100
    card_template: str = "integrations/_card.html"
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def model(self) -> type[Connection]:
        return apps.get_model(self.connection_model)

    @cached_property
    def adapter(self) -> ProviderAdapter:
        return import_string(self.adapter_path)()

    def card_extras(self, *, tenant, connections: list) -> dict:
        if not self.card_extras_path:
            return {}
        return import_string(self.card_extras_path)(tenant=tenant, connections=connections)

    def missing_settings(self) -> list[str]:
        return [name for name in self.credential_settings if not getattr(settings, name, "")]

    def is_configured(self) -> bool:
        return not self.missing_settings()

    @property
    def redirect_uri(self) -> str:
        return f"{settings.PUBLIC_BASE_URL}{self.callback_path}"


class AlreadyRegistered(Exception):
    pass


class ProviderRegistry:
    def __init__(self) -> None:
        self._providers: dict[str, Provider] = {}

    def register(self, provider: Provider) -> Provider:
        if provider.key in self._providers:
            raise AlreadyRegistered(f"A provider with key {provider.key!r} is already registered.")
        self._providers[provider.key] = provider
        return provider

    def get(self, key: str) -> Provider:
        return self._providers[key]

    def __contains__(self, key: str) -> bool:
        return key in self._providers

    def all(self) -> list[Provider]:
        return sorted(self._providers.values(), key=lambda p: (p.platform.order, p.order, p.key))

    def for_platform(self, platform_key: str) -> list[Provider]:
        return [p for p in self.all() if p.platform.key == platform_key]

    def platforms(self) -> list[Platform]:
        seen: dict[str, Platform] = {}
        for provider in self.all():
            seen.setdefault(provider.platform.key, provider.platform)
        return sorted(seen.values(), key=lambda p: (p.order, p.key))

    def for_app(self, app_label: str) -> list[Provider]:
        return [p for p in self.all() if p.app_label == app_label]


providers = ProviderRegistry()
