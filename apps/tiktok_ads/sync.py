"""TikTok Ads sync kinds: what to fetch, page by page, and how it lands in our tables.

Every kind below is a :class:`~apps.integrations.sync.SyncKind` run by the
shared runner (one page, one upsert, one checkpoint). What is particular to
the Marketing API stays here:

- **Which advertisers.** Everything but ``advertisers`` walks the tenant's
  *active* advertisers (``TikTokAdvertiser.is_active``, chosen by the tenant
  admin), in ``advertiser_id`` order. Discovery at connect stores them and the
  ``advertisers`` kind keeps them current; until any are stored, the ids the
  token reached at connect (``connection.assets``) stand in. The cursor names
  the advertiser by id, so one switched off mid-run is simply passed over. An
  active advertiser the token no longer reaches fails the run with TikTok's
  40001 (switch it off, or reconnect).
- **Deleted objects are kept.** ``campaign/get/``, ``adgroup/get/`` and
  ``ad/get/`` hide deleted objects unless asked for ``*_STATUS_ALL``; we ask,
  and keep them with their ``secondary_status``. The report likewise leaves
  out deleted ads unless filtered on ``ad_status IN ["STATUS_ALL"]``, and
  their spend is real spend.
- **Fields the rows lack.** Report rows carry neither the advertiser nor its
  currency, and pixel/audience rows no advertiser: ``fetch_page`` stamps
  ``advertiser_id`` (and ``currency`` on report rows) onto each record, so the
  converters need no query.
- **Insights** (``report/integrated/get/``, daily per ad): see
  :func:`fetch_insights` for the windows and :func:`insight_rows` for how the
  metrics are read.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.integrations.sync import Page, Rows, SkipItem, SyncKind, SyncWindow, rows_convert

from .client import (
    ADVERTISER_INFO_BATCH,
    AUDIENCE_MAX_PAGE_SIZE,
    REPORT_MAX_DAYS_DAILY,
    TikTokAdsClient,
)
from .models import TikTokAdsConnection, TikTokAdvertiser

PRODUCT = "tiktok_ads"

# campaign/get/, adgroup/get/ and ad/get/ allow up to 1000; 100 keeps each page
# (and each checkpoint) small, and objects are few next to report rows.
CAMPAIGN_PAGE_SIZE = 100
ADGROUP_PAGE_SIZE = 100
AD_PAGE_SIZE = 100
# dmp/custom_audience/list/ allows at most 100.
AUDIENCE_PAGE_SIZE = AUDIENCE_MAX_PAGE_SIZE
# The report allows 1000 rows a page; the largest page means the fewest calls on
# a 10-QPS budget, and one upsert of 1000 rows is still a short transaction.
REPORT_PAGE_SIZE = 1000

# Deleted objects are hidden unless asked for; we keep them, marked by their status.
ALL_STATUSES = {"secondary_status": "CAMPAIGN_STATUS_ALL"}
ADGROUP_ALL_STATUSES = {"secondary_status": "ADGROUP_STATUS_ALL"}
AD_ALL_STATUSES = {"secondary_status": "AD_STATUS_ALL"}
# The report's filter is a list of rules; IN takes its values as a JSON array string.
REPORT_ALL_ADS = (
    {"field_name": "ad_status", "filter_type": "IN", "filter_value": '["STATUS_ALL"]'},
)

# TikTok restates recent days (late conversions, invalid-traffic refunds), so a
# scheduled or manual insights run re-pulls this many days before today, in the
# advertiser's time zone, every time: [today - 7, today].
INSIGHTS_LOOKBACK_DAYS = 7
# A daily report spans at most 30 days: a backfill is cut into 30-day steps.
INSIGHTS_WINDOW_STEP = timedelta(days=REPORT_MAX_DAYS_DAILY)
# How far back ``manage.py backfill tiktok_ads insights`` may reach (three years).
INSIGHTS_MAX_BACKFILL = timedelta(days=3 * 365 + 1)

# The Marketing API writes times as "YYYY-MM-DD HH:MM:SS" in UTC.
PROVIDER_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# Report cells with nothing to report.
NOT_AVAILABLE = frozenset({"", "-", "--", "N/A", "null", "None"})

# Every provider id column is a CharField(max_length=32).
ID_MAX_LENGTH = 32
CENT = Decimal("0.01")
ZERO_MONEY = Decimal("0.00")
TEN_THOUSANDTH = Decimal("0.0001")


# --- parsing helpers -------------------------------------------------------------------------


def _provider_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, PROVIDER_TIME_FORMAT).replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _money(value: Any) -> Decimal | None:
    if value in (None, "", "-"):
        return None
    try:
        amount = Decimal(str(value)).quantize(CENT)
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() else None


def _id(value: Any) -> str:
    """A provider id as text: ids arrive as strings, or as numbers inside report metrics."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else ""
    text = str(value).strip()
    return "" if text in NOT_AVAILABLE else text


