"""Deterministic Meta data for the sandbox: ad accounts, pixels, ads, daily insights, WhatsApp.

The world is small and fixed (pure functions of fixed seeds, memoised per
process, never state another process needs):

- :data:`AD_ACCOUNT_COUNT` ad accounts. Each sandbox Facebook user reaches
  two of them, and neighbours share one (:func:`accounts_of`): user 0
  reaches accounts 0 and 1, user 1 reaches 1 and 2, user 2 reaches 2 and 3.
  So account 1 is reachable through two profiles. The last account is
  disabled (``account_status`` 2).
- Each account has 2 pixels/datasets and 2 campaigns x 2 ad sets x 2 ads.
  The first campaign of each account is a click-to-WhatsApp (messaging)
  campaign: its insights carry
  ``onsite_conversion.messaging_conversation_started_7d``.
- Insights: one row per ad and day (in the account's time zone) with
  delivery on most days, from :data:`DELIVERY_DAYS` days ago until today.
- A WhatsApp Business Account's conversions dataset id is derived from its id.

Times come from :func:`generator.now`, so tests move the whole world in time.
"""

from __future__ import annotations

import base64
import functools
import json
import string
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from . import generator

AD_ACCOUNT_COUNT = 4
ACCOUNTS_PER_USER = 2
PIXELS_PER_ACCOUNT = 2
CAMPAIGNS_PER_ACCOUNT = 2
ADSETS_PER_CAMPAIGN = 2
ADS_PER_ADSET = 2
#: Ads delivered over this many days before today (a backfill finds nothing older).
DELIVERY_DAYS = 400
#: Share of (ad, day) pairs with delivery.
DELIVERY_SHARE = 0.85
MESSAGING_STARTED = "onsite_conversion.messaging_conversation_started_7d"

_ACCOUNTS = (
    ("Loja Centro", "BRL", "America/Sao_Paulo", 1),
    ("Loja Online", "BRL", "America/Sao_Paulo", 1),
    ("Export Store", "USD", "America/New_York", 1),
    ("Old Brand", "EUR", "Europe/Berlin", 2),
)
_CAMPAIGNS = ("Conversas WhatsApp", "Tráfego Site", "Black Friday", "Lançamento")
_OBJECTIVES = ("OUTCOME_ENGAGEMENT", "OUTCOME_TRAFFIC")
_ADSETS = ("Público Amplo", "Remarketing 30d", "Interesses", "Lookalike 1%")
_ADS = ("Vídeo depoimento", "Carrossel ofertas", "Imagem promo", "Reels bastidores")


@dataclass(frozen=True)
class AdAccount:
    account_id: str
    name: str
    currency: str
    timezone_name: str
    status: int
    business_id: str

    @property
    def node(self) -> str:
        return f"act_{self.account_id}"

    def today(self) -> date:
        return generator.now().astimezone(ZoneInfo(self.timezone_name)).date()

    def as_graph(self) -> dict:
        return {
            "id": self.node,
            "account_id": self.account_id,
            "name": self.name,
            "account_status": self.status,
            "currency": self.currency,
            "timezone_name": self.timezone_name,
            "business": {"id": self.business_id, "name": f"{self.name} Ltda"},
            "disable_reason": 0 if self.status == 1 else 1,
        }


@dataclass(frozen=True)
class Ad:
    ad_id: str
    name: str
    adset_id: str
    adset_name: str
    campaign_id: str
    campaign_name: str
    account_id: str
    messaging: bool


@functools.cache
def ad_accounts() -> tuple[AdAccount, ...]:
    result = []
    for index, (name, currency, tz, status) in enumerate(_ACCOUNTS):
        r = generator.rng("meta-ad-account", index)
        result.append(
            AdAccount(
                account_id=generator._digits(r, 16, "1"),
                name=name,
                currency=currency,
                timezone_name=tz,
                status=status,
                business_id=generator._digits(r, 15, "2"),
            )
        )
    return tuple(result)


def ad_account(account_id: str) -> AdAccount | None:
    return next((a for a in ad_accounts() if a.account_id == account_id), None)


