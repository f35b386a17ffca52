"""Deterministic provider data: the same account id always yields the same world.

Every function seeds its own ``random.Random`` from the ids it is given (string
seeds are stable across interpreters and ``PYTHONHASHSEED``), so two runs, two
processes or two machines see identical advertisers, campaigns and shops.
Times that must look recent (``modify_time`` over the last 90 days) are offsets
from today's midnight UTC, so they stay fixed for a whole day. :func:`now` is
the sandbox clock; tests monkeypatch it to move the whole world in time.

The TikTok Ads part (campaigns, ad groups, ads, audiences, daily report rows)
is built once per advertiser and day and memoised in process
(:func:`functools.lru_cache`): it is a pure function of its arguments, so a
memo is only a speed-up, never state another process needs.
"""

from __future__ import annotations

import functools
import random
import string
import uuid
from array import array
from bisect import bisect_left
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

CAMPAIGNS_PER_ADVERTISER = 137
#: deleted campaigns, listed only with ``secondary_status=CAMPAIGN_STATUS_ALL``
DELETED_CAMPAIGNS_PER_ADVERTISER = 5
ADVERTISERS_PER_ACCOUNT = 2
PIXELS_PER_ADVERTISER = 3
SHOPS_PER_SELLER = 2
MODIFY_WINDOW_DAYS = 90

_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class Identity:
    """A person the consent screen lets you act as."""

    account_id: str
    name: str


_NAMES = {
    "tiktok_ads": ("Ana Souza", "Bruno Lima", "Carla Dias"),
    "tiktok_shop": ("Lumen Home Goods", "Pedra Azul Outdoor", "Vila Verde Beauty"),
    "tiktok_content": ("Dani Creates", "Edu Cooks", "Fe Travels"),
    "meta": ("Gabriela Rocha", "Heitor Alves", "Iris Nunes"),
}


def rng(*parts: object) -> random.Random:
    """A generator seeded by ``parts``; data only, never secrets."""
    return random.Random(":".join(str(p) for p in parts))  # noqa: S311


def _digits(r: random.Random, length: int, first: str = "7") -> str:
    return first + "".join(r.choice(string.digits) for _ in range(length - 1))


def identities(provider: str) -> list[Identity]:
    """The sandbox users of ``provider``, in a fixed order (the first is the default)."""
    result = []
    for index, name in enumerate(_NAMES[provider]):
        r = rng("identity", provider, index)
        account_id = _digits(r, 15, "1") if provider == "meta" else _digits(r, 19)
        result.append(Identity(account_id=account_id, name=name))
    return result


def identity(provider: str, account_id: str) -> Identity | None:
    return next((i for i in identities(provider) if i.account_id == account_id), None)


def now() -> datetime:
    """The sandbox clock (aware, UTC). Tests monkeypatch this to freeze or move time."""
    return datetime.now(UTC)


def _anchor() -> datetime:
    return now().replace(hour=0, minute=0, second=0, microsecond=0)


# --- TikTok Ads -------------------------------------------------------------------

_CURRENCIES = (("USD", "America/New_York"), ("BRL", "America/Sao_Paulo"), ("EUR", "Europe/Berlin"))
_ADVERTISER_STATUSES = ("STATUS_ENABLE", "STATUS_ENABLE", "STATUS_ENABLE", "STATUS_LIMIT")
_OBJECTIVES = ("TRAFFIC", "CONVERSIONS", "LEAD_GENERATION", "VIDEO_VIEWS", "REACH", "APP_PROMOTION")
_PRODUCTS = (
    "Summer Sale",
    "Sneakers",
    "Skincare",
    "Coffee",
    "Backpacks",
    "Headphones",
    "Yoga Mats",
)
_AUDIENCES = ("Broad", "Lookalike 1%", "Retargeting 30d", "Interests", "Custom")
_BUDGET_MODES = ("BUDGET_MODE_DAY", "BUDGET_MODE_TOTAL", "BUDGET_MODE_INFINITE")


def advertisers(account_id: str) -> list[dict]:
    """The advertiser accounts a TikTok business user's token reaches (``advertiser/info/``)."""
    result = []
    for index in range(ADVERTISERS_PER_ACCOUNT):
        r = rng("advertiser", account_id, index)
        currency, tz = r.choice(_CURRENCIES)
        created = _anchor() - timedelta(days=r.randint(200, 900))
        result.append(
            {
                "advertiser_id": _digits(r, 19),
                "name": f"{r.choice(_PRODUCTS)} Ads {index + 1}",
                "currency": currency,
                "timezone": tz,
                "display_timezone": tz,
                "status": _ADVERTISER_STATUSES[index % len(_ADVERTISER_STATUSES)],
                "role": "ROLE_ADVERTISER",
                "company": f"Sandbox Company {account_id[-4:]}",
                "country": {"USD": "US", "BRL": "BR", "EUR": "DE"}[currency],
                "industry": "291905",
                "balance": round(r.uniform(0, 5000), 2),
                "create_time": int(created.timestamp()),
            }
        )
    return result


def pixels(advertiser_id: str) -> list[dict]:
    """Pixels of an advertiser (``pixel/list/``); ``pixel_code`` is the Events API source id.

    ``activity_status`` is the real field; ``status`` repeats it because the hub
    stores a pixel status under that name. The last pixel is inactive.
    """
    result = []
    for index in range(PIXELS_PER_ADVERTISER):
        r = rng("pixel", advertiser_id, index)
        created = _anchor() - timedelta(days=r.randint(30, 400))
        status = "INACTIVE" if index == PIXELS_PER_ADVERTISER - 1 else "ACTIVE"
        result.append(
            {
                "pixel_id": _digits(r, 19),
                "pixel_code": "C"
                + "".join(r.choice(string.ascii_uppercase + string.digits) for _ in range(19)),
                "pixel_name": f"Website pixel {index + 1}",
                "pixel_category": "ONLINE_STORE",
                "pixel_setup_mode": "DEVELOPER",
                "create_time": created.strftime(_TIME_FORMAT),
                "events": [
                    {"event_type": "Purchase", "name": "Purchase"},
                    {"event_type": "Lead", "name": "Lead"},
                ],
                "advanced_matching_fields": {"email": True, "phone_number": True},
                "activity_status": status,
                "status": status,
            }
        )
    return result