def _key(value: Any, name: str) -> str:
    """The provider id a row is keyed on; a record without a usable one is skipped."""
    text = _id(value)
    if not text:
        raise SkipItem(f"no {name}")
    if len(text) > ID_MAX_LENGTH:
        raise SkipItem(f"{name} {text[:40]!r} is longer than {ID_MAX_LENGTH} characters")
    return text


def _text(value: Any, max_length: int) -> str:
    """A display string cut to its column (the full value stays in ``raw``)."""
    if value is None:
        return ""
    return str(value)[:max_length]


def _url(value: Any, max_length: int) -> str:
    """A URL that fits its column, else blank: a cut URL would lead somewhere else."""
    text = "" if value is None else str(value)
    return text if len(text) <= max_length else ""


def _optional_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return None


# --- advertisers to walk ------------------------------------------------------------------


@dataclass(frozen=True)
class Advertiser:
    """An advertiser a sync walks, with what its report rows need."""

    advertiser_id: str
    currency: str = ""
    timezone: str = ""

    def today(self, now: datetime | None = None) -> date:
        """Today in the advertiser's time zone (UTC when it is unknown)."""
        now = now or timezone.now()
        try:
            zone = ZoneInfo(self.timezone) if self.timezone else UTC
        except (ZoneInfoNotFoundError, ValueError):
            zone = UTC
        return now.astimezone(zone).date()


def active_advertisers(*, connection: TikTokAdsConnection) -> list[Advertiser]:
    """The advertisers the syncs walk, ordered by id; one query.

    The tenant's stored advertisers marked active; before the ``advertisers``
    kind stored any, every id the token reached at connect (with the currency
    and time zone discovery found).
    """
    stored = list(
        TikTokAdvertiser.objects.filter(tenant_id=connection.tenant_id)
        .order_by("advertiser_id")
        .values_list("advertiser_id", "currency", "timezone", "is_active")
    )
    if stored:
        return [Advertiser(a, currency, tz) for a, currency, tz, active in stored if active]
    assets = connection.assets or {}
    details = {str(row.get("id")): row for row in assets.get("advertisers") or []}
    ids = sorted({str(a) for a in assets.get("advertiser_ids") or [] if a})
    return [
        Advertiser(
            a,
            str(details.get(a, {}).get("currency") or ""),
            str(details.get(a, {}).get("timezone") or ""),
        )
        for a in ids
    ]


def _position(advertisers: list[Advertiser], cursor: Mapping[str, Any]) -> tuple[int, int]:
    """(index of the advertiser to fetch, page) for a cursor ``{"advertiser": id, "page": n}``.

    An advertiser that is no longer in the list (switched off mid-run) is
    passed over: the walk goes on with the next id, from its first page. An
    integer ``advertiser`` is an index, as older checkpoints wrote it.
    """
    page = int(cursor.get("page", 1))
    current = cursor.get("advertiser")
    if current is None:
        return 0, 1
    if isinstance(current, int):
        return current, page
    for index, advertiser in enumerate(advertisers):
        if advertiser.advertiser_id == current:
            return index, page
        if advertiser.advertiser_id > current:
            return index, 1
    return len(advertisers), 1


def _next_cursor(
    advertisers: list[Advertiser], index: int, page: int, total_pages: int, **extra: Any
) -> dict | None:
    """The page after ``page`` of ``advertisers[index]``, else the next advertiser's first."""
    if page < total_pages:
        return {"advertiser": advertisers[index].advertiser_id, "page": page + 1, **extra}
    if index + 1 < len(advertisers):
        return {"advertiser": advertisers[index + 1].advertiser_id, "page": 1}
    return None


