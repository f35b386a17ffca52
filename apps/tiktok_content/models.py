"""TikTok Content tables: the connection, the creator's profile, videos, daily snapshots and
publish jobs.

Synced rows (profile, videos, snapshots) are written only by the sync kinds in
:mod:`.sync`, in bulk, keyed on TikTok's ids. Publish jobs are written by
:mod:`.publishing`.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.integrations.models import Connection
from apps.tenants.models import TenantOwnedModel

#: ``settings.STORAGES`` alias used for videos waiting to be uploaded, when configured.
UPLOAD_STORAGE_ALIAS = "tiktok_content_uploads"


class TikTokContentConnection(Connection):
    """The tenant's one TikTok Content connection (one per tenant)."""

    provider_key = "tiktok_content"

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant"], name="tiktok_content_one_connection_per_tenant"
            )
        ]
        verbose_name = _("TikTok Content connection")


class TikTokCreatorProfile(TenantOwnedModel):
    """The creator behind the connection, as ``/v2/user/info/`` last described them.

    Stats are None when ``user.info.stats`` was not granted; ``avatar_url`` is a
    signed CDN address that expires, so each profile sync replaces it.
    """

    connection = models.ForeignKey(
        TikTokContentConnection, on_delete=models.CASCADE, related_name="+"
    )
    open_id = models.CharField(max_length=128, blank=True)
    union_id = models.CharField(max_length=128, blank=True)
    display_name = models.CharField(max_length=255, blank=True)
    username = models.CharField(max_length=255, blank=True)
    avatar_url = models.CharField(max_length=2048, blank=True)
    bio_description = models.TextField(blank=True)
    profile_deep_link = models.CharField(max_length=1024, blank=True)
    is_verified = models.BooleanField(null=True, blank=True)
    follower_count = models.PositiveBigIntegerField(null=True, blank=True)
    following_count = models.PositiveBigIntegerField(null=True, blank=True)
    likes_count = models.PositiveBigIntegerField(null=True, blank=True)
    video_count = models.PositiveBigIntegerField(null=True, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    synced_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection"], name="ttc_profile_one_per_connection")
        ]
        verbose_name = _("TikTok creator profile")

    def __str__(self) -> str:
        return f"@{self.username}" if self.username else self.display_name or self.open_id


class TikTokVideo(TenantOwnedModel):
    """One of the creator's public videos with its current counts (``/v2/video/list/``).

    ``cover_image_url`` is a CDN address valid for about 6 hours; each sync
    replaces it, so it is shown, never kept as an archive.
    """

    connection = models.ForeignKey(
        TikTokContentConnection, on_delete=models.CASCADE, related_name="videos"
    )
    video_id = models.CharField(max_length=64)
    title = models.CharField(max_length=512, blank=True)
    description = models.TextField(blank=True)
    cover_image_url = models.CharField(max_length=2048, blank=True)
    share_url = models.CharField(max_length=1024, blank=True)
    embed_link = models.CharField(max_length=1024, blank=True)
    duration = models.PositiveIntegerField(null=True, blank=True, help_text=_("seconds"))
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    provider_created_at = models.DateTimeField(null=True, blank=True)
    view_count = models.PositiveBigIntegerField(default=0)
    like_count = models.PositiveBigIntegerField(default=0)
    comment_count = models.PositiveBigIntegerField(default=0)
    share_count = models.PositiveBigIntegerField(default=0)
    raw = models.JSONField(default=dict, blank=True)
    synced_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "video_id"], name="ttc_video_unique")
        ]
        indexes = [
            models.Index(fields=["tenant", "-provider_created_at"], name="ttc_video_recent_idx")
        ]
        verbose_name = _("TikTok video")

    def __str__(self) -> str:
        return self.title or self.description[:60] or self.video_id