def advertiser(advertiser_id: str) -> dict | None:
    """The generated advertiser with this id, whichever sandbox user it belongs to."""
    for who in identities("tiktok_ads"):
        for row in advertisers(who.account_id):
            if row["advertiser_id"] == advertiser_id:
                return row
    return None


def _campaign(advertiser_id: str, index: int, anchor: datetime) -> dict:
    r = rng("campaign", advertiser_id, index)
    deleted = index >= CAMPAIGNS_PER_ADVERTISER
    modified = anchor - timedelta(seconds=r.randint(0, MODIFY_WINDOW_DAYS * 86400 - 1))
    created = modified - timedelta(days=r.randint(0, 180), seconds=r.randint(0, 86399))
    objective = r.choice(_OBJECTIVES)
    budget_mode = r.choice(_BUDGET_MODES)
    enabled = r.random() < 0.7
    own = "DELETE" if deleted else "ENABLE" if enabled else "DISABLE"
    return {
        "advertiser_id": advertiser_id,
        "campaign_id": f"18{advertiser_id[-9:]}{index:05d}",
        "campaign_name": f"{objective.title().replace('_', ' ')} | {r.choice(_PRODUCTS)} | {r.choice(_AUDIENCES)} #{index + 1:03d}",
        "campaign_type": "REGULAR_CAMPAIGN",
        "objective_type": objective,
        "budget": 0.0
        if budget_mode == "BUDGET_MODE_INFINITE"
        else float(r.randrange(50, 5000, 10)),
        "budget_mode": budget_mode,
        "operation_status": _operation_status(own),
        "secondary_status": secondary_status(CAMPAIGN, own),
        "is_smart_performance_campaign": r.random() < 0.1,
        "create_time": created.strftime(_TIME_FORMAT),
        "modify_time": modified.strftime(_TIME_FORMAT),
    }


# --- TikTok Ads: object states ----------------------------------------------------------

CAMPAIGN, ADGROUP, AD = "campaign", "adgroup", "ad"
#: Which ``secondary_status`` values mean "deleted" (itself or an ancestor), per object type.
DELETED_STATUSES = {
    CAMPAIGN: frozenset({"CAMPAIGN_STATUS_DELETE"}),
    ADGROUP: frozenset({"ADGROUP_STATUS_DELETE", "ADGROUP_STATUS_CAMPAIGN_DELETE"}),
    AD: frozenset({"AD_STATUS_DELETE", "AD_STATUS_CAMPAIGN_DELETE", "AD_STATUS_ADGROUP_DELETE"}),
}
_STATUS_PREFIX = {CAMPAIGN: "CAMPAIGN_STATUS_", ADGROUP: "ADGROUP_STATUS_", AD: "AD_STATUS_"}


def secondary_status(kind: str, own: str, campaign: str = "ENABLE", adgroup: str = "ENABLE") -> str:
    """``secondary_status`` from an object's own state and its parents' (ENABLE/DISABLE/DELETE).

    A deletion wins over a pause, and the object's own state over its parents'.
    """
    prefix = _STATUS_PREFIX[kind]
    if own == "DELETE":
        return prefix + "DELETE"
    if kind != CAMPAIGN and campaign == "DELETE":
        return prefix + "CAMPAIGN_DELETE"
    if kind == AD and adgroup == "DELETE":
        return prefix + "ADGROUP_DELETE"
    if own == "DISABLE":
        return prefix + "DISABLE"
    if kind == CAMPAIGN:
        return prefix + "ENABLE"
    if campaign == "DISABLE":
        return prefix + "CAMPAIGN_DISABLE"
    if kind == AD and adgroup == "DISABLE":
        return prefix + "ADGROUP_DISABLE"
    return prefix + "DELIVERY_OK"


def _operation_status(own: str) -> str:
    """Deleted objects read ``DISABLE``: ``operation_status`` only knows ENABLE and DISABLE."""
    return "ENABLE" if own == "ENABLE" else "DISABLE"


def is_deleted(kind: str, row: dict) -> bool:
    return row["secondary_status"] in DELETED_STATUSES[kind]


@dataclass(frozen=True)
class Change:
    """What API calls changed on one generated object (the views keep these in the database)."""

    #: ENABLE, DISABLE or DELETE; empty when only the budget changed
    operation_status: str = ""
    budget: float | None = None
    modify_time: datetime | None = None


@dataclass(frozen=True)
class AdsObjects:
    """An advertiser's campaigns, ad groups and ads as ``*/get/`` shows them, ordered by id."""

    campaigns: list[dict]
    adgroups: list[dict]
    ads: list[dict]


# --- TikTok Ads: the generated tree -------------------------------------------------------

#: Ad groups per campaign and ads per ad group (inclusive ranges).
ADGROUPS_PER_CAMPAIGN = (2, 4)
ADS_PER_ADGROUP = (2, 4)
#: The first ad group of every 10th campaign has a lifetime budget (``BUDGET_MODE_TOTAL``);
#: every other ad group has a daily one (``BUDGET_MODE_DAY``).
LIFETIME_BUDGET_EVERY = 10
#: Minimum daily ad group budget per currency (``adgroup/budget/update/`` refuses less).
MIN_DAILY_BUDGET = {"USD": 20, "EUR": 20, "GBP": 20, "BRL": 100, "JPY": 2000}