def _total_pages(page_info: Mapping[str, Any]) -> int:
    try:
        return int(page_info.get("total_page") or 0)
    except (TypeError, ValueError):
        return 0


def _stamp(items: list[dict], **fields: Any) -> list[dict]:
    """Add what the provider's rows lack (the advertiser asked for), keeping what they have."""
    for item in items:
        for key, value in fields.items():
            if item.get(key) in (None, ""):
                item[key] = value
    return items


PageFetcher = Callable[[TikTokAdsClient, Advertiser, int], tuple[list[dict], dict]]


def _walk_advertisers(*, connection: TikTokAdsConnection, cursor: dict, fetch: PageFetcher) -> Page:
    """One page of a per-advertiser listing; the cursor walks (advertiser, page)."""
    from .services import client_for

    advertisers = active_advertisers(connection=connection)
    index, page = _position(advertisers, cursor)
    if index >= len(advertisers):
        return Page(items=[], next_cursor=None)
    advertiser = advertisers[index]
    with client_for(connection) as client:
        items, page_info = fetch(client, advertiser, page)
    total_pages = _total_pages(page_info)
    return Page(
        items=_stamp(items, advertiser_id=advertiser.advertiser_id),
        next_cursor=_next_cursor(advertisers, index, page, total_pages),
        total_pages=total_pages or None,
    )


def _base_row(connection: TikTokAdsConnection, synced_at: datetime, item: dict) -> dict:
    return {
        "tenant_id": connection.tenant_id,
        "connection_id": connection.pk,
        "advertiser_id": _id(item.get("advertiser_id")),
        "raw": item,
        "synced_at": synced_at,
    }


# --- advertisers ------------------------------------------------------------------------------


def fetch_advertisers(*, connection: TikTokAdsConnection, cursor: dict, window: SyncWindow) -> Page:
    """The advertisers the token reaches now, with their details, 100 per page.

    ``oauth2/advertiser/get/`` says which (it changes when the advertiser
    grants or withdraws accounts), ``advertiser/info/`` gives currency, time
    zone and status. The name from the first stands in if the second has none.
    """
    from .services import client_for

    batch = int(cursor.get("batch", 0))
    with client_for(connection) as client:
        reachable = {
            _id(row.get("advertiser_id")): row
            for row in client.advertisers()
            if _id(row.get("advertiser_id"))
        }
        ids = sorted(reachable)
        chunk = ids[batch * ADVERTISER_INFO_BATCH : (batch + 1) * ADVERTISER_INFO_BATCH]
        details = {
            _id(row.get("advertiser_id")): row
            for row in (client.advertiser_info(advertiser_ids=chunk) if chunk else [])
        }
    items = [{**reachable[a], **details.get(a, {})} for a in chunk]
    total_pages = math.ceil(len(ids) / ADVERTISER_INFO_BATCH)
    next_cursor = {"batch": batch + 1} if batch + 1 < total_pages else None
    return Page(items=items, next_cursor=next_cursor, total_pages=total_pages or None)


def _advertiser_row(connection: TikTokAdsConnection, synced_at: datetime, item: dict) -> dict:
    row = _base_row(connection, synced_at, item)
    row["advertiser_id"] = _key(item.get("advertiser_id"), "advertiser_id")
    # No is_active: new advertisers get the model default, known ones keep the
    # tenant admin's choice (bulk_upsert only updates the columns it is given).
    row.update(
        name=_text(item.get("name") or item.get("advertiser_name"), 255),
        currency=_text(item.get("currency"), 8),
        timezone=_text(item.get("timezone") or item.get("display_timezone"), 64),
        status=_text(item.get("status"), 64),
    )
    return row


def advertiser_rows(
    *, connection: TikTokAdsConnection, items: list[dict], synced_at: datetime
) -> Rows:
    return rows_convert(
        items=items,
        convert=partial(_advertiser_row, connection, synced_at),
        id_field="advertiser_id",
    )


# --- pixels -----------------------------------------------------------------------------------


