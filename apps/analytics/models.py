"""Exchange rates the tenant maintains; the dashboards' only source of currency conversion.

Analytics reads the other apps' tables (insights, tickets, orders, videos) and
owns only this one. A rate is never written in code: without a rate the
dashboards show each currency as its own group.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from apps.tenants.models import Tenant, TenantManager, TenantOwnedModel

currency_code = RegexValidator(r"^[A-Z]{3}$", _("Use a three-letter ISO currency code."))


class ExchangeRate(TenantOwnedModel):
    """``1 from_currency = rate to_currency``, valid from ``valid_from`` until the next rate.

    A report converts with the latest rate whose ``valid_from`` is on or before
    the last day of its range; the inverse pair is used (as ``1 / rate``) when
    only that one is maintained.
    """

    from_currency = models.CharField(_("from"), max_length=3, validators=[currency_code])
    to_currency = models.CharField(_("to"), max_length=3, validators=[currency_code])
    rate = models.DecimalField(
        _("rate"),
        max_digits=20,
        decimal_places=8,
        validators=[MinValueValidator(Decimal("0.00000001"))],
    )
    valid_from = models.DateField(_("valid from"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "from_currency", "to_currency", "valid_from"],
                name="analytics_rate_once_per_day",
            ),
            models.CheckConstraint(
                condition=~Q(from_currency=F("to_currency")), name="analytics_rate_two_currencies"
            ),
            models.CheckConstraint(condition=Q(rate__gt=0), name="analytics_rate_positive"),
        ]
        ordering = ["from_currency", "to_currency", "-valid_from"]
        verbose_name = _("exchange rate")
        verbose_name_plural = _("exchange rates")

    def __str__(self) -> str:
        return f"1 {self.from_currency} = {self.rate} {self.to_currency} ({self.valid_from})"


class TrackingJoin(models.ForeignObject):
    """A join from a directory row to the tickets attributed to its ad (no column, no constraint).

    ``(tenant, platform, ad_id)`` is not unique on ``TicketTracking`` (many tickets
    come from one ad): the join is one-to-many on purpose, for ``Count`` and
    ``Sum`` over the tickets of each ad, campaign or ad set in one SQL statement.
    """

    def _check_unique_target(self):  # one ad, many tickets: not a to-one key
        return []


class AdDirectory(TenantOwnedModel):
    """Every ad the tenant's data knows, with its campaign, ad set, currency and names.

    Written by :func:`apps.analytics.rollup.rollup_refresh` from the insights,
    TikTok's synced ad tree and the tickets' enrichment, so the ROI queries
    join tickets to campaigns with one hash join instead of a lookup per ticket.
    """

    #: the same type as TicketTracking.platform: the join compares them without a cast
    platform = models.CharField(max_length=32)
    ad_id = models.CharField(max_length=64)
    adset_id = models.CharField(max_length=64, blank=True)
    campaign_id = models.CharField(max_length=64, blank=True)
    #: the ad account's / advertiser's currency ('' when no insight has named it)
    currency = models.CharField(max_length=8, blank=True)
    ad_name = models.CharField(max_length=512, blank=True)
    adset_name = models.CharField(max_length=512, blank=True)
    campaign_name = models.CharField(max_length=512, blank=True)
    updated_at = models.DateTimeField()
    trackings = TrackingJoin(
        "leads.TicketTracking",
        on_delete=models.DO_NOTHING,
        from_fields=["tenant", "platform", "ad_id"],
        to_fields=["tenant", "platform", "ad_id"],
        related_name="+",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "platform", "ad_id"], name="analytics_ad_once"
            )
        ]
        indexes = [
            models.Index(
                fields=["tenant", "platform", "campaign_id"], name="analytics_ad_campaign"
            ),
        ]
        verbose_name = _("ad directory entry")
        verbose_name_plural = _("ad directory")

    def __str__(self) -> str:
        return f"{self.platform} {self.ad_id}"


class SpendDay(TenantOwnedModel):
    """Spend, impressions, clicks and conversions of one campaign or ad set on one day.

    A rollup of the daily insights (a year of 5,000 ads is 1.8 million insight
    rows; the same year is 36,500 campaign-days), rebuilt for the days whose
    insights changed. ``level`` is ``campaign`` or ``adset``; ``campaign_id``
    is the row's campaign at both levels (the drill-down's filter).
    """

    class Level(models.TextChoices):
        CAMPAIGN = "campaign", _("Campaign")
        ADSET = "adset", _("Ad set")

    platform = models.CharField(max_length=16)
    level = models.CharField(max_length=8, choices=Level.choices)
    key = models.CharField(max_length=64)
    campaign_id = models.CharField(max_length=64, blank=True)
    date = models.DateField()
    currency = models.CharField(max_length=8, blank=True)
    spend = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    impressions = models.BigIntegerField(default=0)
    clicks = models.BigIntegerField(default=0)
    conversions = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "platform", "level", "key", "date", "currency"],
                name="analytics_spend_day_once",
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "level", "date"], name="analytics_spend_level_day"),
            models.Index(
                fields=["tenant", "platform", "level", "campaign_id", "date"],
                name="analytics_spend_campaign",
            ),
        ]
        verbose_name = _("spend per day")
        verbose_name_plural = _("spend per day")

    def __str__(self) -> str:
        return f"{self.platform} {self.level} {self.key} {self.date}"


class RollupState(models.Model):
    """How far a tenant's rollups follow the insights: the newest ``synced_at`` folded in."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="+")
    meta_synced_upto = models.DateTimeField(null=True, blank=True)
    tiktok_synced_upto = models.DateTimeField(null=True, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)

    objects = TenantManager()

    class Meta:
        verbose_name = _("analytics rollup state")

    def __str__(self) -> str:
        return f"{self.tenant_id} @ {self.refreshed_at}"
