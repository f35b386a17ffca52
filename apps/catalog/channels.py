"""Sales channels the catalog pushes to, registered by the channel apps.

The catalog never imports a channel app. A channel (TikTok Shop today,
Shopify or Mercado Livre later) registers itself from its ``AppConfig.ready()``::

    channels.register(Channel(
        key="tiktok_shop",
        label=_("TikTok Shop"),
        push_item_path="apps.tiktok_shop.products.push_catalog_item",
        push_stock_path="apps.tiktok_shop.inventory.push_stock",
        accounts_path="apps.tiktok_shop.products.channel_accounts",
    ))

and the catalog's pages and commands call it through the dotted paths:

- ``push_item(*, item, account_ref, user) -> PushOutcome`` creates or updates
  the item's product in one account; it raises :class:`PushRefused` (checked
  locally, nothing sent) or :class:`PushFailed` (the channel refused it), each
  with a message for the tenant;
- ``push_stock(*, tenant, account_ref, trigger) -> list[StockPush]`` sends the
  stock of the matched listings of one account;
- ``accounts(*, tenant) -> list[ChannelAccount]`` lists the tenant's accounts
  (shops) on the channel, in one query.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.utils.functional import Promise
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

    from apps.tenants.models import Tenant

    from .models import CatalogItem, StockPush


class PushError(Exception):
    """A push that did not happen; ``str()`` is the message to show the tenant."""

    def __init__(self, message: str, *, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        #: one line per problem (each field the channel or we found wrong)
        self.details = list(details or [])

    def __str__(self) -> str:
        return self.message


class PushRefused(PushError):
    """Refused before calling the channel: the item lacks what the channel requires."""


class PushFailed(PushError):
    """The channel refused or failed the call."""


@dataclass(frozen=True)
class ChannelAccount:
    """One account (shop) of the tenant on a channel."""

    ref: str
    label: str
    #: whether the connection behind it can be used right now
    live: bool = True


@dataclass(frozen=True)
class PushOutcome:
    """What a successful push did."""

    #: "created" or "updated" (:class:`~apps.catalog.models.PushResult`)
    action: str
    external_product_id: str
    message: str = ""
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Channel:
    key: str
    label: str | Promise
    push_item_path: str
    push_stock_path: str
    accounts_path: str

    def push_item(
        self, *, item: CatalogItem, account_ref: str, user: AbstractBaseUser | None
    ) -> PushOutcome:
        return _call(self.push_item_path, item=item, account_ref=account_ref, user=user)

    def push_stock(self, *, tenant: Tenant, account_ref: str, trigger: str) -> list[StockPush]:
        return _call(self.push_stock_path, tenant=tenant, account_ref=account_ref, trigger=trigger)

    def accounts(self, *, tenant: Tenant) -> list[ChannelAccount]:
        return _call(self.accounts_path, tenant=tenant)


def _call(path: str, **kwargs: Any) -> Any:
    function: Callable[..., Any] = import_string(path)
    return function(**kwargs)


class UnknownChannel(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


class ChannelRegistry:
    def __init__(self) -> None:
        self._channels: dict[str, Channel] = {}

    def register(self, channel: Channel) -> Channel:
        self._channels[channel.key] = channel
        return channel

    def unregister(self, key: str) -> None:
        self._channels.pop(key, None)

    def get(self, key: str) -> Channel:
        try:
            return self._channels[key]
        except KeyError:
            raise UnknownChannel(f"No sales channel {key!r} is registered.") from None

    def __contains__(self, key: str) -> bool:
        return key in self._channels

    def all(self) -> list[Channel]:
        return sorted(self._channels.values(), key=lambda channel: channel.key)


channels = ChannelRegistry()
