"""What the analytics pages are asked for: platform, date range, drill-down, display currency.

Everything comes from the query string, so each view of a table is a plain
GET link (htmx only swaps the fragment and pushes the same URL). Unknown or
impossible values fall back to the defaults rather than failing the page.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

from django.utils.translation import gettext_lazy as _

PLATFORM_BOTH = "both"
PLATFORM_META = "meta"
PLATFORM_TIKTOK = "tiktok"
PLATFORM_CHOICES = [
    (PLATFORM_BOTH, _("Meta and TikTok")),
    (PLATFORM_META, _("Meta")),
    (PLATFORM_TIKTOK, _("TikTok")),
]
PLATFORM_LABELS = dict(PLATFORM_CHOICES)

#: preset -> number of days ending today (``mtd`` and ``custom`` are computed)
RANGE_DAYS = {"7d": 7, "30d": 30, "90d": 90, "365d": 365}
RANGE_CHOICES = [
    ("7d", _("Last 7 days")),
    ("30d", _("Last 30 days")),
    ("90d", _("Last 90 days")),
    ("365d", _("Last 12 months")),
    ("mtd", _("This month")),
    ("custom", _("Custom")),
]
DEFAULT_RANGE = "30d"
#: a custom range longer than this is cut to it (the dashboards stay fast)
MAX_RANGE_DAYS = 3 * 366
MAX_ID_LENGTH = 64


def _parse_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat((value or "")[:10])
    except ValueError:
        return None


def _clean_id(value: str | None) -> str:
    value = (value or "").strip()[:MAX_ID_LENGTH]
    return value if value.replace("_", "").replace("-", "").isalnum() else ""


def _clean_currency(value: str | None) -> str:
    value = (value or "").strip().upper()
    return value if len(value) == 3 and value.isalpha() else ""


@dataclass(frozen=True)
class Filters:
    """A dashboard's question. ``start`` and ``end`` are inclusive calendar days."""

    platform: str = PLATFORM_BOTH
    range: str = DEFAULT_RANGE
    start: date = date.min
    end: date = date.min
    campaign: str = ""
    adset: str = ""
    currency: str = ""

    @classmethod
    def from_query(cls, data, *, today: date) -> Filters:
        platform = data.get("platform") or PLATFORM_BOTH
        if platform not in PLATFORM_LABELS:
            platform = PLATFORM_BOTH
        preset = data.get("range") or DEFAULT_RANGE
        if preset not in dict(RANGE_CHOICES):
            preset = DEFAULT_RANGE
        start = end = None
        if preset == "custom":
            start, end = _parse_date(data.get("start")), _parse_date(data.get("end"))
            if start is None or end is None or start > end:
                preset, start, end = DEFAULT_RANGE, None, None
            elif (end - start).days >= MAX_RANGE_DAYS:
                start = end - timedelta(days=MAX_RANGE_DAYS - 1)
        if preset == "mtd":
            start, end = today.replace(day=1), today
        elif preset in RANGE_DAYS:
            start, end = today - timedelta(days=RANGE_DAYS[preset] - 1), today
        campaign = _clean_id(data.get("campaign")) if platform != PLATFORM_BOTH else ""
        adset = _clean_id(data.get("adset")) if campaign else ""
        return cls(
            platform=platform,
            range=preset,
            start=start,
            end=end,
            campaign=campaign,
            adset=adset,
            currency=_clean_currency(data.get("currency")),
        )

    @property
    def platforms(self) -> tuple[str, ...]:
        if self.platform == PLATFORM_BOTH:
            return (PLATFORM_META, PLATFORM_TIKTOK)
        return (self.platform,)

    @property
    def level(self) -> str:
        """What the table lists: campaigns, the ad sets of one campaign, or the ads of one ad set."""
        if self.adset:
            return "ad"
        if self.campaign:
            return "adset"
        return "campaign"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def query(self, **overrides: str) -> dict[str, str]:
        """The filters as query parameters (for links and the CSV export), some replaced."""
        values = {
            "platform": self.platform,
            "range": self.range,
            "campaign": self.campaign,
            "adset": self.adset,
            "currency": self.currency,
        }
        if self.range == "custom":
            values.update(start=self.start.isoformat(), end=self.end.isoformat())
        values.update(overrides)
        return {k: v for k, v in values.items() if v}

    def drill(self, *, platform: str, key: str) -> Filters:
        """The filters one level down, into the row ``key`` of ``platform``."""
        if self.level == "campaign":
            return replace(self, platform=platform, campaign=key, adset="")
        return replace(self, platform=platform, adset=key)
