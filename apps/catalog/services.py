"""Catalog business logic: stock changes, matching listings to items, pushing to channels.

The CSV import lives in :mod:`.csvimport`; reads for the pages in :mod:`.selectors`.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.tenants.models import Tenant

from .channels import ChannelAccount, PushOutcome, PushRefused, channels
from .models import CatalogItem, Listing


def catalog_item_set_stock(*, item: CatalogItem, stock: int) -> bool:
    """Set an item's stock; returns whether it changed.

    A change moves ``stock_changed_at``, which is what the channels' stock
    pushes look for (a quantity that differs from the one they last pushed).
    Written with an UPDATE of the two columns only, so a concurrent edit of
    other fields is kept.
    """
    if stock < 0:
        raise ValueError("Stock cannot be negative.")
    if item.stock == stock:
        return False
    now = timezone.now()
    CatalogItem.objects.filter(pk=item.pk).update(stock=stock, stock_changed_at=now, updated_at=now)
    item.stock, item.stock_changed_at, item.updated_at = stock, now, now
    return True


def listings_match(
    *,
    tenant: Tenant,
    skus: Iterable[str] | None = None,
    channel: str | None = None,
    account_ref: str | None = None,
) -> int:
    """Point listings at the catalog item with their seller SKU, in one UPDATE.

    Narrowed to ``skus`` (seller SKUs) and/or one channel account when given.
    A listing whose seller SKU is no longer in the catalog is unmatched
    (``catalog_item`` set to NULL). Returns the number of listings looked at.
    """
    listings = Listing.objects.for_tenant(tenant)
    if skus is not None:
        listings = listings.filter(seller_sku__in=list(skus))
    if channel is not None:
        listings = listings.filter(channel=channel)
    if account_ref is not None:
        listings = listings.filter(account_ref=account_ref)
    item = CatalogItem.objects.filter(tenant=tenant, sku=OuterRef("seller_sku")).values("pk")[:1]
    return listings.update(catalog_item=Subquery(item))


def catalog_item_push(
    *,
    item: CatalogItem,
    channel_key: str,
    account_ref: str,
    user: AbstractBaseUser | None,
) -> PushOutcome:
    """Create or update the item's product in one account of a channel.

    The account must be one of the tenant's on that channel (checked here, so
    a posted form cannot name another tenant's shop). Raises
    :class:`~apps.catalog.channels.PushError` subclasses with a message for
    the tenant.
    """
    channel = channels.get(channel_key)
    account = _account(channel_key=channel_key, tenant=item.tenant, account_ref=account_ref)
    if not account.live:
        raise PushRefused(
            _("The connection of %(account)s is not active. Reconnect it on the hub first.")
            % {"account": account.label}
        )
    return channel.push_item(item=item, account_ref=account.ref, user=user)


def _account(*, channel_key: str, tenant: Tenant, account_ref: str) -> ChannelAccount:
    for account in channels.get(channel_key).accounts(tenant=tenant):
        if account.ref == account_ref:
            return account
    raise PushRefused(_("Unknown account for this channel."))
