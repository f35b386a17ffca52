"""Reads the TikTok Content card and the Content page need, each with a fixed query budget.

- :func:`card_extras`: 2 queries (the profile, the number of videos).
- :func:`video_page`: 4 queries (totals, count, the page of videos, their
  snapshots), whatever the number of videos or days.
- :func:`recent_publish_jobs`: 1 query.

Trends are drawn from the daily snapshots of the last :data:`TREND_DAYS` days
as a server-rendered SVG polyline (no JavaScript, no chart library).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.core.paginator import Page, Paginator
from django.db.models import Count, Sum
from django.utils import timezone

from apps.tenants.models import Tenant

from .models import (
    PublishJob,
    TikTokContentConnection,
    TikTokCreatorProfile,
    TikTokVideo,
    TikTokVideoDailySnapshot,
)

#: How many days of snapshots a trend covers.
TREND_DAYS = 30
#: Videos per page of the Content page.
PAGE_SIZE = 25
#: Size of the trend chart, in SVG user units (CSS pixels at 1:1).
SPARK_WIDTH = 120
SPARK_HEIGHT = 28
SPARK_PAD = 3
ORDERS = {
    "recent": ("-provider_created_at", "-pk"),
    "views": ("-view_count", "-pk"),
    "likes": ("-like_count", "-pk"),
}


# --- card -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreatorCard:
    """Who the connection posts as: the synced profile, else what connect stored."""

    name: str
    username: str
    avatar_url: str
    follower_count: int | None = None
    likes_count: int | None = None


def creator_card(
    *, connection: TikTokContentConnection | None, profile: TikTokCreatorProfile | None
) -> CreatorCard | None:
    if connection is None:
        return None
    assets = connection.assets or {}
    if profile is not None:
        return CreatorCard(
            name=profile.display_name or connection.display_name,
            username=profile.username or str(assets.get("username") or ""),
            avatar_url=profile.avatar_url or str(assets.get("avatar_url") or ""),
            follower_count=profile.follower_count,
            likes_count=profile.likes_count,
        )
    return CreatorCard(
        name=connection.display_name,
        username=str(assets.get("username") or ""),
        avatar_url=str(assets.get("avatar_url") or ""),
    )


def card_extras(*, tenant: Tenant, connections: list) -> dict:
    """The profile for the card: 2 queries.

    ``creator``: a :class:`CreatorCard` from the synced
    :class:`TikTokCreatorProfile`, or, before the first profile sync, from
    what connect stored (display name, ``assets.username``,
    ``assets.avatar_url``); ``video_count``: videos synced.
    """
    connection_ids = [c.pk for c in connections]
    profile = (
        TikTokCreatorProfile.objects.for_tenant(tenant)
        .filter(connection_id__in=connection_ids)
        .order_by("-synced_at")
        .first()
    )
    video_count = (
        TikTokVideo.objects.for_tenant(tenant).filter(connection_id__in=connection_ids).count()
    )
    live = next((c for c in connections if c.is_live), connections[0] if connections else None)
    return {
        "profile": profile,
        "creator": creator_card(connection=live, profile=profile),
        "video_count": video_count,
    }


# --- trends ---------------------------------------------------------------------------------


@dataclass
class Sparkline:
    """A tiny line chart of one count over the last days, ready for ``<polyline points>``."""

    values: list[int]
    days: list[date]
    width: int = SPARK_WIDTH
    height: int = SPARK_HEIGHT
    points: str = ""
    #: the last point, drawn as a dot (alone when there is a single day)
    last_x: float = 0.0
    last_y: float = 0.0

    @property
    def first(self) -> int | None:
        return self.values[0] if self.values else None

    @property
    def last(self) -> int | None:
        return self.values[-1] if self.values else None

    @property
    def change(self) -> int:
        return (self.last or 0) - (self.first or 0)


def sparkline(values_by_day: dict[date, int], *, days: int = TREND_DAYS) -> Sparkline:
    """Scale the days' values into the chart box: time left to right, the value upwards.

    x follows the calendar (a day without a snapshot leaves a gap in spacing,
    not in the line); a flat series sits in the middle.
    """
    ordered = sorted(values_by_day.items())
    chart = Sparkline(values=[v for _, v in ordered], days=[d for d, _ in ordered])
    if not ordered:
        return chart
    first_day, last_day = ordered[0][0], ordered[-1][0]
    span_days = max((last_day - first_day).days, 1)
    low, high = min(chart.values), max(chart.values)
    inner_w = SPARK_WIDTH - 2 * SPARK_PAD
    inner_h = SPARK_HEIGHT - 2 * SPARK_PAD
    coords = []
    for day, value in ordered:
        x = SPARK_PAD + inner_w * (day - first_day).days / span_days
        if len(ordered) == 1:
            x = SPARK_PAD + inner_w
        y = (
            SPARK_PAD + inner_h / 2
            if high == low
            else SPARK_PAD + inner_h * (high - value) / (high - low)
        )
        coords.append((round(x, 1), round(y, 1)))
    chart.points = " ".join(f"{x},{y}" for x, y in coords)
    chart.last_x, chart.last_y = coords[-1]
    return chart


@dataclass
class VideoRow:
    video: TikTokVideo
    trend: Sparkline


@dataclass
class VideoPage:
    page: Page
    rows: list[VideoRow] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)
    order: str = "recent"
    trend_days: int = TREND_DAYS


def video_page(
    *,
    tenant: Tenant,
    connection: TikTokContentConnection | None,
    page_number: int | str = 1,
    order: str = "recent",
    today: date | None = None,
) -> VideoPage:
    """One page of the tenant's videos with their counts and view trends: 4 queries."""
    order = order if order in ORDERS else "recent"
    videos = TikTokVideo.objects.for_tenant(tenant)
    if connection is not None:
        videos = videos.filter(connection=connection)
    totals = videos.aggregate(
        videos=Count("pk"),
        views=Sum("view_count"),
        likes=Sum("like_count"),
        comments=Sum("comment_count"),
        shares=Sum("share_count"),
    )
    paginator = Paginator(videos.order_by(*ORDERS[order]).defer("raw", "description"), PAGE_SIZE)
    # The count is known already: Paginator would ask again.
    paginator.count = totals["videos"] or 0
    page = paginator.get_page(page_number)
    shown = list(page.object_list)
    today = today or timezone.localdate()
    since = today - timedelta(days=TREND_DAYS - 1)
    by_video: dict[int, dict[date, int]] = {}
    if shown:
        for video_id, day, views in (
            TikTokVideoDailySnapshot.objects.for_tenant(tenant)
            .filter(video_id__in=[v.pk for v in shown], date__gte=since)
            .values_list("video_id", "date", "view_count")
        ):
            by_video.setdefault(video_id, {})[day] = views
    rows = [VideoRow(video=v, trend=sparkline(by_video.get(v.pk, {}))) for v in shown]
    return VideoPage(
        page=page,
        rows=rows,
        totals={k: v or 0 for k, v in totals.items()},
        order=order,
    )


# --- publishing -----------------------------------------------------------------------------


def recent_publish_jobs(*, tenant: Tenant, limit: int = 10) -> list[PublishJob]:
    """The tenant's latest posts, newest first: 1 query."""
    return list(
        PublishJob.objects.for_tenant(tenant)
        .select_related("created_by")
        .order_by("-created_at", "-pk")[:limit]
    )
