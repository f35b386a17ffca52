"""The canonical scope packs: what a tenant may enable, per product.

A *pack* is a user-facing bundle ("Orders", "Publishing") mapped to the real
scopes or permissions of its provider. The plan's scope names (seed 000) were
mostly invented; this module maps each of its 13 packs to what the providers
really use (see ``shared/contracts``), plus the two Meta packs:

- **TikTok Ads** permissions are numeric ids chosen on the developer app, not
  requested per authorization; the token answer lists the granted ids, and a
  first-level id implies its children. Packs map to the child ids: pixel =
  80 Pixel Management + 7224195155857866754 Report Conversion Event; read =
  10 Ad Account Information + 20/21/22 Campaign/Ad Group/Ad; manage = 20/21/22
  (TikTok grants reading and changing campaigns together); report = 44
  Consolidated Report; audience = 30/31 read and create custom audiences.
- **TikTok Shop** scopes are ``seller.*`` keys enabled per app in Partner
  Center and echoed in ``granted_scopes``; not requestable either. There is
  no order-edit scope (order changes go through fulfillment and returns), and
  customer service is a single scope.
- **TikTok Content** (Login Kit) takes a comma-separated ``scope`` at
  authorization, so the chosen packs decide what is requested.
  ``video.insights`` does not exist: per-video counts come with ``video.list``,
  account totals with ``user.info.stats``.
- **Meta** (Facebook Login) takes ``scope`` at authorization too; declined
  permissions can be asked again with ``auth_type=rerequest``.

Where packs cannot be requested, the card shows which packs the granted
permissions cover and which are missing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

GRANTED = "granted"
PARTIAL = "partial"
MISSING = "missing"


@dataclass(frozen=True)
class ScopePack:
    key: str
    product: str
    label: str | Promise
    help_text: str | Promise
    scopes: tuple[str, ...]
    sensitive: bool = False


@dataclass(frozen=True)
class ProductScopes:
    """How one product treats scopes."""

    product: str
    # Whether the hub chooses scopes at authorization (else the developer app fixes them).
    requestable: bool
    # Always requested or expected, whatever packs are chosen.
    base_scopes: tuple[str, ...] = ()
    # A granted parent implies its children (TikTok Ads' permission tree).
    parents: dict[str, str] | None = None


PRODUCTS: dict[str, ProductScopes] = {
    "tiktok_ads": ProductScopes(
        "tiktok_ads",
        requestable=False,
        parents={
            "10": "1",
            "20": "2",
            "21": "2",
            "22": "2",
            "30": "3",
            "31": "3",
            "44": "4",
            "7224195155857866754": "5",
            "80": "8",
        },
    ),
    "tiktok_shop": ProductScopes(
        "tiktok_shop", requestable=False, base_scopes=("seller.authorization.info",)
    ),
    "tiktok_content": ProductScopes(
        "tiktok_content", requestable=True, base_scopes=("user.info.basic", "user.info.profile")
    ),
    "meta_ads": ProductScopes("meta_ads", requestable=True, base_scopes=("public_profile",)),
}

_PACK_LIST = [
    # TikTok Ads
    ScopePack("ads_pixel", "tiktok_ads", _("Pixel and Events API"), _("Read pixels and send conversion events."), ("80", "7224195155857866754")),
    ScopePack("ads_read", "tiktok_ads", _("Read ads"), _("Advertisers, campaigns, ad groups and ads."), ("10", "20", "21", "22")),
    ScopePack("ads_manage", "tiktok_ads", _("Manage ads"), _("Pause and resume campaigns, change ad group budgets."), ("20", "21", "22")),
    ScopePack("ads_report", "tiktok_ads", _("Reporting"), _("Daily spend, impressions, clicks and conversions."), ("44",)),
    ScopePack("ads_audience", "tiktok_ads", _("Audiences"), _("Read and create custom audiences."), ("30", "31")),
    # TikTok Shop
    ScopePack("shop_catalog", "tiktok_shop", _("Catalog"), _("Products, SKUs and inventory."), ("seller.product.basic", "seller.product.write")),
    ScopePack("shop_orders", "tiktok_shop", _("Orders"), _("Orders and their line items."), ("seller.order.info",)),
    ScopePack("shop_fulfill", "tiktok_shop", _("Fulfillment"), _("Packages, shipping providers and labels."), ("seller.fulfillment.basic", "seller.logistics", "seller.fulfillment.package.write")),
    ScopePack("shop_chat", "tiktok_shop", _("Customer service"), _("Buyer conversations and replies."), ("seller.customer_service",), sensitive=True),
    ScopePack("shop_finance", "tiktok_shop", _("Finance"), _("Statements, payments and settlements."), ("seller.finance.info",), sensitive=True),
    ScopePack("shop_returns", "tiktok_shop", _("Returns"), _("Returns, refunds and cancellations."), ("seller.return_refund.basic",)),
    # TikTok Content
    ScopePack("content_publish", "tiktok_content", _("Publishing"), _("Post videos to the creator's account."), ("video.publish", "video.upload")),
    ScopePack("content_analytics", "tiktok_content", _("Videos and metrics"), _("The creator's videos with views, likes, comments and shares."), ("video.list", "user.info.stats")),
    # Meta
    ScopePack("meta_ads", "meta_ads", _("Ads"), _("Ad accounts, pixels, insights and ad details."), ("ads_read", "ads_management", "business_management")),
    ScopePack("meta_whatsapp_conversions", "meta_ads", _("WhatsApp conversions"), _("Click-to-WhatsApp attribution and conversion events."), ("whatsapp_business_management", "whatsapp_business_manage_events"), sensitive=True),
]  # fmt: skip

PACKS: dict[str, ScopePack] = {pack.key: pack for pack in _PACK_LIST}


class UnknownPack(ValueError):
    pass


def packs_for(product: str) -> list[ScopePack]:
    return [pack for pack in _PACK_LIST if pack.product == product]


def validate_packs(product: str, keys: Iterable[str]) -> list[ScopePack]:
    """The packs named by ``keys``, in registry order; refuses another product's packs."""
    wanted = set(keys)
    known = {pack.key for pack in packs_for(product)}
    unknown = wanted - known
    if unknown:
        raise UnknownPack(
            gettext("Unknown scope packs for %(product)s: %(packs)s")
            % {"product": product, "packs": ", ".join(sorted(unknown))}
        )
    return [pack for pack in packs_for(product) if pack.key in wanted]


def scopes_to_request(product: str, packs: Iterable[ScopePack]) -> list[str]:
    """The provider scopes to ask for: base scopes, then each pack's, without repeats."""
    ordered = list(PRODUCTS[product].base_scopes)
    for pack in packs:
        ordered.extend(scope for scope in pack.scopes if scope not in ordered)
    return ordered


def _covered(product: str, scope: str, granted: set[str]) -> bool:
    parents = PRODUCTS[product].parents or {}
    return scope in granted or parents.get(scope) in granted


@dataclass(frozen=True)
class PackCoverage:
    pack: ScopePack
    state: str  # GRANTED | PARTIAL | MISSING
    missing_scopes: tuple[str, ...]


def pack_coverage(product: str, granted_scopes: Iterable[str]) -> list[PackCoverage]:
    """For every pack of ``product``: granted, partly granted (which scopes lack) or missing."""
    granted = {str(scope) for scope in granted_scopes}
    result = []
    for pack in packs_for(product):
        missing = tuple(s for s in pack.scopes if not _covered(product, s, granted))
        state = MISSING if len(missing) == len(pack.scopes) else PARTIAL if missing else GRANTED
        result.append(PackCoverage(pack, state, missing))
    return result