_GOALS = {
    "TRAFFIC": "CLICK",
    "CONVERSIONS": "CONVERT",
    "LEAD_GENERATION": "LEAD_GENERATION",
    "VIDEO_VIEWS": "VIDEO_VIEW",
    "REACH": "REACH",
    "APP_PROMOTION": "INSTALL",
}
#: Goals optimised on a pixel event, and that event.
_PIXEL_EVENTS = {"CONVERT": "SHOPPING", "LEAD_GENERATION": "FORM"}
#: The count a goal reports as ``result``.
_RESULT_OF_GOAL = {
    "CLICK": "clicks",
    "CONVERT": "conversion",
    "LEAD_GENERATION": "conversion",
    "INSTALL": "conversion",
    "VIDEO_VIEW": "video_watched_6s",
    "REACH": "reach",
}
_CALLS_TO_ACTION = {
    "CLICK": "LEARN_MORE",
    "CONVERT": "SHOP_NOW",
    "LEAD_GENERATION": "SIGN_UP",
    "INSTALL": "DOWNLOAD_NOW",
    "VIDEO_VIEW": "WATCH_NOW",
    "REACH": "LEARN_MORE",
}
_AGE_GROUPS = ("AGE_18_24", "AGE_25_34", "AGE_35_44", "AGE_45_54", "AGE_55_100")
_GENDERS = ("GENDER_UNLIMITED", "GENDER_UNLIMITED", "GENDER_FEMALE", "GENDER_MALE")
#: geoname ids TikTok uses for ``location_ids``, by the advertiser's currency
_LOCATIONS = {
    "USD": "6252001",
    "BRL": "3469034",
    "EUR": "2921044",
    "GBP": "2635167",
    "JPY": "1861060",
}
_HOOKS = ("UGC review", "Unboxing", "Before/after", "Founder story", "Promo code", "How-to")
_AD_TEXTS = (
    "up to 30% off this week only.",
    "free shipping on every order.",
    "loved by 10,000+ customers.",
    "new colours just dropped.",
    "try it risk-free for 30 days.",
)
#: Money scale of each currency against USD, for generated CPMs.
_CPM_SCALE = {"USD": 1.0, "EUR": 0.92, "GBP": 0.8, "BRL": 5.0, "JPY": 150.0}


def min_daily_budget(currency: str) -> int:
    """The smallest daily budget allowed in ``currency`` (USD's for a currency not in the table)."""
    return MIN_DAILY_BUDGET.get(currency, MIN_DAILY_BUDGET["USD"])


@dataclass(frozen=True, slots=True)
class _Delivery:
    """How one ad delivers. Every (ad, day) value is a pure function of this and the day."""

    seed: int
    #: spend on an average day at full maturity, in the advertiser's currency
    daily_spend: float
    cpm: float
    ctr: float
    cvr: float
    #: share of in-flight days with any delivery
    deliver_rate: float
    #: in flight when ``(day + flight_phase) % FLIGHT_CYCLE_DAYS < flight_days``
    flight_phase: int
    flight_days: int
    reach_ratio: float
    play_rate: float
    result: str
    #: generated paused or deleted (itself or a parent): nothing in the restated days
    paused: bool


@dataclass(frozen=True)
class _AdsTree:
    advertiser_id: str
    currency: str
    timezone: str
    campaigns: tuple[dict, ...]
    adgroups: tuple[dict, ...]
    ads: tuple[dict, ...]
    #: object id -> ENABLE | DISABLE | DELETE, as generated
    own: Mapping[str, str]
    #: aligned with ``ads``
    delivery: tuple[_Delivery, ...]
    #: index of each ad group's / ad's campaign in ``campaigns``
    adgroup_campaign: tuple[int, ...]
    ad_campaign: tuple[int, ...]
    #: ``[start, end)`` ad index ranges of each ad group and each campaign
    adgroup_ads: tuple[tuple[int, int], ...]
    campaign_ads: tuple[tuple[int, int], ...]


def campaigns(advertiser_id: str) -> list[dict]:
    """All campaigns of an advertiser as generated, ordered by ``campaign_id``, deleted included."""
    return ads_objects(advertiser_id).campaigns


def adgroups(advertiser_id: str) -> list[dict]:
    """All ad groups as generated (2-4 per campaign), ordered by ``adgroup_id``."""
    return ads_objects(advertiser_id).adgroups


def ads(advertiser_id: str) -> list[dict]:
    """All ads as generated (2-4 per ad group), ordered by ``ad_id``."""
    return ads_objects(advertiser_id).ads


def ads_objects(advertiser_id: str, changes: Mapping[str, Change] | None = None) -> AdsObjects:
    """Campaigns, ad groups and ads with ``changes`` (object id -> :class:`Change`) applied.

    Statuses cascade: deleting or pausing a campaign shows on its ad groups and
    ads as ``*_CAMPAIGN_DELETE`` / ``*_CAMPAIGN_DISABLE``. Every row is a fresh
    dict, so callers may change what they get.
    """
    tree = _tree(advertiser_id, _anchor())
    changes = changes or {}
    state = dict(tree.own)
    for object_id, change in changes.items():
        if change.operation_status and object_id in state:
            state[object_id] = change.operation_status

    def resolved(row: dict, object_id: str, secondary: str) -> dict:
        own = state[object_id]
        result = {**row, "operation_status": _operation_status(own), "secondary_status": secondary}
        change = changes.get(object_id)
        if change is not None:
            if change.budget is not None:
                result["budget"] = change.budget
            if change.modify_time is not None:
                result["modify_time"] = change.modify_time.strftime(_TIME_FORMAT)
        return result

    return AdsObjects(
        campaigns=[
            resolved(c, c["campaign_id"], secondary_status(CAMPAIGN, state[c["campaign_id"]]))
            for c in tree.campaigns
        ],
        adgroups=[
            resolved(
                g,
                g["adgroup_id"],
                secondary_status(ADGROUP, state[g["adgroup_id"]], state[g["campaign_id"]]),
            )
            for g in tree.adgroups
        ],
        ads=[
            resolved(
                a,
                a["ad_id"],
                secondary_status(
                    AD, state[a["ad_id"]], state[a["campaign_id"]], state[a["adgroup_id"]]
                ),
            )
            for a in tree.ads
        ],
    )


