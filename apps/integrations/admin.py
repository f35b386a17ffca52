"""Staff screens: connections with masked tokens and actions; read-only logs."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from . import scheduling, services
from .http import ProviderError
from .models import ApiCallLog, AuditEntry, OAuthState, SyncRun

TOKEN_FIELDS = ("access_token", "refresh_token")


class ConnectionAdmin(admin.ModelAdmin):
    """Base admin for every product's connection table. Tokens are never shown."""

    list_display = [
        "__str__",
        "tenant",
        "status",
        "access_token_state",
        "access_expires_at",
        "last_sync_at",
        "updated_at",
    ]
    list_filter = ["status"]
    list_select_related = ["tenant"]
    search_fields = ["tenant__name", "tenant__slug", "display_name", "external_user_id"]
    exclude = [*TOKEN_FIELDS, "refresh_lease_token"]
    readonly_fields = [
        "tenant",
        "access_token_state",
        "refresh_token_state",
        "access_expires_at",
        "refresh_expires_at",
        "scope_packs",
        "granted_scopes",
        "external_user_id",
        "assets",
        "connected_by",
        "connected_at",
        "disconnected_at",
        "last_error",
        "last_sync_at",
        "last_refreshed_at",
        "refresh_lease_until",
        "created_at",
        "updated_at",
    ]
    actions = ["refresh_now", "test_now", "sync_now", "disconnect_now"]

    def has_add_permission(self, request) -> bool:
        return False  # connections come from OAuth, never typed in

    @admin.display(description=_("access token"))
    def access_token_state(self, obj) -> str:
        return _("set") if obj.access_token else _("not set")

    @admin.display(description=_("refresh token"))
    def refresh_token_state(self, obj) -> str:
        return _("set") if obj.refresh_token else _("not set")

    def _each(self, request, queryset, action, done_message):
        ok = failed = 0
        for connection in queryset:
            try:
                action(connection)
            except (ProviderError, services.ConnectError) as exc:
                failed += 1
                self.message_user(
                    request, f"{connection}: {connection.last_error or exc}", messages.ERROR
                )
            else:
                ok += 1
        if ok:
            self.message_user(request, done_message % {"count": ok}, messages.SUCCESS)

    @admin.action(description=_("Refresh tokens now"))
    def refresh_now(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda c: services.connection_refresh(
                connection=c, stale_token=c.access_token.reveal() if c.access_token else None
            ),
            _("Refreshed %(count)d connection(s)."),
        )

    @admin.action(description=_("Test connection"))
    def test_now(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda c: services.connection_test(connection=c),
            _("%(count)d connection(s) answered."),
        )

    @admin.action(description=_("Sync now"))
    def sync_now(self, request, queryset):
        self._each(
            request,
            queryset.live(),
            lambda c: scheduling.sync_enqueue_all(connection=c, trigger=SyncRun.Trigger.MANUAL),
            _("Queued syncs for %(count)d connection(s)."),
        )

    @admin.action(description=_("Disconnect (revoke and wipe tokens)"))
    def disconnect_now(self, request, queryset):
        self._each(
            request,
            queryset.live(),
            lambda c: services.connection_disconnect(connection=c),
            _("Disconnected %(count)d connection(s)."),
        )


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = [
        "pk",
        "tenant",
        "product",
        "kind",
        "trigger",
        "status",
        "created_at",
        "finished_at",
        "stats",
    ]
    list_filter = ["product", "status", "trigger", "kind"]
    list_select_related = ["tenant"]
    search_fields = ["tenant__slug", "tenant__name", "error", "=connection_id"]
    date_hierarchy = "created_at"


@admin.register(ApiCallLog)
class ApiCallLogAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "tenant",
        "product",
        "method",
        "path",
        "status_code",
        "provider_code",
        "request_id",
        "duration_ms",
        "attempt",
    ]
    list_filter = ["product", "method", "status_code"]
    list_select_related = ["tenant"]
    search_fields = ["path", "request_id", "provider_code", "tenant__slug"]
    date_hierarchy = "created_at"


@admin.register(OAuthState)
class OAuthStateAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "tenant", "user", "product", "expires_at", "consumed_at"]
    list_filter = ["product"]
    list_select_related = ["tenant", "user"]
    exclude = ["state_hash", "pkce_verifier"]


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "tenant",
        "user",
        "product",
        "action",
        "object_type",
        "object_id",
        "outcome",
    ]
    list_filter = ["product", "action", "outcome"]
    list_select_related = ["tenant", "user"]
    search_fields = ["object_id", "tenant__slug", "user__username", "error"]
    date_hierarchy = "created_at"
