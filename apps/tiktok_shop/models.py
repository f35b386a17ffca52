from django.conf import settings
from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from apps.integrations.fields import EncryptedTextField
from apps.integrations.models import Connection
from apps.tenants.models import Tenant, TenantOwnedModel


class TikTokShopConnection(Connection):
    """The tenant's one TikTok Shop connection (one per tenant)."""

    provider_key = "tiktok_shop"

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="tiktok_shop_one_connection_per_tenant")
        ]
        verbose_name = _("TikTok Shop connection")


class Shop(TenantOwnedModel):
    """A shop the seller's authorization reaches (``authorization/202309/shops``).

    One authorization covers several shops; each shop-scoped call carries that
    shop's ``cipher``, never another shop's.
    """

    connection = models.ForeignKey(
        TikTokShopConnection, on_delete=models.CASCADE, related_name="shops"
    )
    shop_id = models.CharField(_("shop id"), max_length=64)
    name = models.CharField(_("name"), max_length=255, blank=True)
    region = models.CharField(_("region"), max_length=8, blank=True)
    seller_type = models.CharField(_("seller type"), max_length=32, blank=True)
    cipher = models.CharField(_("cipher"), max_length=255)
    #: False once the seller's authorization no longer lists the shop (kept with its orders)
    authorized = models.BooleanField(_("authorized"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "shop_id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "shop_id"], name="tiktok_shop_shop_unique")
        ]
        verbose_name = _("TikTok shop")

    def __str__(self) -> str:
        return self.name or self.shop_id


#: The 202309 order statuses (contract §3.6), in lifecycle order, for filters and badges.
ORDER_STATUSES: tuple[tuple[str, Promise], ...] = (
    ("UNPAID", _("Unpaid")),
    ("ON_HOLD", _("On hold")),
    ("AWAITING_SHIPMENT", _("Awaiting shipment")),
    ("PARTIALLY_SHIPPING", _("Partially shipping")),
    ("AWAITING_COLLECTION", _("Awaiting collection")),
    ("IN_TRANSIT", _("In transit")),
    ("DELIVERED", _("Delivered")),
    ("COMPLETED", _("Completed")),
    ("CANCELLED", _("Cancelled")),
)
STATUS_LABELS = dict(ORDER_STATUSES)


class Order(TenantOwnedModel):
    """A TikTok Shop order, as ``/order/202309/orders/search`` and ``GET .../orders`` give it.

    Only what fulfillment needs is kept: amounts, the shipping choices and the
    recipient. ``recipient_*`` and ``buyer_message`` are buyer PII: shown to
    the tenant, never logged, never put in an error message. Amounts are the
    API's strings parsed as decimals; times are the API's Unix seconds.
    """

    # Indexed by the (shop, order_id) unique key, whose first column it is.
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="orders", db_index=False)
    order_id = models.CharField(_("order id"), max_length=64)
    status = models.CharField(_("status"), max_length=32)
    create_time = models.DateTimeField(_("created"))
    update_time = models.DateTimeField(_("updated"))
    paid_time = models.DateTimeField(_("paid"), null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=8, blank=True)
    sub_total = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    shipping_fee = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    seller_discount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    platform_discount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    tax = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    total_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    fulfillment_type = models.CharField(max_length=32, blank=True)
    shipping_type = models.CharField(max_length=16, blank=True)
    delivery_type = models.CharField(max_length=32, blank=True)
    shipping_provider = models.CharField(max_length=128, blank=True)
    tracking_number = models.CharField(max_length=128, blank=True)
    is_cod = models.BooleanField(default=False)
    is_on_hold = models.BooleanField(default=False)
    #: the buyer's TikTok user id (opens a customer-service conversation), not PII by itself
    buyer_user_id = models.CharField(max_length=64, blank=True)
    buyer_message = models.TextField(blank=True)
    recipient_name = models.CharField(max_length=255, blank=True)
    recipient_phone = models.CharField(max_length=64, blank=True)
    recipient_address = models.TextField(blank=True)
    recipient_postal_code = models.CharField(max_length=32, blank=True)
    recipient_region = models.CharField(max_length=8, blank=True)
    #: units in the order (TikTok lists one line item per unit)
    item_count = models.PositiveIntegerField(default=0)
    synced_at = models.DateTimeField()

    class Meta:
        ordering = ["-create_time", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["shop", "order_id"], name="tiktok_shop_order_unique")
        ]
        indexes = [
            models.Index(fields=["tenant", "-create_time"], name="tts_order_tenant_created_idx"),
            models.Index(fields=["tenant", "status"], name="tts_order_tenant_status_idx"),
        ]
        verbose_name = _("TikTok Shop order")

    def __str__(self) -> str:
        return self.order_id

    @property
    def status_label(self) -> str:
        """The status in words; a status TikTok adds later shows as sent."""
        return str(STATUS_LABELS.get(self.status, self.status))


