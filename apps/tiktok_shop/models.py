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
        HUB = "hub", _("Hub action")

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


# --- fulfillment, returns and finance (issue #6) -----------------------------------------------

#: Money columns: TikTok sends amounts as decimal strings; never floats.
MONEY = {"max_digits": 16, "decimal_places": 2, "null": True, "blank": True}


class ShippingProvider(TenantOwnedModel):
    """A carrier a shop may ship with: warehouses -> delivery options -> shipping providers.

    Refreshed from ``GET /logistics/202309/delivery_options/{id}/shipping_providers``;
    the id is what ``self_shipment.shipping_provider_id`` takes.
    """

    shop = models.ForeignKey(
        Shop, on_delete=models.CASCADE, related_name="shipping_providers", db_index=False
    )
    provider_id = models.CharField(_("provider id"), max_length=64)
    name = models.CharField(_("name"), max_length=255)
    delivery_option_id = models.CharField(max_length=64, blank=True)
    delivery_option_name = models.CharField(max_length=255, blank=True)
    synced_at = models.DateTimeField()

    class Meta:
        ordering = ["name", "provider_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "provider_id"], name="tiktok_shop_provider_unique"
            )
        ]
        verbose_name = _("TikTok Shop shipping provider")

    def __str__(self) -> str:
        return self.name or self.provider_id


class Package(TenantOwnedModel):
    """A package of an order (``/fulfillment/202309/packages/{id}``).

    One package may hold several orders (combined); ``order`` is the first one
    named, ``order_ids`` all of them.
    """

    shop = models.ForeignKey(
        Shop, on_delete=models.CASCADE, related_name="packages", db_index=False
    )
    order = models.ForeignKey(
        Order, on_delete=models.SET_NULL, null=True, blank=True, related_name="packages"
    )
    package_id = models.CharField(_("package id"), max_length=64)
    order_ids = models.JSONField(default=list, blank=True)
    status = models.CharField(_("status"), max_length=32, blank=True)
    tracking_number = models.CharField(_("tracking number"), max_length=128, blank=True)
    shipping_provider_id = models.CharField(max_length=64, blank=True)
    shipping_provider_name = models.CharField(max_length=255, blank=True)
    order_line_item_ids = models.JSONField(default=list, blank=True)
    #: the shipping document (label) link TikTok last gave; it expires on TikTok's side
    label_url = models.URLField(max_length=2000, blank=True)
    update_time = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField()

    class Meta:
        ordering = ["package_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "package_id"], name="tiktok_shop_package_unique"
            )
        ]
        verbose_name = _("TikTok Shop package")

    def __str__(self) -> str:
        return self.package_id


#: Return statuses (contract §3.5, type 12) in words; others show as sent.
RETURN_STATUSES: tuple[tuple[str, Promise], ...] = (
    ("RETURN_OR_REFUND_REQUEST_PENDING", _("Request pending")),
    ("REFUND_OR_RETURN_REQUEST_REJECT", _("Request rejected")),
    ("AWAITING_BUYER_SHIP", _("Awaiting buyer shipment")),
    ("BUYER_SHIPPED_ITEM", _("Buyer shipped the item")),
    ("REJECT_RECEIVE_PACKAGE", _("Package rejected")),
    ("RETURN_OR_REFUND_REQUEST_SUCCESS", _("Approved")),
    ("RETURN_OR_REFUND_REQUEST_CANCEL", _("Cancelled by the buyer")),
    ("RETURN_OR_REFUND_REQUEST_COMPLETE", _("Completed")),
    ("REPLACEMENT_REQUEST_PENDING", _("Replacement pending")),
    ("REPLACEMENT_REQUEST_REJECT", _("Replacement rejected")),
    ("REPLACEMENT_REQUEST_REFUND_SUCCESS", _("Replacement refunded")),
    ("REPLACEMENT_REQUEST_CANCEL", _("Replacement cancelled")),
    ("REPLACEMENT_REQUEST_COMPLETE", _("Replacement completed")),
)
RETURN_STATUS_LABELS = dict(RETURN_STATUSES)


