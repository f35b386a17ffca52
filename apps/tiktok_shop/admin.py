"""Staff screens: the connection (tokens masked by the core); shops, orders, packages,
returns and finance records read-only.

Orders come from TikTok and are overwritten by every sync, so they are read
only here. The held App Store codes are never shown.
"""

from django.contrib import admin

from apps.integrations.admin import ConnectionAdmin, ReadOnlyAdmin

from .models import (
    Order,
    OrderLine,
    OrderStatusChange,
    Package,
    Payment,
    PendingShopAuthorization,
    ReturnRequest,
    ShippingProvider,
    Shop,
    Statement,
    StatementTransaction,
    TikTokShopConnection,
)

admin.site.register(TikTokShopConnection, ConnectionAdmin)


@admin.register(Shop)
class ShopAdmin(ReadOnlyAdmin):
    list_display = [
        "name",
        "shop_id",
        "tenant",
        "region",
        "seller_type",
        "authorized",
        "updated_at",
    ]
    list_filter = ["region", "seller_type", "authorized"]
    list_select_related = ["tenant"]
    search_fields = ["name", "=shop_id", "tenant__slug", "tenant__name"]
    # The cipher is not a secret (it only names the shop in calls), but nobody needs to read it.
    exclude = ["cipher"]


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    can_delete = False
    fields = ["seller_sku", "sku_id", "product_name", "quantity", "sale_price", "currency"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class OrderStatusChangeInline(admin.TabularInline):
    model = OrderStatusChange
    extra = 0
    can_delete = False
    fields = ["changed_at", "kind", "from_status", "to_status", "source", "detail"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ["order_id", "tenant", "shop", "status", "create_time", "total_amount"]
    list_filter = ["status", "shop__region"]
    list_select_related = ["tenant", "shop"]
    search_fields = ["=order_id", "tenant__slug"]
    date_hierarchy = "create_time"
    inlines = [OrderLineInline, OrderStatusChangeInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


@admin.register(PendingShopAuthorization)
class PendingShopAuthorizationAdmin(ReadOnlyAdmin):
    list_display = ["pk", "user", "created_at", "expires_at", "consumed_at"]
    list_select_related = ["user"]
    exclude = ["code", "token_hash"]


# --- fulfillment, returns, finance (synced from TikTok: read only) -----------------------------


class _SyncedAdmin(ReadOnlyAdmin):
    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


@admin.register(ShippingProvider)
class ShippingProviderAdmin(_SyncedAdmin):
    list_display = ["name", "provider_id", "shop", "tenant", "delivery_option_name", "synced_at"]
    list_select_related = ["tenant", "shop"]
    search_fields = ["name", "=provider_id", "tenant__slug"]


@admin.register(Package)
class PackageAdmin(_SyncedAdmin):
    list_display = ["package_id", "tenant", "shop", "status", "tracking_number", "synced_at"]
    list_filter = ["status"]
    list_select_related = ["tenant", "shop"]
    search_fields = ["=package_id", "=tracking_number", "tenant__slug"]


@admin.register(ReturnRequest)
class ReturnRequestAdmin(_SyncedAdmin):
    list_display = [
        "return_id",
        "tenant",
        "tiktok_order_id",
        "return_type",
        "status",
        "refund_amount",
        "currency",
        "seller_deadline",
    ]
    list_filter = ["status", "return_type"]
    list_select_related = ["tenant"]
    search_fields = ["=return_id", "=tiktok_order_id", "tenant__slug"]
    date_hierarchy = "create_time"


@admin.register(Statement)
class StatementAdmin(_SyncedAdmin):
    list_display = [
        "statement_id",
        "tenant",
        "shop",
        "statement_time",
        "currency",
        "revenue_amount",
        "fee_amount",
        "settlement_amount",
        "payment_status",
    ]
    list_filter = ["currency", "payment_status"]
    list_select_related = ["tenant", "shop"]
    search_fields = ["=statement_id", "tenant__slug"]
    date_hierarchy = "statement_time"


@admin.register(Payment)
class PaymentAdmin(_SyncedAdmin):
    list_display = ["payment_id", "tenant", "shop", "create_time", "status", "amount", "currency"]
    list_filter = ["status", "currency"]
    list_select_related = ["tenant", "shop"]
    search_fields = ["=payment_id", "tenant__slug"]


@admin.register(StatementTransaction)
class StatementTransactionAdmin(_SyncedAdmin):
    list_display = ["transaction_id", "tenant", "type", "order_id", "settlement_amount", "currency"]
    list_filter = ["type", "currency"]
    list_select_related = ["tenant"]
    search_fields = ["=transaction_id", "=order_id", "tenant__slug"]
