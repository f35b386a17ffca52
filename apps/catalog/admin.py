"""Staff screens: the catalog (editable), channel listings and stock pushes (read-only)."""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import CatalogItem, Listing, StockPush


@admin.register(CatalogItem)
class CatalogItemAdmin(admin.ModelAdmin):
    """Editing ``stock`` here counts as a stock change: the channels push it."""

    list_display = [
        "sku",
        "title",
        "tenant",
        "price",
        "currency",
        "stock",
        "category",
        "stock_changed_at",
        "updated_at",
    ]
    list_filter = ["tenant", "currency", "category"]
    list_select_related = ["tenant"]
    search_fields = ["sku", "title", "category"]
    readonly_fields = ["created_at", "updated_at", "stock_changed_at"]
    ordering = ["tenant", "sku"]

    def save_model(self, request, obj: CatalogItem, form, change: bool) -> None:
        if not change or "stock" in form.changed_data:
            obj.stock_changed_at = timezone.now()
        super().save_model(request, obj, form, change)


@admin.register(Listing)
class ListingAdmin(admin.ModelAdmin):
    """What the channels report; written by their syncs and pushes, so read-only here."""

    list_display = [
        "seller_sku",
        "title",
        "tenant",
        "channel",
        "account_ref",
        "status",
        "review_status",
        "matched",
        "channel_stock",
        "pushed_stock",
        "synced_at",
    ]
    list_filter = ["channel", "review_status", "status", "tenant"]
    list_select_related = ["tenant", "catalog_item"]
    search_fields = ["seller_sku", "title", "external_product_id", "external_sku_id"]
    readonly_fields = [field.name for field in Listing._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(boolean=True, description=_("matched"))
    def matched(self, obj: Listing) -> bool:
        return obj.catalog_item_id is not None


@admin.register(StockPush)
class StockPushAdmin(admin.ModelAdmin):
    list_display = ["created_at", "tenant", "channel", "account_ref", "trigger", "status", "sent"]
    list_filter = ["channel", "status", "trigger", "tenant"]
    list_select_related = ["tenant"]
    search_fields = ["account_ref", "external_product_id", "request_id"]
    readonly_fields = [field.name for field in StockPush._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("SKUs sent"))
    def sent(self, obj: StockPush) -> int:
        return len(obj.items)