def fetch_pixels(*, connection: TikTokAdsConnection, cursor: dict, window: SyncWindow) -> Page:
    """All pixels of one advertiser per page (``pixel/list/`` pages of 20 walked inside)."""

    def fetch(client: TikTokAdsClient, advertiser: Advertiser, page: int):
        return client.pixels(advertiser_id=advertiser.advertiser_id), {"total_page": 1}

    return _walk_advertisers(connection=connection, cursor=cursor, fetch=fetch)


def _pixel_row(connection: TikTokAdsConnection, synced_at: datetime, item: dict) -> dict:
    pixel_id = _key(item.get("pixel_id"), "pixel_id")
    row = _base_row(connection, synced_at, item)
    # No is_conversion_pixel: the tenant's pick survives every sync.
    row.update(
        pixel_id=pixel_id,
        pixel_code=_text(item.get("pixel_code"), 64),
        name=_text(item.get("pixel_name") or item.get("name"), 255),
        status=_text(item.get("activity_status") or item.get("status"), 64),
    )
    return row


def pixel_rows(*, connection: TikTokAdsConnection, items: list[dict], synced_at: datetime) -> Rows:
    return rows_convert(
        items=items, convert=partial(_pixel_row, connection, synced_at), id_field="pixel_id"
    )


# --- campaigns ----------------------------------------------------------------------------


def fetch_campaigns(*, connection: TikTokAdsConnection, cursor: dict, window: SyncWindow) -> Page:
    """One page of ``campaign/get/`` for one advertiser, deleted campaigns included."""

    def fetch(client: TikTokAdsClient, advertiser: Advertiser, page: int):
        return client.campaigns_page(
            advertiser_id=advertiser.advertiser_id,
            page=page,
            page_size=CAMPAIGN_PAGE_SIZE,
            filtering=ALL_STATUSES,
        )

    return _walk_advertisers(connection=connection, cursor=cursor, fetch=fetch)


