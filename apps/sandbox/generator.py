"""Deterministic provider data: the same account id always yields the same world.

Every function seeds its own ``random.Random`` from the ids it is given (string
seeds are stable across interpreters and ``PYTHONHASHSEED``), so two runs, two
processes or two machines see identical advertisers, campaigns and shops.
Times that must look recent (``modify_time`` over the last 90 days) are offsets
from today's midnight UTC, so they stay fixed for a whole day.
"""

from __future__ import annotations

import random
import string
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

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


def _anchor() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


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
    """Pixels of an advertiser (``pixel/list/``); ``pixel_code`` is the Events API source id."""
    result = []
    for index in range(PIXELS_PER_ADVERTISER):
        r = rng("pixel", advertiser_id, index)
        created = _anchor() - timedelta(days=r.randint(30, 400))
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
            }
        )
    return result


def campaigns(advertiser_id: str) -> list[dict]:
    """All campaigns of an advertiser, ordered by ``campaign_id``, deleted ones included."""
    total = CAMPAIGNS_PER_ADVERTISER + DELETED_CAMPAIGNS_PER_ADVERTISER
    anchor = _anchor()
    return [_campaign(advertiser_id, index, anchor) for index in range(total)]


def _campaign(advertiser_id: str, index: int, anchor: datetime) -> dict:
    r = rng("campaign", advertiser_id, index)
    deleted = index >= CAMPAIGNS_PER_ADVERTISER
    modified = anchor - timedelta(seconds=r.randint(0, MODIFY_WINDOW_DAYS * 86400 - 1))
    created = modified - timedelta(days=r.randint(0, 180), seconds=r.randint(0, 86399))
    objective = r.choice(_OBJECTIVES)
    budget_mode = r.choice(_BUDGET_MODES)
    enabled = r.random() < 0.7
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
        "operation_status": "DISABLE" if deleted or not enabled else "ENABLE",
        "secondary_status": _campaign_secondary_status(deleted, enabled),
        "is_smart_performance_campaign": r.random() < 0.1,
        "create_time": created.strftime(_TIME_FORMAT),
        "modify_time": modified.strftime(_TIME_FORMAT),
    }


def _campaign_secondary_status(deleted: bool, enabled: bool) -> str:
    if deleted:
        return "CAMPAIGN_STATUS_DELETE"
    return "CAMPAIGN_STATUS_ENABLE" if enabled else "CAMPAIGN_STATUS_DISABLE"


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
