"""Meta sync kinds: the ad accounts each profile reaches, and daily per-ad insights.

Both run per profile (the core's sync runner works per connection), but the
rows belong to the tenant:

- **ad_accounts** pages through ``/me/adaccounts`` with the profile's token
  and upserts :class:`~apps.meta_ads.models.MetaAdAccount` on (tenant,
  account id); the same page's :class:`MetaAdAccountAccess` rows ("this
  profile reaches that account") are upserted in the same transaction
  (``after_upsert``). On the last page, links of this profile that the run
  did not see again are removed: the profile no longer reaches them.
- **insights** covers each *tracked* account once per tenant: a profile's run
  takes the tracked accounts for which it is the first working profile (by
  id) among those that reach it. The list is fixed in the cursor at the
  first page, so a run's accounts do not shift under it. Each call goes
  through :func:`~apps.meta_ads.services.account_call`, so when the run's
  profile dies mid-run (190) the account's other profiles take over.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Min
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.integrations.sync import Page, Rows, SkipItem, SyncKind, SyncWindow, rows_convert
from apps.integrations.upsert import bulk_upsert

from .client import MetaClient
from .models import MetaAdAccount, MetaAdAccountAccess, MetaProfile

PRODUCT = "meta_ads"

# Meta restates recent days (late conversions, attribution up to 28 days after
# a click), so scheduled and manual insights runs re-pull the last 28 days, in
# each account's time zone: [today - 28, today].
INSIGHTS_LOOKBACK_DAYS = 28
# A backfill is cut into 30-day windows: smaller answers, and a checkpoint per window.
INSIGHTS_WINDOW_STEP = timedelta(days=30)
# Insights are kept 37 months (contract §2.5); older ranges are refused with HTTP 400.
INSIGHTS_MAX_BACKFILL = timedelta(days=37 * 30)
# The action type public ROI tools read for "messaging conversations started" (contract §2.5).
MESSAGING_STARTED = "onsite_conversion.messaging_conversation_started_7d"

ID_MAX_LENGTH = 32
CENT = Decimal("0.01")
_SPEND_LIMIT = Decimal(10) ** 12  # max_digits=14, decimal_places=2


# --- helpers ----------------------------------------------------------------------------


def _id(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return ""
    return str(value).strip()


def _key(value: Any, name: str) -> str:
    text = _id(value).removeprefix("act_")
    if not text:
        raise SkipItem(f"no {name}")
    if len(text) > ID_MAX_LENGTH:
        raise SkipItem(f"{name} {text[:40]!r} is longer than {ID_MAX_LENGTH} characters")
    return text


def _text(value: Any, max_length: int) -> str:
    return "" if value is None else str(value)[:max_length]


def _optional_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def today_in(zone_name: str, now: datetime | None = None) -> date:
    """Today in an ad account's time zone (UTC when unknown): the days Meta reports in."""
    now = now or timezone.now()
    try:
        zone = ZoneInfo(zone_name) if zone_name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    return now.astimezone(zone).date()


# --- ad accounts ---------------------------------------------------------------------------


def fetch_ad_accounts(*, connection: MetaProfile, cursor: dict, window: SyncWindow) -> Page:
    """One page of ``/me/adaccounts``; the last page also drops links not seen again."""
    from .services import profile_call

    started = cursor.get("started") or timezone.now().isoformat()
    items, after = profile_call(
        profile=connection, call=lambda c: c.ad_accounts_page(after=cursor.get("after"))
    )
    if after is None:
        _forget_unreached(connection, since=datetime.fromisoformat(started), items=items)
        return Page(items=items, next_cursor=None)
    return Page(items=items, next_cursor={"after": after, "started": started})


def _forget_unreached(profile: MetaProfile, *, since: datetime, items: list[dict]) -> None:
    """Links of this profile last seen before this run began, and not on this last page."""
    on_this_page = [_id(item.get("account_id")) for item in items]
    MetaAdAccountAccess.objects.filter(profile=profile, seen_at__lt=since).exclude(
        ad_account__account_id__in=on_this_page
    ).delete()