class ReturnRequest(TenantOwnedModel):
    """A return or refund request (``/return_refund/202309/returns/search``).

    ``refund_amount`` is the request's total refund with its ``currency``;
    ``line_items`` keeps TikTok's return line items as sent (SKU, name,
    refund); ``seller_deadline`` is the earliest deadline of
    ``seller_next_action_response``: after it TikTok decides for the seller.
    """

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="returns", db_index=False)
    order = models.ForeignKey(
        Order, on_delete=models.SET_NULL, null=True, blank=True, related_name="returns"
    )
    return_id = models.CharField(_("return id"), max_length=64)
    #: TikTok's order id (``order`` is set once that order is synced)
    tiktok_order_id = models.CharField(_("order id"), max_length=64, blank=True)
    return_type = models.CharField(_("type"), max_length=32, blank=True)
    status = models.CharField(_("status"), max_length=64)
    role = models.CharField(max_length=16, blank=True)
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    reason_text = models.TextField(_("reason text"), blank=True)
    refund_amount = models.DecimalField(_("refund"), **MONEY)
    currency = models.CharField(_("currency"), max_length=8, blank=True)
    line_items = models.JSONField(default=list, blank=True)
    seller_next_actions = models.JSONField(default=list, blank=True)
    seller_deadline = models.DateTimeField(_("seller deadline"), null=True, blank=True)
    return_tracking_number = models.CharField(max_length=128, blank=True)
    create_time = models.DateTimeField(_("created"))
    update_time = models.DateTimeField(_("updated"))
    synced_at = models.DateTimeField()

    class Meta:
        ordering = ["-create_time", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["shop", "return_id"], name="tiktok_shop_return_unique")
        ]
        indexes = [
            models.Index(fields=["tenant", "-create_time"], name="tts_return_tenant_created_idx"),
        ]
        verbose_name = _("TikTok Shop return")

    def __str__(self) -> str:
        return self.return_id

    @property
    def status_label(self) -> str:
        return str(RETURN_STATUS_LABELS.get(self.status, self.status))


class Statement(TenantOwnedModel):
    """A daily settlement statement (``/finance/202309/statements``), amounts in ``currency``.

    ``settlement_amount`` is the net paid to the seller: revenue + fees (negative)
    + shipping (negative) + adjustments.
    """

    shop = models.ForeignKey(
        Shop, on_delete=models.CASCADE, related_name="statements", db_index=False
    )
    statement_id = models.CharField(_("statement id"), max_length=64)
    statement_time = models.DateTimeField(_("statement time"))
    currency = models.CharField(_("currency"), max_length=8)
    revenue_amount = models.DecimalField(_("revenue"), **MONEY)
    fee_amount = models.DecimalField(_("platform fees"), **MONEY)
    shipping_cost_amount = models.DecimalField(_("shipping"), **MONEY)
    adjustment_amount = models.DecimalField(_("adjustments"), **MONEY)
    net_sales_amount = models.DecimalField(_("net sales"), **MONEY)
    settlement_amount = models.DecimalField(_("net settlement"), **MONEY)
    payment_status = models.CharField(max_length=16, blank=True)
    payment_id = models.CharField(max_length=64, blank=True)
    #: when this statement's transactions were last fetched (the transactions kind)
    transactions_synced_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField()

    class Meta:
        ordering = ["-statement_time", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "statement_id"], name="tiktok_shop_statement_unique"
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "statement_time"], name="tts_statement_tenant_time_idx"),
        ]
        verbose_name = _("TikTok Shop statement")

    def __str__(self) -> str:
        return self.statement_id


class Payment(TenantOwnedModel):
    """A payout to the seller's bank account (``/finance/202309/payments``)."""

    shop = models.ForeignKey(
        Shop, on_delete=models.CASCADE, related_name="payments", db_index=False
    )
    payment_id = models.CharField(_("payment id"), max_length=64)
    create_time = models.DateTimeField(_("created"))
    paid_time = models.DateTimeField(_("paid"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, blank=True)
    amount = models.DecimalField(_("amount"), **MONEY)
    currency = models.CharField(_("currency"), max_length=8, blank=True)
    settlement_amount = models.DecimalField(**MONEY)
    settlement_currency = models.CharField(max_length=8, blank=True)
    reserve_amount = models.DecimalField(**MONEY)
    exchange_rate = models.DecimalField(max_digits=20, decimal_places=10, null=True, blank=True)
    #: masked by TikTok (``****1234``)
    bank_account = models.CharField(max_length=64, blank=True)
    synced_at = models.DateTimeField()

    class Meta:
        ordering = ["-create_time", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "payment_id"], name="tiktok_shop_payment_unique"
            )
        ]
        verbose_name = _("TikTok Shop payment")

    def __str__(self) -> str:
        return self.payment_id


class StatementTransaction(TenantOwnedModel):
    """One line of a statement: an order's settlement (or an adjustment), with its breakdown.

    From ``GET /finance/202309/statements/{id}/statement_transactions``; ``order_id``
    ties it to an order (adjustments may have none).
    """

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+", db_index=False)
    statement = models.ForeignKey(
        Statement, on_delete=models.CASCADE, related_name="transactions", db_index=False
    )
    transaction_id = models.CharField(max_length=64)
    type = models.CharField(max_length=32, blank=True)
    order_id = models.CharField(max_length=64, blank=True, db_index=True)
    currency = models.CharField(max_length=8, blank=True)
    revenue_amount = models.DecimalField(**MONEY)
    fee_amount = models.DecimalField(**MONEY)
    shipping_cost_amount = models.DecimalField(**MONEY)
    adjustment_amount = models.DecimalField(**MONEY)
    settlement_amount = models.DecimalField(**MONEY)
    synced_at = models.DateTimeField()

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["statement", "transaction_id"], name="tiktok_shop_statement_tx_unique"
            )
        ]
        verbose_name = _("TikTok Shop statement transaction")

    def __str__(self) -> str:
        return self.transaction_id