@functools.lru_cache(maxsize=16)
def _tree(advertiser_id: str, anchor: datetime) -> _AdsTree:
    """Build an advertiser's whole account once per day (memoised: it is pure)."""
    account = advertiser(advertiser_id)
    currency = account["currency"] if account else "USD"
    timezone = account["timezone"] if account else "UTC"
    pixel_ids = [p["pixel_id"] for p in pixels(advertiser_id)]
    campaign_rows: list[dict] = []
    adgroup_rows: list[dict] = []
    ad_rows: list[dict] = []
    delivery: list[_Delivery] = []
    own: dict[str, str] = {}
    adgroup_campaign: list[int] = []
    ad_campaign: list[int] = []
    adgroup_ads: list[tuple[int, int]] = []
    campaign_ads: list[tuple[int, int]] = []
    for c_index in range(CAMPAIGNS_PER_ADVERTISER + DELETED_CAMPAIGNS_PER_ADVERTISER):
        campaign = _campaign(advertiser_id, c_index, anchor)
        c_own = "DELETE" if is_deleted(CAMPAIGN, campaign) else campaign["operation_status"]
        own[campaign["campaign_id"]] = c_own
        campaign_rows.append(campaign)
        campaign_first_ad = len(ad_rows)
        lifetime_index = c_index % LIFETIME_BUDGET_EVERY == LIFETIME_BUDGET_EVERY - 1
        for g_index in range(
            rng("adgroups", advertiser_id, c_index).randint(*ADGROUPS_PER_CAMPAIGN)
        ):
            lifetime = lifetime_index and g_index == 0
            adgroup, g_own = _adgroup(campaign, g_index, currency, pixel_ids, lifetime, anchor)
            own[adgroup["adgroup_id"]] = g_own
            adgroup_rows.append(adgroup)
            adgroup_campaign.append(c_index)
            group_first_ad = len(ad_rows)
            count = rng("ads", adgroup["adgroup_id"]).randint(*ADS_PER_ADGROUP)
            for a_index in range(count):
                ad, a_own, r = _ad(campaign, adgroup, a_index, anchor)
                own[ad["ad_id"]] = a_own
                ad_rows.append(ad)
                ad_campaign.append(c_index)
                paused = {c_own, g_own, a_own} != {"ENABLE"}
                delivery.append(_delivery(r, ad, adgroup, count, currency, paused))
            adgroup_ads.append((group_first_ad, len(ad_rows)))
        campaign_ads.append((campaign_first_ad, len(ad_rows)))
    return _AdsTree(
        advertiser_id=advertiser_id,
        currency=currency,
        timezone=timezone,
        campaigns=tuple(campaign_rows),
        adgroups=tuple(adgroup_rows),
        ads=tuple(ad_rows),
        own=own,
        delivery=tuple(delivery),
        adgroup_campaign=tuple(adgroup_campaign),
        ad_campaign=tuple(ad_campaign),
        adgroup_ads=tuple(adgroup_ads),
        campaign_ads=tuple(campaign_ads),
    )


def _child_times(r: random.Random, parent: dict, anchor: datetime) -> tuple[datetime, datetime]:
    """Created between the parent's creation and last change; changed in the last 90 days."""
    parent_created = datetime.strptime(parent["create_time"], _TIME_FORMAT).replace(tzinfo=UTC)
    parent_modified = datetime.strptime(parent["modify_time"], _TIME_FORMAT).replace(tzinfo=UTC)
    span = (parent_modified - parent_created).total_seconds()
    created = parent_created + timedelta(seconds=int(r.random() * span))
    earliest = max(created, anchor - timedelta(days=MODIFY_WINDOW_DAYS))
    modified = earliest + timedelta(seconds=int(r.random() * (anchor - earliest).total_seconds()))
    return created, modified


def _own_state(r: random.Random, deleted: float, disabled: float) -> str:
    roll = r.random()
    return "DELETE" if roll < deleted else "DISABLE" if roll < deleted + disabled else "ENABLE"


def _adgroup(
    campaign: dict,
    index: int,
    currency: str,
    pixel_ids: list[str],
    lifetime: bool,
    anchor: datetime,
) -> tuple[dict, str]:
    r = rng("adgroup", campaign["campaign_id"], index)
    created, modified = _child_times(r, campaign, anchor)
    goal = _GOALS[campaign["objective_type"]]
    daily = min_daily_budget(currency) * r.randint(10, 250) / 10
    ages = sorted(r.sample(_AGE_GROUPS, r.randint(1, len(_AGE_GROUPS))))
    age_label = ages[0][4:6] + "+" if len(ages) > 1 else ages[0][4:].replace("_", "-")
    own = _own_state(r, deleted=0.03, disabled=0.17)
    row = {
        "advertiser_id": campaign["advertiser_id"],
        "campaign_id": campaign["campaign_id"],
        "campaign_name": campaign["campaign_name"],
        "adgroup_id": f"17{campaign['campaign_id'][2:]}{index}",
        "adgroup_name": f"{r.choice(_AUDIENCES)} | {age_label} | #{index + 1}",
        "promotion_type": "APP_ANDROID" if goal == "INSTALL" else "WEBSITE",
        "placement_type": "PLACEMENT_TYPE_NORMAL",
        "placements": ["PLACEMENT_TIKTOK"],
        "location_ids": [_LOCATIONS.get(currency, _LOCATIONS["USD"])],
        "age_groups": ages,
        "gender": r.choice(_GENDERS),
        "budget_mode": "BUDGET_MODE_TOTAL" if lifetime else "BUDGET_MODE_DAY",
        "budget": round(daily * 30 if lifetime else daily, 2),
        "schedule_type": "SCHEDULE_START_END" if lifetime else "SCHEDULE_FROM_NOW",
        "schedule_start_time": created.strftime(_TIME_FORMAT),
        "schedule_end_time": (created + timedelta(days=60)).strftime(_TIME_FORMAT)
        if lifetime
        else None,
        "optimization_goal": goal,
        "optimization_event": _PIXEL_EVENTS.get(goal),
        "pixel_id": r.choice(pixel_ids) if goal in _PIXEL_EVENTS else None,
        "billing_event": "OCPM",
        "bid_type": "BID_TYPE_NO_BID",
        "bid_price": 0.0,
        "create_time": created.strftime(_TIME_FORMAT),
        "modify_time": modified.strftime(_TIME_FORMAT),
    }
    return row, own