class TikTokVideoDailySnapshot(TenantOwnedModel):
    """A video's counts on one day: the last sync of the day wins (upserted on video + date)."""

    video = models.ForeignKey(TikTokVideo, on_delete=models.CASCADE, related_name="snapshots")
    date = models.DateField()
    view_count = models.PositiveBigIntegerField(default=0)
    like_count = models.PositiveBigIntegerField(default=0)
    comment_count = models.PositiveBigIntegerField(default=0)
    share_count = models.PositiveBigIntegerField(default=0)
    synced_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["video", "date"], name="ttc_snapshot_unique")
        ]
        verbose_name = _("TikTok video daily snapshot")

    def __str__(self) -> str:
        return f"{self.video_id} {self.date}"


class _LocalUploadStorage(FileSystemStorage):
    """A local folder read from settings at each use, so tests and operators can move it."""

    @property
    def base_location(self) -> str:  # type: ignore[override]
        location = getattr(settings, "TIKTOK_CONTENT_UPLOAD_DIR", None) or (
            settings.VAR_DIR / "uploads" / "tiktok_content"
        )
        return str(location)

    @property
    def location(self) -> str:  # type: ignore[override]
        return os.path.abspath(self.base_location)


def upload_storage() -> Storage:
    """Where uploaded videos wait for the worker.

    ``STORAGES["tiktok_content_uploads"]`` when configured (shared storage, for
    a worker on another machine); otherwise a local folder,
    ``TIKTOK_CONTENT_UPLOAD_DIR`` (default ``<var>/uploads/tiktok_content``),
    enough when the web process and the worker share a disk. The file is
    deleted once TikTok has every chunk.
    """
    if UPLOAD_STORAGE_ALIAS in settings.STORAGES:
        return storages[UPLOAD_STORAGE_ALIAS]
    return _LocalUploadStorage()


class PublishJob(TenantOwnedModel):
    """One post sent to TikTok: what was chosen, the upload, and the status until final."""

    class Mode(models.TextChoices):
        DIRECT = "direct", _("Post directly")
        INBOX = "inbox", _("Send to the creator's inbox as a draft")

    class Source(models.TextChoices):
        FILE_UPLOAD = "FILE_UPLOAD", _("File upload")
        PULL_FROM_URL = "PULL_FROM_URL", _("From a URL")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        UPLOADING = "uploading", _("Uploading")
        PROCESSING = "processing", _("Processing")
        COMPLETE = "complete", _("Complete")
        FAILED = "failed", _("Failed")

    ACTIVE = (Status.QUEUED, Status.UPLOADING, Status.PROCESSING)

    connection = models.ForeignKey(
        TikTokContentConnection, on_delete=models.CASCADE, related_name="publish_jobs"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.DIRECT)
    source = models.CharField(max_length=16, choices=Source.choices)
    video_file = models.FileField(
        upload_to="publish/%Y/%m/", storage=upload_storage, max_length=500, blank=True
    )
    file_name = models.CharField(max_length=255, blank=True)
    content_type = models.CharField(max_length=64, blank=True)
    video_url = models.URLField(max_length=2048, blank=True)
    video_size = models.PositiveBigIntegerField(null=True, blank=True)
    chunk_size = models.PositiveBigIntegerField(null=True, blank=True)
    total_chunk_count = models.PositiveIntegerField(null=True, blank=True)
    #: the post options as chosen: title, privacy_level, disable_comment/duet/stitch
    options = models.JSONField(default=dict, blank=True)
    publish_id = models.CharField(max_length=128, blank=True, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    #: TikTok's own status (PROCESSING_UPLOAD, PUBLISH_COMPLETE, ...)
    provider_status = models.CharField(max_length=32, blank=True)
    progress = models.PositiveSmallIntegerField(default=0, help_text=_("percent"))
    uploaded_bytes = models.PositiveBigIntegerField(default=0)
    fail_reason = models.CharField(max_length=128, blank=True)
    error = models.TextField(blank=True)
    post_ids = models.JSONField(default=list, blank=True)
    polls = models.PositiveIntegerField(default=0)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    uploaded_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="ttc_publish_recent_idx"),
            models.Index(fields=["status", "next_poll_at"], name="ttc_publish_due_idx"),
        ]
        verbose_name = _("TikTok publish job")

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.title or self.file_name or self.video_url}"

    @property
    def title(self) -> str:
        return str(self.options.get("title") or "")

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def is_complete(self) -> bool:
        return self.status == self.Status.COMPLETE