class OrderLine(TenantOwnedModel):
    """One SKU of an order with its quantity.

    TikTok's 202309 line items have no quantity: an order lists one line item
    per unit. They are grouped here per ``sku_id``; ``line_item_ids`` keeps
    TikTok's ids (packages and returns name them).
    """

    # Indexed by the (order, sku_id) unique key, whose first column it is.
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", db_index=False)
    #: the order's tenant, copied for scoping; lines are always read through their order,
    #: whose foreign key the database checks: a second check (and index) per line would
    #: only add to every sync page's cost
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    sku_id = models.CharField(_("SKU id"), max_length=64)
    seller_sku = models.CharField(_("seller SKU"), max_length=128, blank=True)
    product_id = models.CharField(_("product id"), max_length=64, blank=True)
    product_name = models.CharField(max_length=512, blank=True)
    sku_name = models.CharField(max_length=255, blank=True)
    quantity = models.PositiveIntegerField(default=1)
    currency = models.CharField(max_length=8, blank=True)
    #: per unit
    sale_price = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    original_price = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    #: sum over the units
    seller_discount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    platform_discount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    line_item_ids = models.JSONField(default=list, blank=True)
    package_status = models.CharField(max_length=32, blank=True)
    synced_at = models.DateTimeField()

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["order", "sku_id"], name="tiktok_shop_line_unique")
        ]
        verbose_name = _("TikTok Shop order line")

    def __str__(self) -> str:
        return f"{self.seller_sku or self.sku_id} x{self.quantity}"


class OrderStatusChange(TenantOwnedModel):
    """One step of an order's history: its status, or a return/cancellation event on it.

    ``kind`` ``order`` rows are written when a sync or a webhook refetch sees a
    status that differs from the last one recorded; ``return`` and
    ``cancellation`` rows come from reverse-order webhooks. ``changed_at`` is
    TikTok's time; the unique key makes a replayed webhook or an overlapping
    sync page a no-op.
    """

    class Kind(models.TextChoices):
        ORDER = "order", _("Order status")
        RETURN = "return", _("Return")
        CANCELLATION = "cancellation", _("Cancellation")

    class Source(models.TextChoices):
        SYNC = "sync", _("Sync")
        WEBHOOK = "webhook", _("Webhook")

    # Indexed by the unique key below, whose first column it is.
    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="status_changes", db_index=False
    )
    #: the order's tenant, copied for scoping (see ``OrderLine.tenant``)
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.ORDER)
    from_status = models.CharField(max_length=64, blank=True)
    to_status = models.CharField(max_length=64)
    changed_at = models.DateTimeField()
    source = models.CharField(max_length=16, choices=Source.choices)
    #: return / cancellation ids and types from the webhook
    detail = models.JSONField(default=dict, blank=True)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["changed_at", "pk"]
        constraints = [
            # Also the index of "the last change of this order" (read backwards).
            models.UniqueConstraint(
                fields=["order", "kind", "changed_at", "to_status"],
                name="tiktok_shop_status_change_once",
            )
        ]
        verbose_name = _("TikTok Shop order status change")

    def __str__(self) -> str:
        return f"{self.order_id}: {self.from_status or '-'} -> {self.to_status}"


class PendingShopAuthorization(models.Model):
    """An authorization that arrived without ``state`` (started in the Seller Center App Store).

    The hub cannot tell which tenant it is for, so nothing is exchanged or
    saved: the code waits here, encrypted, for the logged-in user who brought
    it to pick one of the tenants they administer. Only the SHA-256 of the
    confirmation token is stored; the record is single use and short-lived
    (TikTok's code itself dies after 30 minutes).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    code = EncryptedTextField()
    expires_at = models.DateTimeField()
    consumed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="tts_pending_expires_idx")]
        verbose_name = _("pending TikTok Shop authorization")

    def __str__(self) -> str:
        return f"pending TikTok Shop authorization #{self.pk}"