def _ad_account_row(profile: MetaProfile, synced_at: datetime, item: dict) -> dict:
    business = item.get("business") if isinstance(item.get("business"), Mapping) else {}
    # No tracking_enabled / pixel columns: new accounts get the defaults (tracking off),
    # known ones keep the tenant admin's choices.
    return {
        "tenant_id": profile.tenant_id,
        "account_id": _key(item.get("account_id") or item.get("id"), "account_id"),
        "name": _text(item.get("name"), 255),
        "currency": _text(item.get("currency"), 8),
        "status": _optional_int(item.get("account_status")),
        "disable_reason": _optional_int(item.get("disable_reason")),
        "timezone_name": _text(item.get("timezone_name"), 64),
        "business_id": _text(business.get("id"), 32),
        "business_name": _text(business.get("name"), 255),
        "raw": item,
        "synced_at": synced_at,
    }


def ad_account_rows(*, connection: MetaProfile, items: list[dict], synced_at: datetime) -> Rows:
    return rows_convert(
        items=items, convert=partial(_ad_account_row, connection, synced_at), id_field="id"
    )


def link_profile_to_accounts(
    *, connection: MetaProfile, rows: list[dict], synced_at: datetime
) -> None:
    """Upsert "this profile reaches these accounts" for a page: two queries."""
    account_pks = MetaAdAccount.objects.filter(
        tenant_id=connection.tenant_id, account_id__in=[row["account_id"] for row in rows]
    ).values_list("pk", flat=True)
    bulk_upsert(
        model=MetaAdAccountAccess,
        rows=[
            {
                "tenant_id": connection.tenant_id,
                "profile_id": connection.pk,
                "ad_account_id": pk,
                "seen_at": synced_at,
            }
            for pk in account_pks
        ],
        unique_fields=("profile", "ad_account"),
    )


# --- insights -----------------------------------------------------------------------------


def accounts_led_by(profile: MetaProfile) -> list[MetaAdAccount]:
    """Tracked accounts whose first working profile (lowest id) is this one: one query.

    Every tracked account is thereby covered by exactly one profile's run,
    and a profile that expired hands its accounts to the next one.
    """
    from .services import WORKING_STATUSES

    leaders = (
        MetaAdAccountAccess.objects.filter(
            tenant_id=profile.tenant_id,
            ad_account__tracking_enabled=True,
            profile__status__in=WORKING_STATUSES,
        )
        .values("ad_account")
        .annotate(leader=Min("profile"))
        .filter(leader=profile.pk)
        .values_list("ad_account", flat=True)
    )
    return list(MetaAdAccount.objects.filter(pk__in=leaders).order_by("account_id"))


def insight_days(
    *, window: SyncWindow, zone_name: str, now: datetime | None = None
) -> tuple[date, date]:
    """``since``..``until`` (both included) for one window piece and one account.

    A bounded window (a backfill, cut into 30-day steps) is read as calendar
    days, the end excluded. An unbounded one (scheduled and manual runs) is
    the lookback, ``[today - INSIGHTS_LOOKBACK_DAYS, today]`` in the account's
    time zone.
    """
    today = today_in(zone_name, now)
    if window.start is None:
        return today - timedelta(days=INSIGHTS_LOOKBACK_DAYS), today
    start = window.start.date()
    end = (window.end - timedelta(microseconds=1)).date() if window.end else today
    return start, max(start, min(end, today))


def fetch_insights(*, connection: MetaProfile, cursor: dict, window: SyncWindow) -> Page:
    """One page of daily per-ad insights of one account.

    The cursor holds the account ids of this run (fixed at the first page of
    each window piece), which one it is on, its days and the Graph ``after``
    cursor. Each row is stamped with our account's pk and currency.
    """
    from .services import account_call

    if "accounts" not in cursor:
        cursor = {"accounts": [a.account_id for a in accounts_led_by(connection)], "index": 0}
    accounts: list[str] = cursor["accounts"]
    index = int(cursor.get("index", 0))
    by_id = {
        a.account_id: a
        for a in MetaAdAccount.objects.filter(
            tenant_id=connection.tenant_id, account_id__in=accounts[index:]
        )
    }
    while index < len(accounts) and accounts[index] not in by_id:
        index += 1  # an account deleted since the run began
    if index >= len(accounts):
        return Page(items=[], next_cursor=None)
    account = by_id[accounts[index]]
    if cursor.get("since") and cursor.get("index") == index:
        since, until = date.fromisoformat(cursor["since"]), date.fromisoformat(cursor["until"])
    else:
        since, until = insight_days(window=window, zone_name=account.timezone_name)

    def call(client: MetaClient):
        return client.insights_page(
            account_id=account.account_id, since=since, until=until, after=cursor.get("after")
        )

    items, after = account_call(account=account, call=call, preferred=connection)
    for item in items:
        item["_ad_account"] = account.pk
        item.setdefault("account_currency", account.currency)
    base = {"accounts": accounts}
    if after is not None:
        next_cursor = {
            **base,
            "index": index,
            "after": after,
            "since": since.isoformat(),
            "until": until.isoformat(),
        }
    elif index + 1 < len(accounts):
        next_cursor = {**base, "index": index + 1}
    else:
        next_cursor = None
    return Page(items=items, next_cursor=next_cursor)