def _ad(
    campaign: dict, adgroup: dict, index: int, anchor: datetime
) -> tuple[dict, str, random.Random]:
    r = rng("ad", adgroup["adgroup_id"], index)
    created, modified = _child_times(r, adgroup, anchor)
    ad_id = f"16{adgroup['adgroup_id'][2:]}{index}"
    product = r.choice(_PRODUCTS)
    video = r.random() >= 0.1
    own = _own_state(r, deleted=0.04, disabled=0.16)
    slug = product.lower().replace(" ", "-")
    row = {
        "advertiser_id": adgroup["advertiser_id"],
        "campaign_id": adgroup["campaign_id"],
        "campaign_name": adgroup["campaign_name"],
        "adgroup_id": adgroup["adgroup_id"],
        "adgroup_name": adgroup["adgroup_name"],
        "ad_id": ad_id,
        "ad_name": f"{product} | {r.choice(_HOOKS)} | v{index + 1}",
        "ad_format": "SINGLE_VIDEO" if video else "SINGLE_IMAGE",
        "ad_text": f"{product}: {r.choice(_AD_TEXTS)}",
        "call_to_action": _CALLS_TO_ACTION[adgroup["optimization_goal"]],
        "landing_page_url": f"https://shop.sandbox.example/{slug}"
        f"?utm_source=tiktok&utm_campaign={campaign['campaign_id']}&utm_content={ad_id}",
        "video_id": f"v10033g50000{r.getrandbits(80):020x}" if video else None,
        "image_ids": [] if video else [f"ad-site-i18n-sg/{r.getrandbits(96):024x}"],
        "identity_type": "CUSTOMIZED_USER",
        "identity_id": f"7{campaign['advertiser_id'][-18:]}",
        "display_name": f"{product} Official",
        "create_time": created.strftime(_TIME_FORMAT),
        "modify_time": modified.strftime(_TIME_FORMAT),
    }
    return row, own, r


def _delivery(
    r: random.Random, ad: dict, adgroup: dict, siblings: int, currency: str, paused: bool
) -> _Delivery:
    daily_budget = adgroup["budget"] / (30 if adgroup["budget_mode"] == "BUDGET_MODE_TOTAL" else 1)
    # One ad in seven barely delivers: its days often have no click (cpc "-").
    utilisation = r.uniform(0.005, 0.04) if r.random() < 0.15 else r.uniform(0.25, 1.0)
    always_on = r.random() < 0.35
    return _Delivery(
        seed=_mix64(int(ad["ad_id"])),
        daily_spend=daily_budget / siblings * utilisation,
        cpm=r.uniform(2.0, 12.0) * _CPM_SCALE.get(currency, 1.0),
        ctr=r.uniform(0.004, 0.025),
        cvr=r.uniform(0.01, 0.12),
        deliver_rate=r.uniform(0.3, 0.95),
        flight_phase=r.randrange(FLIGHT_CYCLE_DAYS),
        flight_days=FLIGHT_CYCLE_DAYS if always_on else r.randint(30, FLIGHT_CYCLE_DAYS - 10),
        reach_ratio=r.uniform(0.6, 0.95),
        play_rate=r.uniform(0.55, 0.9),
        result=_RESULT_OF_GOAL[adgroup["optimization_goal"]],
        paused=paused,
    )


# --- TikTok Ads: custom audiences -------------------------------------------------------

AUDIENCES_PER_ADVERTISER = 27
_AUDIENCE_TYPES = (
    "Customer File Audience",
    "Engagement Audience",
    "Website Audience",
    "Lookalike Audience",
    "App Activity Audience",
    "Lead Generation",
)
_AUTO_REFRESHED = {"Engagement Audience", "Website Audience", "App Activity Audience"}


def custom_audiences(advertiser_id: str) -> list[dict]:
    """Custom audiences of an advertiser (``dmp/custom_audience/list/``), ordered by id."""
    anchor = _anchor()
    account = advertiser(advertiser_id)
    location = _LOCATIONS.get(account["currency"] if account else "USD", _LOCATIONS["USD"])
    seed_audience = f"11{advertiser_id[-6:]}000"
    result = []
    for index in range(AUDIENCES_PER_ADVERTISER):
        r = rng("audience", advertiser_id, index)
        kind = _AUDIENCE_TYPES[index % len(_AUDIENCE_TYPES)]
        created = anchor - timedelta(days=r.randint(1, 400), seconds=r.randint(0, 86399))
        expires = created + timedelta(days=365)
        shared = r.random() < 0.2
        is_creator = not shared or r.random() < 0.5
        calculating = r.random() < 0.1
        if calculating:
            cover = 0
        elif kind == "Lookalike Audience":
            cover = r.randint(1_000_000, 20_000_000)
        else:
            cover = r.randint(1_000, 900_000)
        row = {
            "audience_id": f"11{advertiser_id[-6:]}{index:03d}",
            "name": f"{kind.split()[0]} | {r.choice(_PRODUCTS)} | {index + 1:02d}",
            "audience_type": kind,
            "audience_sub_type": "NORMAL",
            "cover_num": cover,
            "shared": shared,
            "is_creator": is_creator,
            "owner_id": advertiser_id if is_creator else _digits(r, 19),
            "is_valid": not calculating,
            "is_expiring": expires - anchor < timedelta(days=60),
            "is_auto_refresh": kind in _AUTO_REFRESHED,
            "calculate_type": "EMAIL_SHA256" if kind == "Customer File Audience" else None,
            "msg": "Calculating" if calculating else "",
            "create_time": created.strftime(_TIME_FORMAT),
            "expired_time": expires.strftime(_TIME_FORMAT),
        }
        if kind == "Lookalike Audience":
            row["lookalike_spec"] = {
                "source_audience_id": seed_audience,
                "include_source": False,
                "mobile_os": "ALL",
                "placements": ["TIKTOK"],
                "location_ids": [location],
                "audience_size": r.choice(("NARROW", "BALANCED", "BROAD")),
            }
        result.append(row)
    return result


# --- TikTok Ads: daily report rows ------------------------------------------------------

