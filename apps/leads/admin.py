"""Staff screens for tickets and everything around them.

Contact identifiers (``wa_id``, ``user_id``) and message text are PII: staff
see them here, but they are never written to logs. Histories
(:class:`AttributionChange`, :class:`StageChange`) are read-only: they record
what happened. Tickets and trackings are read-only too, except for the
actions (enrich again).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import services
from .models import (
    AttributionChange,
    Contact,
    LeadSettings,
    Message,
    StageChange,
    Ticket,
    TicketTracking,
)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class MessageInline(ReadOnlyInline):
    model = Message
    fields = ["sent_at", "direction", "provider_message_id", "text", "delivery_state"]
    ordering = ["-sent_at"]


class AttributionChangeInline(ReadOnlyInline):
    model = AttributionChange
    fields = ["at", "platform", "from_ad_id", "to_ad_id", "message"]


class StageChangeInline(ReadOnlyInline):
    model = StageChange
    fields = ["at", "from_stage", "to_stage", "by", "value", "currency"]


class TrackingInline(admin.StackedInline):
    model = TicketTracking
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(LeadSettings)
class LeadSettingsAdmin(admin.ModelAdmin):
    list_display = ["tenant", "ticket_expiration_days", "default_currency", "updated_at"]
    list_select_related = ["tenant"]
    readonly_fields = ["updated_at", "updated_by"]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["__str__", "tenant", "wa_id", "user_id", "created_at"]
    list_select_related = ["tenant"]
    search_fields = ["name", "wa_id", "user_id", "tenant__name", "tenant__slug"]
    readonly_fields = ["tenant", "created_at", "updated_at"]


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "tenant",
        "contact",
        "channel",
        "status",
        "stage",
        "deal_value",
        "currency",
        "last_message_at",
    ]
    list_filter = ["channel", "status", "stage"]
    list_select_related = ["tenant", "contact"]
    search_fields = [
        "contact__name",
        "contact__wa_id",
        "contact__user_id",
        "conversation_id",
        "tenant__name",
    ]
    date_hierarchy = "last_message_at"
    inlines = [TrackingInline, AttributionChangeInline, StageChangeInline, MessageInline]

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        # Stages move through the Leads page, which records who moved them.
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False  # tickets open from messages


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = [
        "provider_message_id",
        "tenant",
        "ticket",
        "direction",
        "delivery_state",
        "sent_at",
    ]
    list_filter = ["channel", "direction", "delivery_state"]
    list_select_related = ["tenant", "ticket"]
    search_fields = ["provider_message_id"]
    raw_id_fields = ["ticket", "sent_by"]

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(TicketTracking)
class TicketTrackingAdmin(admin.ModelAdmin):
    list_display = [
        "ticket",
        "tenant",
        "platform",
        "ad_id",
        "campaign_name",
        "ad_name",
        "has_click_id",
        "enrichment_status",
        "enrichment_attempts",
        "enrichment_next_attempt_at",
    ]
    list_filter = ["platform", "enrichment_status", "source_type"]
    list_select_related = ["tenant", "ticket"]
    search_fields = ["ad_id", "campaign_id", "campaign_name", "ad_name"]
    actions = ["enrich_again"]

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(boolean=True, description=_("click id"))
    def has_click_id(self, obj: TicketTracking) -> bool:
        return obj.has_click_id

    @admin.action(description=_("Look the ads up again"))
    def enrich_again(self, request, queryset) -> None:
        count = services.tracking_enrich_again(trackings=queryset)
        self.message_user(
            request,
            ngettext("%(count)d lookup queued.", "%(count)d lookups queued.", count)
            % {"count": count},
            messages.SUCCESS,
        )


class HistoryAdmin(admin.ModelAdmin):
    list_select_related = ["tenant", "ticket"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AttributionChange)
class AttributionChangeAdmin(HistoryAdmin):
    list_display = ["ticket", "tenant", "platform", "from_ad_id", "to_ad_id", "at"]
    search_fields = ["from_ad_id", "to_ad_id"]


@admin.register(StageChange)
class StageChangeAdmin(HistoryAdmin):
    list_display = ["ticket", "tenant", "from_stage", "to_stage", "by", "value", "currency", "at"]
    list_filter = ["to_stage"]
    list_select_related = ["tenant", "ticket", "by"]
