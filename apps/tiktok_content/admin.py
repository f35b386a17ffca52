"""Staff screens for TikTok Content: the connection (tokens masked), synced rows, posts.

Synced rows are read-only (the next sync would overwrite an edit). Posts can
be polled now, for support ("is it stuck?").
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from apps.integrations.admin import ConnectionAdmin

from . import publishing
from .models import (
    PublishJob,
    TikTokContentConnection,
    TikTokCreatorProfile,
    TikTokVideo,
    TikTokVideoDailySnapshot,
)

admin.site.register(TikTokContentConnection, ConnectionAdmin)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the syncs own: staff look, never type."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(TikTokCreatorProfile)
class TikTokCreatorProfileAdmin(ReadOnlyAdmin):
    list_display = [
        "__str__",
        "tenant",
        "display_name",
        "follower_count",
        "video_count",
        "synced_at",
    ]
    list_select_related = ["tenant"]
    search_fields = ["tenant__name", "username", "display_name", "open_id"]


@admin.register(TikTokVideo)
class TikTokVideoAdmin(ReadOnlyAdmin):
    list_display = [
        "__str__",
        "tenant",
        "video_id",
        "provider_created_at",
        "view_count",
        "like_count",
        "comment_count",
        "share_count",
        "synced_at",
    ]
    list_select_related = ["tenant"]
    list_filter = ["synced_at"]
    search_fields = ["tenant__name", "video_id", "title", "description"]
    date_hierarchy = "provider_created_at"


@admin.register(TikTokVideoDailySnapshot)
class TikTokVideoDailySnapshotAdmin(ReadOnlyAdmin):
    list_display = ["video", "tenant", "date", "view_count", "like_count", "comment_count"]
    list_select_related = ["video", "tenant"]
    list_filter = ["date"]
    search_fields = ["video__video_id", "video__title", "tenant__name"]
    date_hierarchy = "date"


@admin.register(PublishJob)
class PublishJobAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "tenant",
        "mode",
        "source",
        "status",
        "provider_status",
        "progress",
        "created_by",
        "created_at",
        "finished_at",
    ]
    list_select_related = ["tenant", "created_by"]
    list_filter = ["status", "mode", "source"]
    search_fields = ["tenant__name", "publish_id", "file_name", "video_url"]
    readonly_fields = [f.name for f in PublishJob._meta.concrete_fields]
    actions = ["poll_now"]

    def has_add_permission(self, request) -> bool:
        return False  # posts come from the Content page, with the creator's options

    @admin.action(description=_("Ask TikTok for the status now"))
    def poll_now(self, request, queryset):
        polled = 0
        for job in queryset.select_related("connection__tenant"):
            if job.status != PublishJob.Status.PROCESSING or not job.publish_id:
                continue
            publishing.publish_poll(job=job)
            polled += 1
        self.message_user(
            request, _("%(count)d post(s) polled.") % {"count": polled}, messages.SUCCESS
        )