#: Days of report history, ending today in the advertiser's time zone.
HISTORY_DAYS = 180
#: Days (today included) whose numbers still move: they depend on today's date.
RESTATED_DAYS = 3
#: Ads run in flights that repeat on this calendar cycle (days).
FLIGHT_CYCLE_DAYS = 120
#: Share of a day's final numbers already reported when it is 0, 1 and 2 days old.
_MATURITY = (0.6, 0.9, 0.97)
#: Conversions arrive later still (attribution), so they mature more slowly.
_CONVERSION_MATURITY = (0.4, 0.75, 0.92)
#: Monday to Sunday.
_WEEKDAY_FACTOR = (0.95, 0.97, 1.0, 1.0, 1.05, 1.12, 1.08)

#: ``data_level`` -> the id dimension its rows carry.
DATA_LEVELS = {
    "AUCTION_AD": "ad_id",
    "AUCTION_ADGROUP": "adgroup_id",
    "AUCTION_CAMPAIGN": "campaign_id",
    "AUCTION_ADVERTISER": "advertiser_id",
}
#: What every report row sums (``spend`` in cents); each is also a metric of that name.
_COUNTS = (
    "spend",
    "impressions",
    "clicks",
    "conversion",
    "reach",
    "result",
    "video_play_actions",
    "video_watched_2s",
    "video_watched_6s",
    "video_views_p25",
    "video_views_p50",
    "video_views_p75",
    "video_views_p100",
    "likes",
    "comments",
    "shares",
    "follows",
    "profile_visits",
)
_AT = {name: index for index, name in enumerate(_COUNTS)}
#: metric -> (numerator, denominator, factor); ``"-"`` when the denominator is 0.
RATIO_METRICS = {
    "ctr": ("clicks", "impressions", 100),
    "cpc": ("spend", "clicks", 1),
    "cpm": ("spend", "impressions", 1000),
    "frequency": ("impressions", "reach", 1),
    "cost_per_conversion": ("spend", "conversion", 1),
    "conversion_rate": ("conversion", "clicks", 100),
    "cost_per_result": ("spend", "result", 1),
}
#: Attribute metrics (names and settings of the row's object), per data level.
ATTRIBUTE_METRICS = {
    "AUCTION_AD": (
        "ad_name",
        "ad_text",
        "adgroup_id",
        "adgroup_name",
        "campaign_id",
        "campaign_name",
        "objective_type",
        "currency",
    ),
    "AUCTION_ADGROUP": (
        "adgroup_name",
        "campaign_id",
        "campaign_name",
        "objective_type",
        "currency",
    ),
    "AUCTION_CAMPAIGN": ("campaign_name", "objective_type", "currency"),
    "AUCTION_ADVERTISER": ("currency",),
}
DEFAULT_METRICS = ("spend", "impressions")


def report_metrics(data_level: str) -> frozenset[str]:
    """Every metric ``report/integrated/get/`` knows at ``data_level``."""
    return frozenset(_COUNTS) | frozenset(RATIO_METRICS) | frozenset(ATTRIBUTE_METRICS[data_level])


def report_today(advertiser_id: str) -> date:
    """Today in the advertiser's time zone: the last day of report history."""
    account = advertiser(advertiser_id)
    zone = ZoneInfo(account["timezone"]) if account else UTC
    return now().astimezone(zone).date()


@dataclass(frozen=True)
class ReportQuery:
    advertiser_id: str
    data_level: str
    #: rows per (object, day) with ``stat_time_day``; else one row per object for the range
    by_day: bool
    start: date
    end: date
    metrics: tuple[str, ...]
    #: ids of the objects whose rows may appear (id filters and the deleted rule applied)
    allowed: frozenset[str]
    page: int = 1
    page_size: int = 10
    with_totals: bool = False


@dataclass(frozen=True)
class ReportPage:
    rows: list[dict]
    total_number: int
    total_metrics: dict | None = None


def report(query: ReportQuery) -> ReportPage:
    """One page of ``report/integrated/get/`` rows, ordered by object id, then day.

    Only (object, day) pairs with delivery exist, as in the real API: a day
    without spend has no row. Counting them costs a binary search per object
    over memoised delivery calendars; metrics are computed for the page only.
    """
    anchor = _anchor()
    tree = _tree(query.advertiser_id, anchor)
    today = report_today(query.advertiser_id)
    first = today.toordinal() - HISTORY_DAYS + 1
    lo = max(0, query.start.toordinal() - first)
    hi = min(HISTORY_DAYS, query.end.toordinal() - first + 1)
    entities = _entities(query.advertiser_id, anchor, query.data_level)
    days = _days(query.advertiser_id, anchor, today, query.data_level)
    sums = _Sums(tree, _days(query.advertiser_id, anchor, today, "AUCTION_AD"), first, today)
    picked: list[tuple[int, int, int]] = []
    for index, (entity_id, _, _) in enumerate(entities if lo < hi else ()):
        if entity_id in query.allowed:
            left = bisect_left(days[index], lo)
            count = bisect_left(days[index], hi, left) - left
            if count:
                picked.append((index, left, count))
    total = sum(count for *_, count in picked) if query.by_day else len(picked)
    rows = list(_page_rows(query, tree, entities, days, sums, picked, lo, hi))
    totals = None
    if query.with_totals:
        acc = [0] * len(_COUNTS)
        for index, _, _ in picked:
            _, start, end = entities[index]
            acc = _add(acc, sums.window(start, end, lo, hi))
        numeric = [m for m in query.metrics if m in _AT or m in RATIO_METRICS]
        totals = _metric_values(acc, numeric, {})
    return ReportPage(rows=rows, total_number=total, total_metrics=totals)


