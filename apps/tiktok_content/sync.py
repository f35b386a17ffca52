"""TikTok Content sync kinds: the creator's profile, and their videos with daily snapshots.

Both run through the shared runner (one page, one upsert, one checkpoint).
What is particular to the Display API stays here:

- **Scopes decide the fields.** ``/v2/user/info/`` fails the whole call when
  one field needs a scope the creator did not grant, so the profile asks only
  for fields of granted scopes. ``/v2/video/list/`` needs ``video.list``: a
  connection without it has nothing to list, and the run ends at once with
  nothing fetched (the Content page says which pack to reconnect with).
- **Every run walks every video.** Counts change on old videos too, so the
  videos kind is not incremental: it pages ``video/list`` from the newest
  video to the oldest (cursor = the previous page's ``data.cursor``, a UTC
  timestamp in ms) and upserts each page on (connection, video id).
- **Daily snapshots.** After each page's upsert, in the same transaction, the
  page's counts are upserted into :class:`~.models.TikTokVideoDailySnapshot`
  on (video, today): the last sync of a day wins, and each day of syncing adds
  one point to the trend. Two queries per page, whatever its size.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.integrations.sync import Page, Rows, SkipItem, SyncKind, SyncWindow, rows_convert
from apps.integrations.upsert import bulk_upsert

from .client import VIDEO_LIST_MAX_COUNT
from .models import TikTokContentConnection, TikTokVideo, TikTokVideoDailySnapshot

PRODUCT = "tiktok_content"

#: Scope -> the ``user/info`` fields it unlocks that the profile keeps (contract §4.1).
PROFILE_FIELDS_BY_SCOPE = {
    "user.info.basic": ("open_id", "union_id", "avatar_url", "display_name"),
    "user.info.profile": ("username", "bio_description", "profile_deep_link", "is_verified"),
    "user.info.stats": ("follower_count", "following_count", "likes_count", "video_count"),
}
VIDEO_LIST_SCOPE = "video.list"
#: What the videos kind asks ``video/list`` for (contract §4.2, the video object).
VIDEO_FIELDS = (
    "id",
    "create_time",
    "cover_image_url",
    "share_url",
    "video_description",
    "duration",
    "height",
    "width",
    "title",
    "embed_link",
    "like_count",
    "comment_count",
    "share_count",
    "view_count",
)
# A few hours between scheduled runs: counts move slowly, and cover URLs (6 h TTL)
# are replaced before they expire.
SCHEDULE_MINUTES = 180
ID_MAX_LENGTH = 64


def _granted(connection: TikTokContentConnection) -> set[str]:
    return {str(scope) for scope in connection.granted_scopes or []}


def _text(value: Any, max_length: int) -> str:
    return "" if value is None else str(value)[:max_length]


def _url(value: Any, max_length: int) -> str:
    """A URL that fits its column, else blank: a cut URL would lead somewhere else."""
    text = "" if value is None else str(value)
    return text if len(text) <= max_length else ""


def _count(value: Any) -> int:
    """A count as TikTok sends it (int64, sometimes as a string); missing or bad is 0."""
    if value is None or isinstance(value, bool):
        return 0
    try:
        return max(int(value), 0)
    except (TypeError, ValueError):
        return 0


def _optional_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return max(int(value), 0)
    except (TypeError, ValueError):
        return None


def _epoch(value: Any) -> datetime | None:
    """``create_time`` is Unix seconds."""
    number = _optional_int(value)
    return datetime.fromtimestamp(number, tz=UTC) if number is not None else None


# --- profile ------------------------------------------------------------------------------


def profile_fields(granted_scopes: set[str]) -> list[str]:
    """The ``user/info`` fields to ask for: only those of granted scopes (basic always)."""
    fields: list[str] = []
    for scope, scope_fields in PROFILE_FIELDS_BY_SCOPE.items():
        if scope == "user.info.basic" or scope in granted_scopes:
            fields.extend(scope_fields)
    return fields


def fetch_profile(*, connection: TikTokContentConnection, cursor: dict, window: SyncWindow) -> Page:
    """One page holding the one user: ``GET /v2/user/info/``."""
    from .services import client_for

    with client_for(connection) as client:
        user = client.user_info(fields=profile_fields(_granted(connection)))
    return Page(items=[user] if user else [], next_cursor=None, total_pages=1)


def _profile_row(
    connection: TikTokContentConnection, synced_at: datetime, item: dict[str, Any]
) -> dict[str, Any]:
    return {
        "tenant_id": connection.tenant_id,
        "connection_id": connection.pk,
        "open_id": _text(item.get("open_id"), 128),
        "union_id": _text(item.get("union_id"), 128),
        "display_name": _text(item.get("display_name"), 255),
        "username": _text(item.get("username"), 255),
        "avatar_url": _url(item.get("avatar_url"), 2048),
        "bio_description": _text(item.get("bio_description"), 10_000),
        "profile_deep_link": _url(item.get("profile_deep_link"), 1024),
        "is_verified": item.get("is_verified")
        if isinstance(item.get("is_verified"), bool)
        else None,
        "follower_count": _optional_int(item.get("follower_count")),
        "following_count": _optional_int(item.get("following_count")),
        "likes_count": _optional_int(item.get("likes_count")),
        "video_count": _optional_int(item.get("video_count")),
        "raw": item,
        "synced_at": synced_at,
    }


def profile_rows(
    *, connection: TikTokContentConnection, items: list[dict], synced_at: datetime
) -> Rows:
    return Rows(rows=[_profile_row(connection, synced_at, item) for item in items])


def profile_to_connection(
    *, connection: TikTokContentConnection, rows: list[dict], synced_at: datetime
) -> None:
    """Keep the card's name and avatar as fresh as the profile (one UPDATE)."""
    row = rows[-1]
    assets = {
        **(connection.assets or {}),
        "avatar_url": row["avatar_url"],
        "username": row["username"],
    }
    display_name = row["display_name"] or row["username"] or connection.display_name
    TikTokContentConnection.objects.filter(pk=connection.pk).update(
        assets=assets, display_name=display_name
    )
    connection.assets = assets
    connection.display_name = display_name


