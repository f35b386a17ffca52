"""Staff screens: profiles (tokens masked, core actions), ad accounts, insights, WhatsApp numbers."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from apps.integrations.admin import ConnectionAdmin
from apps.integrations.http import ProviderError

from . import services
from .models import (
    MetaAdAccount,
    MetaAdAccountAccess,
    MetaAdInsight,
    MetaDataDeletionRequest,
    MetaProfile,
    WhatsAppNumber,
)

admin.site.register(MetaProfile, ConnectionAdmin)


class AccessInline(admin.TabularInline):
    model = MetaAdAccountAccess
    fields = ["profile", "seen_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(MetaAdAccount)
class MetaAdAccountAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "account_id",
        "tenant",
        "currency",
        "status",
        "tracking_enabled",
        "pixel_id",
    ]
    list_filter = ["tracking_enabled", "status"]
    list_select_related = ["tenant"]
    search_fields = ["name", "account_id", "tenant__slug"]
    readonly_fields = [
        "tenant",
        "account_id",
        "name",
        "currency",
        "status",
        "disable_reason",
        "timezone_name",
        "business_id",
        "business_name",
        "pixels",
        "pixels_fetched_at",
        "raw",
        "synced_at",
    ]
    fields = ["tracking_enabled", "pixel_id", "pixel_name", *readonly_fields]
    inlines = [AccessInline]

    def has_add_permission(self, request) -> bool:
        return False  # accounts come from the ad_accounts sync


@admin.register(MetaAdInsight)
class MetaAdInsightAdmin(admin.ModelAdmin):
    list_display = [
        "ad_id",
        "ad_name",
        "date",
        "spend",
        "currency",
        "impressions",
        "clicks",
        "messaging_conversations_started",
        "tenant",
    ]
    list_filter = ["date"]
    list_select_related = ["tenant"]
    search_fields = ["ad_id", "ad_name", "campaign_name"]
    date_hierarchy = "date"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WhatsAppNumber)
class WhatsAppNumberAdmin(admin.ModelAdmin):
    """Staff may register a tenant's number here as well as on the hub."""

    list_display = [
        "__str__",
        "phone_number_id",
        "waba_id",
        "tenant",
        "conversions_enabled",
        "conversions_dataset_id",
    ]
    list_filter = ["conversions_enabled"]
    list_select_related = ["tenant"]
    search_fields = ["phone_number_id", "waba_id", "display_phone_number", "tenant__slug"]
    readonly_fields = ["conversions_dataset_id", "conversions_error", "created_at", "updated_at"]
    actions = ["conversions_on"]

    @admin.action(description=_("Turn conversions on (fetch or create the WABA dataset)"))
    def conversions_on(self, request, queryset):
        for number in queryset.select_related("tenant"):
            try:
                services.whatsapp_conversions_set(number=number, enabled=True, user=request.user)
            except ProviderError as exc:
                self.message_user(request, f"{number}: {exc}", messages.ERROR)
            else:
                self.message_user(
                    request, f"{number}: {number.conversions_dataset_id}", messages.SUCCESS
                )


@admin.register(MetaDataDeletionRequest)
class MetaDataDeletionRequestAdmin(admin.ModelAdmin):
    list_display = ["confirmation_code", "status", "profiles_deleted", "requested_at"]
    readonly_fields = [
        "confirmation_code",
        "user_hash",
        "status",
        "profiles_deleted",
        "requested_at",
        "completed_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False