def _spend(value: Any) -> Decimal:
    if value in (None, ""):
        return Decimal("0.00")
    try:
        amount = Decimal(str(value)).quantize(CENT)
    except (InvalidOperation, ValueError):
        raise SkipItem(f"spend {value!r} is not a number") from None
    if not amount.is_finite() or abs(amount) >= _SPEND_LIMIT:
        raise SkipItem(f"spend {value!r} is out of range")
    return amount


def _count(value: Any, name: str) -> int:
    if value in (None, ""):
        return 0
    try:
        return int(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        raise SkipItem(f"{name} {value!r} is not a number") from None


def _action(actions: Any, action_type: str) -> int | None:
    """The value of one action type in ``actions`` ([{action_type, value}]), None if absent."""
    for action in actions or []:
        if isinstance(action, Mapping) and action.get("action_type") == action_type:
            return _count(action.get("value"), action_type)
    return None


def _day(value: Any) -> date:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise SkipItem(f"date_start {value!r} is not a day") from None


def _insight_row(profile: MetaProfile, synced_at: datetime, item: dict) -> dict:
    """One insights row -> one MetaAdInsight row.

    Metrics arrive as strings (``"spend": "14.35"``); missing counts are 0 and
    a missing messaging action is NULL (not a messaging ad). Spend is in the
    account's currency (``account_currency``), kept per row.
    """
    return {
        "tenant_id": profile.tenant_id,
        "ad_account_id": item["_ad_account"],
        "campaign_id": _text(item.get("campaign_id"), 32),
        "campaign_name": _text(item.get("campaign_name"), 512),
        "adset_id": _text(item.get("adset_id"), 32),
        "adset_name": _text(item.get("adset_name"), 512),
        "ad_id": _key(item.get("ad_id"), "ad_id"),
        "ad_name": _text(item.get("ad_name"), 512),
        "date": _day(item.get("date_start")),
        "currency": _text(item.get("account_currency"), 8),
        "spend": _spend(item.get("spend")),
        "impressions": _count(item.get("impressions"), "impressions"),
        "clicks": _count(item.get("clicks"), "clicks"),
        "messaging_conversations_started": _action(item.get("actions"), MESSAGING_STARTED),
        "synced_at": synced_at,
    }


def insight_rows(*, connection: MetaProfile, items: list[dict], synced_at: datetime) -> Rows:
    return rows_convert(
        items=items, convert=partial(_insight_row, connection, synced_at), id_field="ad_id"
    )


# --- the kinds ------------------------------------------------------------------------------

AD_ACCOUNTS = SyncKind(
    product=PRODUCT,
    kind="ad_accounts",
    label=_("Ad accounts"),
    model="meta_ads.MetaAdAccount",
    unique_fields=("tenant", "account_id"),
    fetch_page=fetch_ad_accounts,
    to_rows=ad_account_rows,
    after_upsert=link_profile_to_accounts,
    schedule_minutes=720,
)

INSIGHTS = SyncKind(
    product=PRODUCT,
    kind="insights",
    label=_("Daily ad insights"),
    model="meta_ads.MetaAdInsight",
    unique_fields=("ad_account", "ad_id", "date"),
    fetch_page=fetch_insights,
    to_rows=insight_rows,
    window_step=INSIGHTS_WINDOW_STEP,
    max_backfill=INSIGHTS_MAX_BACKFILL,
    schedule_minutes=360,
)

SYNC_KINDS = (AD_ACCOUNTS, INSIGHTS)