def _page_rows(
    query: ReportQuery,
    tree: _AdsTree,
    entities: tuple[tuple[str, int, int], ...],
    days: tuple[array, ...],
    sums: _Sums,
    picked: list[tuple[int, int, int]],
    lo: int,
    hi: int,
) -> Iterator[dict]:
    id_dimension = DATA_LEVELS[query.data_level]
    skip = (query.page - 1) * query.page_size
    room = query.page_size
    for index, left, count in picked:
        units = count if query.by_day else 1
        if skip >= units:
            skip -= units
            continue
        entity_id, start, end = entities[index]
        attributes = _attributes(tree, query.data_level, index)
        if query.by_day:
            take = min(units - skip, room)
            for position in range(left + skip, left + skip + take):
                offset = days[index][position]
                day = date.fromordinal(sums.first + offset)
                yield {
                    "dimensions": {
                        id_dimension: entity_id,
                        "stat_time_day": f"{day.isoformat()} 00:00:00",
                    },
                    "metrics": _metric_values(
                        sums.day(start, end, offset), query.metrics, attributes
                    ),
                }
        else:
            take = 1
            counts = sums.window(start, end, lo, hi)
            yield {
                "dimensions": {id_dimension: entity_id},
                "metrics": _metric_values(counts, query.metrics, attributes),
            }
        skip = 0
        room -= take
        if not room:
            return


class _Sums:
    """Counts of one object (an ``[start, end)`` range of ads) for one day or a day range."""

    def __init__(self, tree: _AdsTree, ad_days: tuple[array, ...], first: int, today: date):
        self.tree = tree
        self.ad_days = ad_days
        self.first = first
        self.today = today.toordinal()
        self.windows: dict[tuple[int, int, int, int], list[int]] = {}

    def day(self, start: int, end: int, offset: int) -> list[int] | tuple[int, ...]:
        if end - start == 1:  # one ad: the object's calendar is the ad's, so it delivered
            return _ad_day(self.tree.delivery[start], self.first + offset, self.today)
        acc = [0] * len(_COUNTS)
        for ad in range(start, end):
            days = self.ad_days[ad]
            position = bisect_left(days, offset)
            if position < len(days) and days[position] == offset:
                acc = _add(acc, _ad_day(self.tree.delivery[ad], self.first + offset, self.today))
        return acc

    def window(self, start: int, end: int, lo: int, hi: int) -> list[int]:
        """Counts summed over the days ``[lo, hi)``; remembered, as totals ask again."""
        key = (start, end, lo, hi)
        if key not in self.windows:
            acc = [0] * len(_COUNTS)
            for ad in range(start, end):
                days = self.ad_days[ad]
                delivery = self.tree.delivery[ad]
                for offset in days[bisect_left(days, lo) : bisect_left(days, hi)]:
                    acc = _add(acc, _ad_day(delivery, self.first + offset, self.today))
            self.windows[key] = acc
        return self.windows[key]


def _add(acc: list[int], counts: list[int] | tuple[int, ...]) -> list[int]:
    return [a + b for a, b in zip(acc, counts, strict=True)]


def _attributes(tree: _AdsTree, data_level: str, index: int) -> dict[str, str]:
    if data_level == "AUCTION_AD":
        row = tree.ads[index]
        campaign = tree.campaigns[tree.ad_campaign[index]]
    elif data_level == "AUCTION_ADGROUP":
        row = tree.adgroups[index]
        campaign = tree.campaigns[tree.adgroup_campaign[index]]
    elif data_level == "AUCTION_CAMPAIGN":
        row = campaign = tree.campaigns[index]
    else:
        return {"currency": tree.currency}
    names = ATTRIBUTE_METRICS[data_level]
    values = {name: str(row[name]) for name in names if name in row}
    values["objective_type"] = campaign["objective_type"]
    values["currency"] = tree.currency
    return values


def _metric_values(
    counts: list[int] | tuple[int, ...],
    metrics: list[str] | tuple[str, ...],
    attributes: dict[str, str],
) -> dict[str, str]:
    """Metric values as strings, like the real API; ``"-"`` where a ratio has no base."""
    values = {}
    for name in metrics:
        if name == "spend":
            values[name] = _money(counts[_AT["spend"]])
        elif name in _AT:
            values[name] = str(counts[_AT[name]])
        elif name in RATIO_METRICS:
            numerator, denominator, factor = RATIO_METRICS[name]
            base = counts[_AT[denominator]]
            top = counts[_AT[numerator]] / (100 if numerator == "spend" else 1)
            values[name] = f"{top / base * factor:.2f}" if base else "-"
        else:
            values[name] = attributes.get(name, "-")
    return values


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


@functools.lru_cache(maxsize=64)
def _entities(
    advertiser_id: str, anchor: datetime, data_level: str
) -> tuple[tuple[str, int, int], ...]:
    """The report's objects at ``data_level``: ``(id, first ad, end ad)``, ordered by id."""
    tree = _tree(advertiser_id, anchor)
    if data_level == "AUCTION_AD":
        return tuple((ad["ad_id"], index, index + 1) for index, ad in enumerate(tree.ads))
    if data_level == "AUCTION_ADGROUP":
        return tuple(
            (group["adgroup_id"], *tree.adgroup_ads[index])
            for index, group in enumerate(tree.adgroups)
        )
    if data_level == "AUCTION_CAMPAIGN":
        return tuple(
            (campaign["campaign_id"], *tree.campaign_ads[index])
            for index, campaign in enumerate(tree.campaigns)
        )
    return ((advertiser_id, 0, len(tree.ads)),)


@functools.lru_cache(maxsize=64)
def _days(advertiser_id: str, anchor: datetime, today: date, data_level: str) -> tuple[array, ...]:
    """Per report object, the sorted history offsets (0 = oldest day) that have delivery."""
    if data_level != "AUCTION_AD":
        ad_days = _days(advertiser_id, anchor, today, "AUCTION_AD")
        return tuple(
            array("H", sorted(set().union(*ad_days[start:end])))
            for _, start, end in _entities(advertiser_id, anchor, data_level)
        )
    first = today.toordinal() - HISTORY_DAYS + 1
    settled = HISTORY_DAYS - RESTATED_DAYS
    result = []
    for delivery in _tree(advertiser_id, anchor).delivery:
        days = array("H")
        for offset in range(settled if delivery.paused else HISTORY_DAYS):
            day = first + offset
            if (day + delivery.flight_phase) % FLIGHT_CYCLE_DAYS >= delivery.flight_days:
                continue
            if (_mix64(delivery.seed ^ (day * _DAY_KEY)) >> 11) * _UNIT < delivery.deliver_rate:
                days.append(offset)
        result.append(days)
    return tuple(result)


