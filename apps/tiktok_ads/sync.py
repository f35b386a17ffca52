"""TikTok Ads sync kinds: what to fetch, page by page, and how it lands in our tables."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import partial

from apps.integrations.sync import Page, Rows, SkipItem, SyncKind, SyncWindow, rows_convert

from .models import TikTokAdsConnection

# campaign/get/ allows up to 1000; 100 keeps each page (and each checkpoint) small.
CAMPAIGN_PAGE_SIZE = 100
# Deleted campaigns are hidden unless asked for; we keep them, marked by their status.
ALL_STATUSES = {"secondary_status": "CAMPAIGN_STATUS_ALL"}
# The Marketing API writes times as "YYYY-MM-DD HH:MM:SS" in UTC.
PROVIDER_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def _provider_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, PROVIDER_TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def _money(value) -> Decimal | None:
    if value in (None, "", "-"):
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None


def fetch_campaigns(*, connection: TikTokAdsConnection, cursor: dict, window: SyncWindow) -> Page:
    """One page of ``campaign/get/`` for one advertiser; the cursor walks every advertiser."""
    from .services import client_for

    advertisers = list(connection.assets.get("advertiser_ids") or [])
    index = int(cursor.get("advertiser", 0))
    page = int(cursor.get("page", 1))
    if index >= len(advertisers):
        return Page(items=[], next_cursor=None)
    with client_for(connection) as client:
        items, page_info = client.campaigns_page(
            advertiser_id=advertisers[index],
            page=page,
            page_size=CAMPAIGN_PAGE_SIZE,
            filtering=ALL_STATUSES,
        )
    total_pages = int(page_info.get("total_page") or 1)
    if page < total_pages:
        next_cursor = {"advertiser": index, "page": page + 1}
    elif index + 1 < len(advertisers):
        next_cursor = {"advertiser": index + 1, "page": 1}
    else:
        next_cursor = None
    return Page(items=items, next_cursor=next_cursor, total_pages=total_pages)


def _campaign_row(connection: TikTokAdsConnection, synced_at: datetime, item: dict) -> dict:
    campaign_id = str(item.get("campaign_id") or "")
    if not campaign_id:
        raise SkipItem("no campaign_id")
    return {
        "tenant_id": connection.tenant_id,
        "connection_id": connection.pk,
        "advertiser_id": str(item.get("advertiser_id") or ""),
        "campaign_id": campaign_id,
        "name": item.get("campaign_name") or "",
        "objective_type": item.get("objective_type") or "",
        "budget": _money(item.get("budget")),
        "budget_mode": item.get("budget_mode") or "",
        "operation_status": item.get("operation_status") or "",
        "secondary_status": item.get("secondary_status") or "",
        "provider_created_at": _provider_time(item.get("create_time")),
        "provider_modified_at": _provider_time(item.get("modify_time")),
        "raw": item,
        "synced_at": synced_at,
    }


def campaign_rows(
    *, connection: TikTokAdsConnection, items: list[dict], synced_at: datetime
) -> Rows:
    return rows_convert(
        items=items, convert=partial(_campaign_row, connection, synced_at), id_field="campaign_id"
    )


CAMPAIGNS = SyncKind(
    product="tiktok_ads",
    kind="campaigns",
    label="Campaigns",
    model="tiktok_ads.TikTokAdsCampaign",
    unique_fields=("tenant", "campaign_id"),
    fetch_page=fetch_campaigns,
    to_rows=campaign_rows,
    schedule_minutes=60,
)
