"""Reads for the Products page, in a number of queries that does not grow with the page.

One page of catalog items costs: the channels' accounts (one query per
registered channel), the count and the page of items (two), their listings
(one) and the number of listings no catalog item matches (one).
"""

from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import reduce

from django.core.paginator import Page, Paginator
from django.db.models import Exists, F, OuterRef, Q, QuerySet

from apps.tenants.models import Tenant

from .channels import ChannelAccount, channels
from .models import CatalogItem, Listing, ReviewStatus

ITEMS_PER_PAGE = 50
#: The listing shown first for an item in an account: the last pushed, then the last synced
#: (NULLs last on every database; PostgreSQL puts them first in a plain DESC).
LATEST_FIRST = (
    F("last_pushed_at").desc(nulls_last=True),
    F("synced_at").desc(nulls_last=True),
    "pk",
)
LISTINGS_PER_PAGE = 100
#: How the match filter reads: items listed / not listed in the chosen account(s).
MATCH_LISTED = "listed"
MATCH_UNLISTED = "unlisted"
MATCH_CHOICES = (MATCH_LISTED, MATCH_UNLISTED)


@dataclass(frozen=True)
class AccountChoice:
    """An account of a channel as the page offers it (``value`` is ``channel:ref``)."""

    channel_key: str
    channel_label: str
    account: ChannelAccount

    @property
    def value(self) -> str:
        return f"{self.channel_key}:{self.account.ref}"

    @property
    def label(self) -> str:
        return f"{self.channel_label} · {self.account.label}"


@dataclass
class AccountCell:
    """One catalog item in one account: its listings there (one per SKU id), if any."""

    choice: AccountChoice
    listings: list[Listing] = field(default_factory=list)

    @property
    def listing(self) -> Listing | None:
        """The listing shown first: the most recently synced or pushed one."""
        return self.listings[0] if self.listings else None

    @property
    def is_listed(self) -> bool:
        return bool(self.listings)


@dataclass
class ItemRow:
    item: CatalogItem
    cells: list[AccountCell]


@dataclass(frozen=True)
class Filters:
    q: str = ""
    #: "" or an :class:`AccountChoice` value
    account: str = ""
    #: "" or one of :data:`MATCH_CHOICES`
    match: str = ""
    #: "" or a :class:`~apps.catalog.models.ReviewStatus` value
    review: str = ""

    @classmethod
    def from_query(cls, data, choices: Iterable[AccountChoice]) -> Filters:
        values = {choice.value for choice in choices}
        account = data.get("account", "")
        match = data.get("match", "")
        review = data.get("review", "")
        return cls(
            q=data.get("q", "").strip()[:100],
            account=account if account in values else "",
            match=match if match in MATCH_CHOICES else "",
            review=review if review in ReviewStatus.values else "",
        )


def account_choices(*, tenant: Tenant) -> list[AccountChoice]:
    """Every account of the tenant on every registered channel (one query per channel)."""
    return [
        AccountChoice(channel.key, str(channel.label), account)
        for channel in channels.all()
        for account in channel.accounts(tenant=tenant)
    ]


def _account_q(choice: AccountChoice | None, prefix: str = "") -> Q:
    if choice is None:
        return Q()
    return Q(**{f"{prefix}channel": choice.channel_key, f"{prefix}account_ref": choice.account.ref})


def catalog_items(
    *, tenant: Tenant, filters: Filters, choice: AccountChoice | None
) -> QuerySet[CatalogItem]:
    items = CatalogItem.objects.for_tenant(tenant).order_by("sku")
    if filters.q:
        items = items.filter(Q(sku__icontains=filters.q) | Q(title__icontains=filters.q))
    listings = Listing.objects.filter(catalog_item=OuterRef("pk")).filter(_account_q(choice))
    if filters.match == MATCH_LISTED:
        items = items.filter(Exists(listings))
    elif filters.match == MATCH_UNLISTED:
        items = items.filter(~Exists(listings))
    if filters.review:
        items = items.filter(Exists(listings.filter(review_status=filters.review)))
    return items


def item_rows(
    *, items: Iterable[CatalogItem], choices: list[AccountChoice], tenant: Tenant
) -> list[ItemRow]:
    """The items with their listings in each of ``choices``; one query for all listings."""
    items = list(items)
    by_item: dict[tuple[int, str, str], list[Listing]] = defaultdict(list)
    if items and choices:
        listings = (
            Listing.objects.for_tenant(tenant)
            .filter(catalog_item__in=[item.pk for item in items])
            .filter(reduce(operator.or_, (_account_q(choice) for choice in choices)))
            .order_by(*LATEST_FIRST)
        )
        for listing in listings:
            by_item[(listing.catalog_item_id, listing.channel, listing.account_ref)].append(listing)
    return [
        ItemRow(
            item=item,
            cells=[
                AccountCell(
                    choice=choice,
                    listings=by_item.get((item.pk, choice.channel_key, choice.account.ref), []),
                )
                for choice in choices
            ],
        )
        for item in items
    ]


@dataclass
class ProductsPage:
    choices: list[AccountChoice]
    shown: list[AccountChoice]
    filters: Filters
    page: Page
    rows: list[ItemRow]
    unmatched_count: int


def products_page(*, tenant: Tenant, data, page_number: str | int | None) -> ProductsPage:
    """The catalog items of one page, each with its listings in the account(s) shown."""
    choices = account_choices(tenant=tenant)
    filters = Filters.from_query(data, choices)
    choice = next((c for c in choices if c.value == filters.account), None)
    shown = [choice] if choice is not None else choices
    items = catalog_items(tenant=tenant, filters=filters, choice=choice)
    page = Paginator(items, ITEMS_PER_PAGE).get_page(page_number)
    rows = item_rows(items=page.object_list, choices=shown, tenant=tenant)
    unmatched = Listing.objects.for_tenant(tenant).filter(
        _account_q(choice), catalog_item__isnull=True
    )
    return ProductsPage(
        choices=choices,
        shown=shown,
        filters=filters,
        page=page,
        rows=rows,
        unmatched_count=unmatched.count(),
    )


def item_row(*, tenant: Tenant, item: CatalogItem, account: str = "") -> ItemRow:
    """One item's row, re-rendered after a push."""
    choices = account_choices(tenant=tenant)
    chosen = [choice for choice in choices if choice.value == account]
    return item_rows(items=[item], choices=chosen or choices, tenant=tenant)[0]


@dataclass
class UnmatchedPage:
    choices: list[AccountChoice]
    filters: Filters
    page: Page
    labels: dict[tuple[str, str], str]


def unmatched_listings_page(
    *, tenant: Tenant, data, page_number: str | int | None
) -> UnmatchedPage:
    """Listings no catalog item matches (no seller SKU, or one the catalog lacks)."""
    choices = account_choices(tenant=tenant)
    filters = Filters.from_query(data, choices)
    choice = next((c for c in choices if c.value == filters.account), None)
    listings = Listing.objects.for_tenant(tenant).filter(
        _account_q(choice), catalog_item__isnull=True
    )
    if filters.q:
        listings = listings.filter(
            Q(seller_sku__icontains=filters.q) | Q(title__icontains=filters.q)
        )
    if filters.review:
        listings = listings.filter(review_status=filters.review)
    listings = listings.order_by("channel", "account_ref", "seller_sku", "external_sku_id")
    page = Paginator(listings, LISTINGS_PER_PAGE).get_page(page_number)
    labels = {(c.channel_key, c.account.ref): c.label for c in choices}
    return UnmatchedPage(choices=choices, filters=filters, page=page, labels=labels)