def _ad_day(delivery: _Delivery, day: int, today: int) -> tuple[int, ...]:
    """One ad's counts on one day (a proleptic ordinal), as reported on ``today``.

    Days at least :data:`RESTATED_DAYS` old are final: a pure function of the ad
    and the day. Younger days report a share of their final numbers that grows
    with age, jittered by today's date, so a re-pull on another day differs.
    """
    u = _units(delivery.seed, day, count=10)
    share = conversion_share = 1.0
    age = today - day
    if 0 <= age < RESTATED_DAYS:
        share = _MATURITY[age] * (0.97 + 0.06 * _units(delivery.seed, day, today, count=1)[0])
        conversion_share = _CONVERSION_MATURITY[age] / _MATURITY[age]
    weekday = _WEEKDAY_FACTOR[(day + 6) % 7]
    spend = delivery.daily_spend * (0.55 + 0.9 * u[0]) * weekday * share
    spend_cents = max(1, round(spend * 100))
    cpm = delivery.cpm * (0.85 + 0.3 * u[1])
    impressions = max(1, int(spend_cents / 100 / cpm * 1000 + u[2]))
    clicks = min(impressions, int(impressions * delivery.ctr * (0.7 + 0.6 * u[3]) + u[4]))
    conversion = int(clicks * delivery.cvr * (0.6 + 0.8 * u[5]) * conversion_share + u[6])
    reach = max(1, int(impressions * delivery.reach_ratio))
    plays = int(impressions * delivery.play_rate)
    watched_6s = int(plays * 0.27)
    likes = int(impressions * 0.012 * (0.5 + u[7]))
    result = {
        "clicks": clicks,
        "conversion": conversion,
        "reach": reach,
        "video_watched_6s": watched_6s,
    }[delivery.result]
    return (
        spend_cents,
        impressions,
        clicks,
        conversion,
        reach,
        result,
        plays,
        int(plays * 0.52),
        watched_6s,
        int(plays * 0.35),
        int(plays * 0.2),
        int(plays * 0.12),
        int(plays * 0.07),
        likes,
        int(likes * 0.08 * (0.5 + u[8])),
        int(likes * 0.05 * (0.5 + u[9])),
        int(likes * 0.04),
        int(clicks * 0.3 + likes * 0.02),
    )


_MASK64 = (1 << 64) - 1
_UNIT = 2.0**-53
#: Spreads day ordinals over the 64-bit space before mixing.
_DAY_KEY = 0xD1B54A32D192ED03


def _mix64(value: int) -> int:
    """SplitMix64's finaliser: a fast, well-spread 64-bit hash of an integer.

    Report values need millions of draws; seeding a ``random.Random`` per
    (ad, day) would cost ten times more.
    """
    value = (value + 0x9E3779B97F4A7C15) & _MASK64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK64
    return value ^ (value >> 31)


def _units(seed: int, *keys: int, count: int) -> list[float]:
    """``count`` floats in [0, 1) that depend only on ``seed`` and ``keys``."""
    state = seed
    for key in keys:
        state = _mix64(state ^ key)
    result = []
    for _ in range(count):
        state = _mix64(state)
        result.append((state >> 11) * _UNIT)
    return result


# --- TikTok Shop ------------------------------------------------------------------

_SHOP_REGIONS = ("GB", "US", "MY", "ID", "TH", "VN", "PH", "SG")


def seller(account_id: str) -> dict:
    """The seller behind a Shop authorization (fields of the token answer)."""
    r = rng("seller", account_id)
    who = identity("tiktok_shop", account_id)
    return {
        "open_id": str(uuid.UUID(int=r.getrandbits(128))),
        "seller_name": who.name if who else f"Seller {account_id[-6:]}",
        "seller_base_region": r.choice(("CN", "HK")),
        "user_type": 0,
    }


def shops(account_id: str) -> list[dict]:
    """Two shops of one cross-border seller (``/authorization/202309/shops``)."""
    r = rng("shops", account_id)
    regions = r.sample(_SHOP_REGIONS, SHOPS_PER_SELLER)
    name = seller(account_id)["seller_name"]
    alphabet = string.ascii_letters + string.digits + "-_"
    return [
        {
            "id": _digits(r, 19),
            "name": f"{name} {region}",
            "region": region,
            "seller_type": "CROSS_BORDER",
            "cipher": "ROW_" + "".join(r.choice(alphabet) for _ in range(32)),
            "code": region
            + "LC"
            + "".join(r.choice(string.ascii_uppercase + string.digits) for _ in range(6)),
        }
        for region in regions
    ]


# --- TikTok Content -----------------------------------------------------------------


def content_user(account_id: str) -> dict:
    """Every ``user/info/`` field of a Login Kit user; the view keeps what was asked."""
    r = rng("content-user", account_id)
    who = identity("tiktok_content", account_id)
    display = who.name if who else f"Creator {account_id[-4:]}"
    username = display.lower().replace(" ", ".")
    avatar = f"https://p16-sign.tiktokcdn.example/sandbox/{account_id}.jpeg"
    return {
        "open_id": str(uuid.UUID(int=r.getrandbits(128))),
        "union_id": str(uuid.UUID(int=r.getrandbits(128))),
        "avatar_url": avatar,
        "avatar_url_100": avatar + "?s=100",
        "avatar_large_url": avatar + "?s=1080",
        "display_name": display,
        "bio_description": "Sandbox creator. Nothing here is real.",
        "profile_deep_link": f"https://www.tiktok.com/@{username}",
        "is_verified": r.random() < 0.3,
        "username": username,
        "follower_count": r.randint(100, 2_000_000),
        "following_count": r.randint(10, 2000),
        "likes_count": r.randint(1000, 50_000_000),
        "video_count": r.randint(5, 900),
    }


# --- Meta -----------------------------------------------------------------------


def meta_user(account_id: str) -> dict:
    who = identity("meta", account_id)
    name = who.name if who else f"Sandbox User {account_id[-4:]}"
    return {
        "id": account_id,
        "name": name,
        "email": name.lower().replace(" ", ".") + "@sandbox.example",
    }