def accounts_of(user_id: str) -> list[AdAccount]:
    """The ad accounts a sandbox Facebook user reaches; neighbours share one."""
    users = [who.account_id for who in generator.identities("meta")]
    if user_id not in users:
        return []
    first = users.index(user_id)
    return list(ad_accounts()[first : first + ACCOUNTS_PER_USER])


@functools.cache
def pixels(account_id: str) -> tuple[dict, ...]:
    account = ad_account(account_id)
    if account is None:
        return ()
    result = []
    for index, label in enumerate(("Pixel do site", "Dataset WhatsApp")[:PIXELS_PER_ACCOUNT]):
        r = generator.rng("meta-pixel", account_id, index)
        result.append(
            {
                "id": generator._digits(r, 15, "8"),
                "name": f"{account.name} · {label}",
                "last_fired_time": "2026-11-20T10:15:00+0000",
                "is_unavailable": False,
            }
        )
    return tuple(result)


@functools.cache
def ads_of(account_id: str) -> tuple[Ad, ...]:
    result = []
    for c in range(CAMPAIGNS_PER_ACCOUNT):
        rc = generator.rng("meta-campaign", account_id, c)
        campaign_id = "1202" + generator._digits(rc, 14, "1")
        campaign_name = f"{_CAMPAIGNS[(c + int(account_id[-1])) % len(_CAMPAIGNS)]} {c + 1}"
        for s in range(ADSETS_PER_CAMPAIGN):
            rs = generator.rng("meta-adset", campaign_id, s)
            adset_id = "1202" + generator._digits(rs, 14, "3")
            adset_name = _ADSETS[(c * ADSETS_PER_CAMPAIGN + s) % len(_ADSETS)]
            for a in range(ADS_PER_ADSET):
                ra = generator.rng("meta-ad", adset_id, a)
                result.append(
                    Ad(
                        ad_id="1202" + generator._digits(ra, 14, "5"),
                        name=f"{_ADS[(s * ADS_PER_ADSET + a) % len(_ADS)]} {a + 1}",
                        adset_id=adset_id,
                        adset_name=adset_name,
                        campaign_id=campaign_id,
                        campaign_name=campaign_name,
                        account_id=account_id,
                        messaging=c == 0,
                    )
                )
    return tuple(result)


def objective(ad: Ad) -> str:
    return _OBJECTIVES[0] if ad.messaging else _OBJECTIVES[1]


@functools.cache
def _ads_by_id() -> dict[str, Ad]:
    return {ad.ad_id: ad for account in ad_accounts() for ad in ads_of(account.account_id)}


def ad(ad_id: str) -> Ad | None:
    return _ads_by_id().get(ad_id)


def default_ad() -> Ad:
    """The first click-to-WhatsApp ad of the shared account (reached by users 0 and 1)."""
    return ads_of(ad_accounts()[1].account_id)[0]


# --- insights ---------------------------------------------------------------------------


def insight_rows(account: AdAccount, since: date, until: date) -> list[dict]:
    """Daily per-ad rows between two days (both included), oldest day first, then by ad."""
    first_day = account.today() - timedelta(days=DELIVERY_DAYS)
    rows = []
    day = max(since, first_day)
    last = min(until, account.today())
    while day <= last:
        for item in ads_of(account.account_id):
            row = _insight(account, item, day)
            if row is not None:
                rows.append(row)
        day += timedelta(days=1)
    return rows


