"""The tenant's catalog (source of truth for pushes) and how it is listed on sales channels.

- :class:`CatalogItem` is one sellable SKU of the tenant: what the hub pushes
  to every channel (title, description, price, stock, images, categories).
- :class:`Listing` is one SKU as a channel (TikTok Shop today; Shopify or
  Mercado Livre later) lists it in one of the tenant's accounts there (a shop),
  matched to a catalog item by seller SKU. Channel apps write these rows; the
  catalog never imports a channel app (see :mod:`.channels`).
- :class:`StockPush` is one stock update sent to a channel: what was sent and
  what the channel answered.
"""

from __future__ import annotations

from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.tenants.models import TenantOwnedModel

#: Longest SKU the catalog keeps (TikTok Shop's seller_sku allows 50; others more).
SKU_MAX_LENGTH = 64


class CatalogItem(TenantOwnedModel):
    """One sellable SKU of the tenant.

    ``stock_changed_at`` moves whenever the stock changes (import, admin,
    :func:`~apps.catalog.services.catalog_item_set_stock`); channels compare the
    stock with what they last pushed to decide what to send.
    ``category_mapping`` holds the category id of each channel, keyed by the
    channel key (``{"tiktok_shop": "600001"}``): categories are per channel
    and per marketplace, the tenant's own ``category`` is just a label.
    """

    sku = models.CharField(_("SKU"), max_length=SKU_MAX_LENGTH)
    title = models.CharField(_("title"), max_length=255)
    description = models.TextField(_("description"), blank=True)
    price = models.DecimalField(
        _("price"), max_digits=12, decimal_places=2, validators=[MinValueValidator(0)]
    )
    currency = models.CharField(_("currency"), max_length=3)
    stock = models.PositiveIntegerField(_("stock"), default=0)
    images = models.JSONField(_("images"), default=list, blank=True, help_text=_("Image URLs."))
    category = models.CharField(_("category"), max_length=255, blank=True)
    category_mapping = models.JSONField(
        _("category per channel"),
        default=dict,
        blank=True,
        help_text=_('The category id on each channel, e.g. {"tiktok_shop": "600001"}.'),
    )
    weight_kg = models.DecimalField(
        _("package weight (kg)"),
        max_digits=8,
        decimal_places=3,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text=_("Channels such as TikTok Shop refuse a new product without it."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    stock_changed_at = models.DateTimeField(_("stock changed"), null=True, blank=True)

    class Meta:
        ordering = ["sku"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "sku"], name="catalog_item_sku_unique")
        ]
        verbose_name = _("catalog item")
        verbose_name_plural = _("catalog items")

    def __str__(self) -> str:
        return f"{self.sku} · {self.title}"


class ReviewStatus(models.TextChoices):
    """A channel's verdict on a listing, in words every channel can map to."""

    DRAFT = "draft", _("Draft")
    PENDING = "pending", _("In review")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    SUSPENDED = "suspended", _("Suspended by the channel")
    DELETED = "deleted", _("Deleted")
    UNKNOWN = "unknown", _("Unknown")


class PushResult(models.TextChoices):
    CREATED = "created", _("Created")
    UPDATED = "updated", _("Updated")
    FAILED = "failed", _("Failed")


