import json

from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.integrations.admin import ReadOnlyAdmin

from .models import WebhookEvent
from .services import events_replay


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = [
        "received_at",
        "source",
        "event_type",
        "account_ref",
        "tenant",
        "status",
        "attempts",
        "processed_at",
    ]
    list_filter = ["status", "source", "event_type"]
    search_fields = ["event_id", "account_ref", "correlation_id"]
    list_select_related = ["tenant"]
    date_hierarchy = "received_at"
    actions = ["replay"]
    exclude = ["payload", "claim_token"]
    readonly_fields = ["payload_pretty"]

    @admin.display(description=_("payload"))
    def payload_pretty(self, obj: WebhookEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, sort_keys=True))

    @admin.action(description=_("Replay (queue again, attempts reset)"))
    def replay(self, request, queryset):
        count = events_replay(queryset)
        self.message_user(
            request,
            ngettext("%(n)d event queued again.", "%(n)d events queued again.", count)
            % {"n": count},
            messages.SUCCESS,
        )