@functools.lru_cache(maxsize=200_000)
def _insight(account: AdAccount, item: Ad, day: date) -> dict | None:
    r = generator.rng("meta-insight", item.ad_id, day.isoformat())
    if r.random() > DELIVERY_SHARE:
        return None
    impressions = r.randint(200, 20000)
    clicks = int(impressions * r.uniform(0.005, 0.03))
    spend = round(impressions / 1000 * r.uniform(8, 40), 2)
    row = {
        "account_id": account.account_id,
        "account_currency": account.currency,
        "campaign_id": item.campaign_id,
        "campaign_name": item.campaign_name,
        "adset_id": item.adset_id,
        "adset_name": item.adset_name,
        "ad_id": item.ad_id,
        "ad_name": item.name,
        "spend": f"{spend:.2f}",
        "impressions": str(impressions),
        "clicks": str(clicks),
        "date_start": day.isoformat(),
        "date_stop": day.isoformat(),
    }
    actions = [{"action_type": "link_click", "value": str(clicks)}]
    if item.messaging:
        started = max(0, int(clicks * r.uniform(0.2, 0.6)))
        actions.append({"action_type": MESSAGING_STARTED, "value": str(started)})
    row["actions"] = actions
    return row


# --- cursors -------------------------------------------------------------------------------


def cursor_for(offset: int) -> str:
    """An opaque Graph-style cursor (base64 of the offset)."""
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def offset_of(cursor: str) -> int | None:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return int(json.loads(base64.urlsafe_b64decode(padded))["o"])
    except (ValueError, KeyError, TypeError):
        return None


# --- WhatsApp ---------------------------------------------------------------------------------


def waba_dataset_id(waba_id: str) -> str:
    return generator._digits(generator.rng("meta-waba-dataset", waba_id), 16, "9")


def ctwa_clid(seed: object) -> str:
    r = generator.rng("meta-ctwa", seed)
    alphabet = string.ascii_letters + string.digits + "-_"
    return "ARA" + "".join(r.choice(alphabet) for _ in range(40))


def whatsapp_message_delivery(
    *,
    waba_id: str,
    phone_number_id: str,
    display_phone_number: str,
    message_id: str,
    wa_id: str,
    user_id: str,
    name: str,
    text: str,
    sent_at: datetime,
    referral: dict | None,
) -> dict:
    """A ``messages`` webhook body shaped like Meta's (contract §5.2, §5.6)."""
    message: dict = {
        "from": wa_id,
        "id": message_id,
        "timestamp": str(int(sent_at.timestamp())),
        "type": "text",
        "text": {"body": text},
    }
    if referral is not None:
        message["referral"] = referral
    contact: dict = {"profile": {"name": name}, "wa_id": wa_id}
    if user_id:
        contact["user_id"] = user_id
    return _envelope(
        waba_id,
        {
            "messaging_product": "whatsapp",
            "metadata": {
                "display_phone_number": display_phone_number,
                "phone_number_id": phone_number_id,
            },
            "contacts": [contact],
            "messages": [message],
        },
    )


def whatsapp_status_delivery(
    *,
    waba_id: str,
    phone_number_id: str,
    display_phone_number: str,
    message_id: str,
    status: str,
    recipient_id: str,
    at: datetime,
) -> dict:
    """A ``statuses`` webhook body for a message the business sent."""
    return _envelope(
        waba_id,
        {
            "messaging_product": "whatsapp",
            "metadata": {
                "display_phone_number": display_phone_number,
                "phone_number_id": phone_number_id,
            },
            "statuses": [
                {
                    "id": message_id,
                    "status": status,
                    "timestamp": str(int(at.timestamp())),
                    "recipient_id": recipient_id,
                    "pricing": {
                        "billable": False,
                        "pricing_model": "PMP",
                        "category": "referral_conversion",
                        "type": "free_entry_point",
                    },
                }
            ],
        },
    )


def referral_for(item: Ad, *, clid: str | None) -> dict:
    """The ``referral`` a click on ``item`` carries; ``clid=None`` is a Status ad (no clid)."""
    referral = {
        "source_url": f"https://fb.me/{item.ad_id[-9:]}",
        "source_id": item.ad_id,
        "source_type": "ad",
        "body": f"{item.campaign_name}: fale com a gente",
        "headline": item.name,
        "media_type": "image",
        "image_url": "https://scontent.xx.fbcdn.net/v/t45.1600-4/sandbox.jpg",
    }
    if clid is not None:
        referral["ctwa_clid"] = clid
    return referral


def _envelope(waba_id: str, value: dict) -> dict:
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": waba_id, "changes": [{"field": "messages", "value": value}]}],
    }