class Listing(TenantOwnedModel):
    """One SKU of a product on a sales channel, in one account (shop) of the tenant.

    Unique on (tenant, channel, account, external SKU id): the channel's sync
    upserts on it. ``account_ref`` is the channel's account id as text (the
    TikTok shop id); the catalog never needs the channel's own tables.
    ``extra`` keeps channel details the channel needs back later (TikTok:
    the SKU's warehouses). ``pushed_stock`` is the quantity the channel last
    accepted from us; a matched listing whose item's stock differs is due.
    """

    channel = models.CharField(_("channel"), max_length=32)
    account_ref = models.CharField(_("account"), max_length=64)
    external_product_id = models.CharField(_("product id"), max_length=64)
    external_sku_id = models.CharField(_("SKU id"), max_length=64)
    seller_sku = models.CharField(_("seller SKU"), max_length=SKU_MAX_LENGTH, blank=True)
    title = models.CharField(_("title"), max_length=255, blank=True)
    status = models.CharField(_("channel status"), max_length=32, blank=True)
    review_status = models.CharField(
        _("review status"),
        max_length=16,
        choices=ReviewStatus.choices,
        default=ReviewStatus.UNKNOWN,
    )
    review_reasons = models.JSONField(_("review reasons"), default=list, blank=True)
    catalog_item = models.ForeignKey(
        CatalogItem,
        verbose_name=_("catalog item"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="listings",
    )
    price = models.DecimalField(
        _("channel price"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    channel_stock = models.PositiveIntegerField(_("channel stock"), null=True, blank=True)
    extra = models.JSONField(default=dict, blank=True)
    external_updated_at = models.DateTimeField(_("updated on the channel"), null=True, blank=True)
    synced_at = models.DateTimeField(_("synced"), null=True, blank=True)

    last_pushed_at = models.DateTimeField(_("last pushed"), null=True, blank=True)
    last_push_result = models.CharField(
        _("last push result"), max_length=16, choices=PushResult.choices, blank=True
    )
    last_push_message = models.TextField(_("last push message"), blank=True)

    pushed_stock = models.PositiveIntegerField(_("stock pushed"), null=True, blank=True)
    stock_pushed_at = models.DateTimeField(_("stock pushed at"), null=True, blank=True)
    stock_attempted_at = models.DateTimeField(_("stock push attempted"), null=True, blank=True)
    stock_push_error = models.TextField(_("stock push error"), blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["channel", "account_ref", "seller_sku", "external_sku_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "channel", "account_ref", "external_sku_id"],
                name="catalog_listing_unique",
            )
        ]
        indexes = [
            models.Index(
                fields=["tenant", "channel", "account_ref", "external_product_id"],
                name="catalog_listing_product_idx",
            ),
            models.Index(fields=["tenant", "seller_sku"], name="catalog_listing_sku_idx"),
        ]
        verbose_name = _("channel listing")
        verbose_name_plural = _("channel listings")

    def __str__(self) -> str:
        return f"{self.channel} {self.account_ref} {self.seller_sku or self.external_sku_id}"

    @property
    def channel_label(self) -> str:
        """The sales channel's (translated) name; its key when the channel is not installed."""
        from .channels import channels

        return str(channels.get(self.channel).label) if self.channel in channels else self.channel

    @property
    def is_matched(self) -> bool:
        return self.catalog_item_id is not None


class StockPush(TenantOwnedModel):
    """One stock update call to a channel: the quantities sent and the channel's answer."""

    class Status(models.TextChoices):
        SUCCEEDED = "succeeded", _("Succeeded")
        PARTIAL = "partial", _("Partly refused")
        FAILED = "failed", _("Failed")

    class Trigger(models.TextChoices):
        CHANGE = "change", _("Stock changed")
        HOURLY = "hourly", _("Hourly")
        MANUAL = "manual", _("Manual")

    channel = models.CharField(_("channel"), max_length=32)
    account_ref = models.CharField(_("account"), max_length=64)
    external_product_id = models.CharField(_("product id"), max_length=64, blank=True)
    trigger = models.CharField(_("trigger"), max_length=16, choices=Trigger.choices)
    #: ``{external SKU id: quantity}`` as sent
    items = models.JSONField(_("items sent"), default=dict)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    provider_answer = models.JSONField(_("provider answer"), default=dict, blank=True)
    request_id = models.CharField(_("request id"), max_length=128, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("sent"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["tenant", "channel", "account_ref", "-created_at"],
                name="catalog_stockpush_recent_idx",
            )
        ]
        verbose_name = _("stock push")
        verbose_name_plural = _("stock pushes")

    def __str__(self) -> str:
        return f"{self.channel} {self.account_ref} {len(self.items)} SKU(s) {self.status}"
