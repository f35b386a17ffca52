import json

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.integrations.admin import ReadOnlyAdmin

from . import breaker
from .models import (
    ConversionDestination,
    ConversionEvent,
    ConversionMapping,
    DeliveryAttempt,
    LeadFormEndpoint,
)
from .services import events_resend


@admin.register(ConversionEvent)
class ConversionEventAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "tenant",
        "platform",
        "event_name",
        "event_id",
        "status",
        "attempts",
        "destination",
        "value",
        "currency",
        "sent_at",
        "trace_id",
    ]
    list_filter = ["status", "platform", "event_name"]
    search_fields = ["event_id", "trace_id"]
    list_select_related = ["tenant", "destination"]
    date_hierarchy = "created_at"
    actions = ["resend"]
    exclude = ["payload", "claim_token"]
    readonly_fields = ["payload_pretty"]

    @admin.display(description=_("payload as sent"))
    def payload_pretty(self, obj: ConversionEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, sort_keys=True))

    @admin.action(description=_("Resend failed events (same event ids, attempts reset)"))
    def resend(self, request, queryset):
        count = events_resend(events=queryset)
        self.message_user(
            request,
            ngettext("%(n)d event queued again.", "%(n)d events queued again.", count)
            % {"n": count},
            messages.SUCCESS,
        )


@admin.register(ConversionDestination)
class ConversionDestinationAdmin(admin.ModelAdmin):
    list_display = [
        "tenant",
        "platform",
        "label",
        "external_id",
        "kind",
        "breaker_state",
        "consecutive_failures",
        "retry_at",
        "last_success_at",
        "last_failure_at",
    ]
    list_filter = ["platform", "kind", "breaker_state"]
    search_fields = ["external_id", "label"]
    list_select_related = ["tenant"]
    readonly_fields = [
        "tenant",
        "platform",
        "external_id",
        "breaker_state",
        "consecutive_failures",
        "cooldown_seconds",
        "opened_at",
        "retry_at",
        "last_success_at",
        "last_failure_at",
        "last_error",
        "last_test_at",
        "last_test_result",
    ]
    actions = ["reset_breaker"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description=_("Reset the breaker (send again now)"))
    def reset_breaker(self, request, queryset):
        now = timezone.now()
        for destination in queryset:
            breaker.reset(destination=destination, now=now)
        self.message_user(request, _("Breakers closed."), messages.SUCCESS)


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(ReadOnlyAdmin):
    list_display = [
        "started_at",
        "tenant",
        "destination",
        "events",
        "outcome",
        "probe",
        "test",
        "status_code",
        "provider_code",
        "trace_id",
        "duration_ms",
    ]
    list_filter = ["outcome", "probe", "test"]
    list_select_related = ["tenant", "destination"]
    date_hierarchy = "started_at"


@admin.register(ConversionMapping)
class ConversionMappingAdmin(admin.ModelAdmin):
    list_display = [
        "tenant",
        "meta_qualified",
        "meta_won",
        "meta_target",
        "tiktok_qualified",
        "tiktok_won",
    ]
    list_select_related = ["tenant"]


@admin.register(LeadFormEndpoint)
class LeadFormEndpointAdmin(ReadOnlyAdmin):
    list_display = ["tenant", "token_masked", "created_at", "rotated_at"]
    list_select_related = ["tenant"]
    exclude = ["token"]
    readonly_fields = ["token_masked"]

    @admin.display(description=_("URL token"))
    def token_masked(self, obj: LeadFormEndpoint) -> str:
        return f"{obj.token[:4]}…" if obj.token else ""