# --- videos ----------------------------------------------------------------------------------


def fetch_videos(*, connection: TikTokContentConnection, cursor: dict, window: SyncWindow) -> Page:
    """One page of ``POST /v2/video/list/`` (20 videos, newest first).

    Without ``video.list`` there is nothing to ask for: an empty, final page.
    """
    if VIDEO_LIST_SCOPE not in _granted(connection):
        return Page(items=[], next_cursor=None)
    from .services import client_for

    with client_for(connection) as client:
        data = client.video_list(
            fields=VIDEO_FIELDS, cursor=cursor.get("cursor"), max_count=VIDEO_LIST_MAX_COUNT
        )
    videos = [v for v in data.get("videos") or [] if isinstance(v, dict)]
    next_cursor = None
    # A page that says "more" but moves no cursor would loop forever: stop there.
    if data.get("has_more") and data.get("cursor") not in (None, cursor.get("cursor")):
        next_cursor = {"cursor": int(data["cursor"])}
    return Page(items=videos, next_cursor=next_cursor)


def _video_row(
    connection: TikTokContentConnection, synced_at: datetime, item: dict[str, Any]
) -> dict[str, Any]:
    video_id = _text(item.get("id"), 1000).strip()
    if not video_id:
        raise SkipItem("no id")
    if len(video_id) > ID_MAX_LENGTH:
        raise SkipItem(f"id {video_id[:40]!r} is longer than {ID_MAX_LENGTH} characters")
    return {
        "tenant_id": connection.tenant_id,
        "connection_id": connection.pk,
        "video_id": video_id,
        "title": _text(item.get("title"), 512),
        "description": _text(item.get("video_description"), 10_000),
        "cover_image_url": _url(item.get("cover_image_url"), 2048),
        "share_url": _url(item.get("share_url"), 1024),
        "embed_link": _url(item.get("embed_link"), 1024),
        "duration": _optional_int(item.get("duration")),
        "width": _optional_int(item.get("width")),
        "height": _optional_int(item.get("height")),
        "provider_created_at": _epoch(item.get("create_time")),
        "view_count": _count(item.get("view_count")),
        "like_count": _count(item.get("like_count")),
        "comment_count": _count(item.get("comment_count")),
        "share_count": _count(item.get("share_count")),
        "raw": item,
        "synced_at": synced_at,
    }


def video_rows(
    *, connection: TikTokContentConnection, items: list[dict], synced_at: datetime
) -> Rows:
    return rows_convert(
        items=items, convert=partial(_video_row, connection, synced_at), id_field="id"
    )


COUNT_FIELDS = ("view_count", "like_count", "comment_count", "share_count")


def snapshot_videos(
    *, connection: TikTokContentConnection, rows: list[dict], synced_at: datetime
) -> None:
    """Upsert today's snapshot of every video on the page: 2 queries (their ids, the upsert)."""
    day = timezone.localdate(synced_at)
    video_pks = dict(
        TikTokVideo.objects.filter(
            connection_id=connection.pk, video_id__in=[row["video_id"] for row in rows]
        ).values_list("video_id", "pk")
    )
    snapshots = [
        {
            "tenant_id": connection.tenant_id,
            "video_id": video_pks[row["video_id"]],
            "date": day,
            **{name: row[name] for name in COUNT_FIELDS},
            "synced_at": synced_at,
        }
        for row in rows
        if row["video_id"] in video_pks
    ]
    bulk_upsert(model=TikTokVideoDailySnapshot, rows=snapshots, unique_fields=("video", "date"))


# --- the kinds ----------------------------------------------------------------------------

PROFILE = SyncKind(
    product=PRODUCT,
    kind="profile",
    label=_("Creator profile"),
    model="tiktok_content.TikTokCreatorProfile",
    unique_fields=("connection",),
    fetch_page=fetch_profile,
    to_rows=profile_rows,
    after_upsert=profile_to_connection,
    schedule_minutes=SCHEDULE_MINUTES,
)

VIDEOS = SyncKind(
    product=PRODUCT,
    kind="videos",
    label=_("Videos and daily counts"),
    model="tiktok_content.TikTokVideo",
    unique_fields=("connection", "video_id"),
    fetch_page=fetch_videos,
    to_rows=video_rows,
    after_upsert=snapshot_videos,
    schedule_minutes=SCHEDULE_MINUTES,
)

SYNC_KINDS = (PROFILE, VIDEOS)