def _campaign_row(connection: TikTokAdsConnection, synced_at: datetime, item: dict) -> dict:
    campaign_id = _key(item.get("campaign_id"), "campaign_id")
    return {
        "tenant_id": connection.tenant_id,
        "connection_id": connection.pk,
        "advertiser_id": _id(item.get("advertiser_id")),
        "campaign_id": campaign_id,
        "name": _text(item.get("campaign_name"), 512),
        "objective_type": _text(item.get("objective_type"), 64),
        "budget": _money(item.get("budget")),
        "budget_mode": _text(item.get("budget_mode"), 64),
        "operation_status": _text(item.get("operation_status"), 32),
        "secondary_status": _text(item.get("secondary_status"), 64),
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


# --- ad groups ----------------------------------------------------------------------------


def fetch_adgroups(*, connection: TikTokAdsConnection, cursor: dict, window: SyncWindow) -> Page:
    """One page of ``adgroup/get/`` for one advertiser, deleted ad groups included."""

    def fetch(client: TikTokAdsClient, advertiser: Advertiser, page: int):
        return client.adgroups_page(
            advertiser_id=advertiser.advertiser_id,
            page=page,
            page_size=ADGROUP_PAGE_SIZE,
            filtering=ADGROUP_ALL_STATUSES,
        )

    return _walk_advertisers(connection=connection, cursor=cursor, fetch=fetch)


def _adgroup_row(connection: TikTokAdsConnection, synced_at: datetime, item: dict) -> dict:
    adgroup_id = _key(item.get("adgroup_id"), "adgroup_id")
    row = _base_row(connection, synced_at, item)
    row.update(
        campaign_id=_id(item.get("campaign_id")),
        adgroup_id=adgroup_id,
        name=_text(item.get("adgroup_name"), 512),
        budget=_money(item.get("budget")),
        budget_mode=_text(item.get("budget_mode"), 64),
        optimization_goal=_text(item.get("optimization_goal"), 64),
        pixel_id=_id(item.get("pixel_id"))[:32],
        operation_status=_text(item.get("operation_status"), 32),
        secondary_status=_text(item.get("secondary_status"), 64),
        provider_created_at=_provider_time(item.get("create_time")),
        provider_modified_at=_provider_time(item.get("modify_time")),
    )
    return row


def adgroup_rows(
    *, connection: TikTokAdsConnection, items: list[dict], synced_at: datetime
) -> Rows:
    return rows_convert(
        items=items, convert=partial(_adgroup_row, connection, synced_at), id_field="adgroup_id"
    )


# --- ads ------------------------------------------------------------------------------------


def fetch_ads(*, connection: TikTokAdsConnection, cursor: dict, window: SyncWindow) -> Page:
    """One page of ``ad/get/`` for one advertiser, deleted ads included."""

    def fetch(client: TikTokAdsClient, advertiser: Advertiser, page: int):
        return client.ads_page(
            advertiser_id=advertiser.advertiser_id,
            page=page,
            page_size=AD_PAGE_SIZE,
            filtering=AD_ALL_STATUSES,
        )

    return _walk_advertisers(connection=connection, cursor=cursor, fetch=fetch)


def _ad_row(connection: TikTokAdsConnection, synced_at: datetime, item: dict) -> dict:
    ad_id = _key(item.get("ad_id"), "ad_id")
    row = _base_row(connection, synced_at, item)
    row.update(
        campaign_id=_id(item.get("campaign_id")),
        adgroup_id=_id(item.get("adgroup_id")),
        ad_id=ad_id,
        name=_text(item.get("ad_name"), 512),
        ad_format=_text(item.get("ad_format"), 64),
        landing_page_url=_url(item.get("landing_page_url"), 1000),
        operation_status=_text(item.get("operation_status"), 32),
        secondary_status=_text(item.get("secondary_status"), 64),
        provider_created_at=_provider_time(item.get("create_time")),
        provider_modified_at=_provider_time(item.get("modify_time")),
    )
    return row


def ad_rows(*, connection: TikTokAdsConnection, items: list[dict], synced_at: datetime) -> Rows:
    return rows_convert(
        items=items, convert=partial(_ad_row, connection, synced_at), id_field="ad_id"
    )


# --- audiences ------------------------------------------------------------------------------


def fetch_audiences(*, connection: TikTokAdsConnection, cursor: dict, window: SyncWindow) -> Page:
    """One page of ``dmp/custom_audience/list/`` for one advertiser."""

    def fetch(client: TikTokAdsClient, advertiser: Advertiser, page: int):
        return client.audiences_page(
            advertiser_id=advertiser.advertiser_id, page=page, page_size=AUDIENCE_PAGE_SIZE
        )

    return _walk_advertisers(connection=connection, cursor=cursor, fetch=fetch)


def _audience_row(connection: TikTokAdsConnection, synced_at: datetime, item: dict) -> dict:
    audience_id = _key(item.get("audience_id"), "audience_id")
    row = _base_row(connection, synced_at, item)
    row.update(
        audience_id=audience_id,
        name=_text(item.get("name"), 255),
        audience_type=_text(item.get("audience_type"), 64),
        cover_num=_optional_int(item.get("cover_num")),
        is_shared=item.get("shared") is True or item.get("is_shared") is True,
    )
    return row


def audience_rows(
    *, connection: TikTokAdsConnection, items: list[dict], synced_at: datetime
) -> Rows:
    return rows_convert(
        items=items, convert=partial(_audience_row, connection, synced_at), id_field="audience_id"
    )


# --- insights -------------------------------------------------------------------------------


def report_dates(
    *, window: SyncWindow, advertiser: Advertiser, now: datetime | None = None
) -> tuple[date, date]:
    """The report's ``start_date``..``end_date`` (both included) for one window piece.

    A bounded window (a backfill, cut into 30-day steps by the runner) is
    read as calendar days: midnight to midnight, the end excluded. An
    unbounded one (scheduled and manual runs) is the lookback:
    ``[today - INSIGHTS_LOOKBACK_DAYS, today]`` in the advertiser's time zone,
    whose calendar days are the ones TikTok reports in. Pieces cut by
    ``INSIGHTS_WINDOW_STEP`` from midnight-aligned windows span at most 30
    days; anything longer is refused by the client before it calls.
    """
    if window.start is None:
        today = advertiser.today(now)
        return today - timedelta(days=INSIGHTS_LOOKBACK_DAYS), today
    start = window.start.date()
    end = (window.end - timedelta(microseconds=1)).date() if window.end else advertiser.today(now)
    return start, max(start, end)


def fetch_insights(*, connection: TikTokAdsConnection, cursor: dict, window: SyncWindow) -> Page:
    """One page (up to 1000 rows) of the daily ad report for one advertiser.

    The cursor walks (advertiser, page) within each window piece and carries
    the dates it asked for, so every page of one advertiser asks the same
    days even if a run crosses midnight. Each row is stamped with its
    ``advertiser_id`` and the advertiser's ``currency``.
    """
    from .services import client_for

    advertisers = active_advertisers(connection=connection)
    index, page = _position(advertisers, cursor)
    if index >= len(advertisers):
        return Page(items=[], next_cursor=None)
    advertiser = advertisers[index]
    if page > 1 and cursor.get("start") and cursor.get("end"):
        start, end = date.fromisoformat(cursor["start"]), date.fromisoformat(cursor["end"])
    else:
        start, end = report_dates(window=window, advertiser=advertiser)
    with client_for(connection) as client:
        items, page_info = client.report_page(
            advertiser_id=advertiser.advertiser_id,
            start_date=start,
            end_date=end,
            page=page,
            page_size=REPORT_PAGE_SIZE,
            filtering=REPORT_ALL_ADS,
        )
    total_pages = _total_pages(page_info)
    next_cursor = _next_cursor(
        advertisers, index, page, total_pages, start=start.isoformat(), end=end.isoformat()
    )
    for item in items:
        item["advertiser_id"] = advertiser.advertiser_id
        item["currency"] = advertiser.currency
    return Page(items=items, next_cursor=next_cursor, total_pages=total_pages or None)


# Column limits of TikTokAdInsight, so one odd value cannot fail a whole page's upsert.
_SPEND_LIMIT = Decimal(10) ** 12  # max_digits=14, decimal_places=2
_CTR_LIMIT = Decimal(10) ** 5  # max_digits=9, decimal_places=4
_RATE_LIMIT = Decimal(10) ** 10  # max_digits=14, decimal_places=4


class _Unreadable(ValueError):
    """A metric holds something that is neither a number nor "nothing to report"."""


def _decimal(value: Any, places: Decimal, limit: Decimal) -> Decimal | None:
    """A decimal metric: None for "nothing to report"; _Unreadable for anything but a number."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        if text in NOT_AVAILABLE:
            return None
        value = text.replace(",", "")
    elif not isinstance(value, int | float | Decimal):
        raise _Unreadable(repr(value))
    try:
        amount = Decimal(value) if isinstance(value, str | int) else Decimal(str(value))
    except InvalidOperation:
        raise _Unreadable(repr(value)) from None
    if not amount.is_finite():
        raise _Unreadable(repr(value))
    amount = amount.quantize(places)
    if abs(amount) >= limit:
        raise _Unreadable(f"{value!r} is out of range")
    return amount


def _count(value: Any) -> int:
    """A count metric: 0 for "nothing to report"; _Unreadable for anything but a whole number."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text)
    amount = _decimal(value, Decimal(1), Decimal(10) ** 18)
    return 0 if amount is None else int(amount)


def _metric(metrics: Mapping[str, Any], name: str, parse: Callable[..., Any], *args: Any) -> Any:
    """``parse`` one metric; a value that is not a number skips the row, with the reason."""
    try:
        return parse(metrics.get(name), *args)
    except _Unreadable as exc:
        raise SkipItem(f"{name} is not a number: {exc}") from None


def _report_day(value: Any) -> date:
    """``stat_time_day`` ("2026-11-20 00:00:00", sometimes "2026-11-20")."""
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise SkipItem(f"stat_time_day {value!r} is not a day") from None


def _insight_row(connection: TikTokAdsConnection, synced_at: datetime, item: dict) -> dict:
    """One report row -> one TikTokAdInsight row.

    Metrics are read defensively (contract §2.3): strings or numbers; ``"-"``
    (and blanks) mean "nothing to report", stored as 0 for spend and counts
    and as NULL for the ratios (ctr, cpc, cpm), which have no value without
    impressions or clicks. ``ctr`` is TikTok's percentage ("1.18" = 1.18 %).
    A row without an ad id or a day, or with a metric that is not a number,
    is skipped with the reason (counted by the runner, never stored wrong).
    """
    dimensions = item.get("dimensions") or {}
    metrics = item.get("metrics") or {}
    ad_id = _key(dimensions.get("ad_id"), "ad_id")
    advertiser_id = _key(item.get("advertiser_id") or metrics.get("advertiser_id"), "advertiser_id")
    day = _report_day(dimensions.get("stat_time_day"))
    spend = _metric(metrics, "spend", _decimal, CENT, _SPEND_LIMIT)
    return {
        "tenant_id": connection.tenant_id,
        "connection_id": connection.pk,
        "advertiser_id": advertiser_id,
        "campaign_id": _id(metrics.get("campaign_id") or dimensions.get("campaign_id"))[:32],
        "adgroup_id": _id(metrics.get("adgroup_id") or dimensions.get("adgroup_id"))[:32],
        "ad_id": ad_id,
        "date": day,
        "currency": _text(item.get("currency"), 8),
        "spend": spend if spend is not None else ZERO_MONEY,
        "impressions": _metric(metrics, "impressions", _count),
        "clicks": _metric(metrics, "clicks", _count),
        "conversions": _metric(metrics, "conversion", _count),
        "ctr": _metric(metrics, "ctr", _decimal, TEN_THOUSANDTH, _CTR_LIMIT),
        "cpc": _metric(metrics, "cpc", _decimal, TEN_THOUSANDTH, _RATE_LIMIT),
        "cpm": _metric(metrics, "cpm", _decimal, TEN_THOUSANDTH, _RATE_LIMIT),
        "synced_at": synced_at,
    }


def insight_rows(
    *, connection: TikTokAdsConnection, items: list[dict], synced_at: datetime
) -> Rows:
    return rows_convert(
        items=items, convert=partial(_insight_row, connection, synced_at), id_field="dimensions"
    )


# --- the kinds ----------------------------------------------------------------------------

ADVERTISERS = SyncKind(
    product=PRODUCT,
    kind="advertisers",
    label=_("Advertisers"),
    model="tiktok_ads.TikTokAdvertiser",
    unique_fields=("tenant", "advertiser_id"),
    fetch_page=fetch_advertisers,
    to_rows=advertiser_rows,
    schedule_minutes=1440,
)

PIXELS = SyncKind(
    product=PRODUCT,
    kind="pixels",
    label=_("Pixels"),
    model="tiktok_ads.TikTokPixel",
    unique_fields=("tenant", "pixel_id"),
    fetch_page=fetch_pixels,
    to_rows=pixel_rows,
    schedule_minutes=1440,
)

CAMPAIGNS = SyncKind(
    product=PRODUCT,
    kind="campaigns",
    label=_("Campaigns"),
    model="tiktok_ads.TikTokAdsCampaign",
    unique_fields=("tenant", "campaign_id"),
    fetch_page=fetch_campaigns,
    to_rows=campaign_rows,
    schedule_minutes=60,
)

ADGROUPS = SyncKind(
    product=PRODUCT,
    kind="adgroups",
    label=_("Ad groups"),
    model="tiktok_ads.TikTokAdGroup",
    unique_fields=("tenant", "adgroup_id"),
    fetch_page=fetch_adgroups,
    to_rows=adgroup_rows,
    schedule_minutes=60,
)

ADS = SyncKind(
    product=PRODUCT,
    kind="ads",
    label=_("Ads"),
    model="tiktok_ads.TikTokAd",
    unique_fields=("tenant", "ad_id"),
    fetch_page=fetch_ads,
    to_rows=ad_rows,
    schedule_minutes=60,
)

AUDIENCES = SyncKind(
    product=PRODUCT,
    kind="audiences",
    label=_("Custom audiences"),
    model="tiktok_ads.TikTokAudience",
    unique_fields=("tenant", "audience_id"),
    fetch_page=fetch_audiences,
    to_rows=audience_rows,
    schedule_minutes=720,
)

INSIGHTS = SyncKind(
    product=PRODUCT,
    kind="insights",
    label=_("Daily ad insights"),
    model="tiktok_ads.TikTokAdInsight",
    unique_fields=("tenant", "ad_id", "date"),
    fetch_page=fetch_insights,
    to_rows=insight_rows,
    window_step=INSIGHTS_WINDOW_STEP,
    max_backfill=INSIGHTS_MAX_BACKFILL,
    schedule_minutes=180,
)

SYNC_KINDS = (ADVERTISERS, PIXELS, CAMPAIGNS, ADGROUPS, ADS, AUDIENCES, INSIGHTS)
