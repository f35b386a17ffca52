from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from apps.integrations.models import Connection
from apps.tenants.models import TenantOwnedModel


class TikTokAdsConnection(Connection):
    """The tenant's one TikTok Ads connection (one per tenant)."""

    provider_key = "tiktok_ads"

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="tiktok_ads_one_connection_per_tenant")
        ]
        verbose_name = _("TikTok Ads connection")


class TikTokAdsCampaign(TenantOwnedModel):
    """A campaign as the Marketing API's ``campaign/get/`` lists it."""

    connection = models.ForeignKey(
        TikTokAdsConnection, on_delete=models.CASCADE, related_name="campaigns"
    )
    advertiser_id = models.CharField(max_length=32)
    campaign_id = models.CharField(max_length=32)
    name = models.CharField(max_length=512, blank=True)
    objective_type = models.CharField(max_length=64, blank=True)
    budget = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    budget_mode = models.CharField(max_length=64, blank=True)
    operation_status = models.CharField(max_length=32, blank=True)
    secondary_status = models.CharField(max_length=64, blank=True)
    provider_created_at = models.DateTimeField(null=True, blank=True)
    provider_modified_at = models.DateTimeField(null=True, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    synced_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "campaign_id"], name="tiktok_ads_campaign_unique"
            )
        ]
        indexes = [models.Index(fields=["tenant", "advertiser_id"], name="tta_campaign_adv_idx")]
        verbose_name = _("TikTok campaign")

    def __str__(self) -> str:
        return self.name or self.campaign_id


class TikTokAdsObject(TenantOwnedModel):
    """Columns every synced Marketing API object shares (abstract)."""

    connection = models.ForeignKey(TikTokAdsConnection, on_delete=models.CASCADE, related_name="+")
    advertiser_id = models.CharField(max_length=32)
    raw = models.JSONField(default=dict, blank=True)
    synced_at = models.DateTimeField()

    class Meta:
        abstract = True


class TikTokAdvertiser(TikTokAdsObject):
    """An advertiser account the token reaches; the tenant admin marks the active ones."""

    name = models.CharField(max_length=255, blank=True)
    currency = models.CharField(max_length=8, blank=True)
    timezone = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=64, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "advertiser_id"], name="tta_advertiser_unique"
            )
        ]
        verbose_name = _("TikTok advertiser")

    def __str__(self) -> str:
        return self.name or self.advertiser_id


class TikTokPixel(TikTokAdsObject):
    """A pixel of an advertiser; one per tenant may be chosen for conversions (Events API)."""

    pixel_id = models.CharField(max_length=32)
    pixel_code = models.CharField(max_length=64, blank=True)
    name = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=64, blank=True)
    is_conversion_pixel = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "pixel_id"], name="tta_pixel_unique"),
            models.UniqueConstraint(
                fields=["tenant"],
                condition=Q(is_conversion_pixel=True),
                name="tta_one_conversion_pixel",
            ),
        ]
        verbose_name = _("TikTok pixel")

    def __str__(self) -> str:
        return self.name or self.pixel_code or self.pixel_id


class TikTokAdGroup(TikTokAdsObject):
    campaign_id = models.CharField(max_length=32)
    adgroup_id = models.CharField(max_length=32)
    name = models.CharField(max_length=512, blank=True)
    budget = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    budget_mode = models.CharField(max_length=64, blank=True)
    optimization_goal = models.CharField(max_length=64, blank=True)
    pixel_id = models.CharField(max_length=32, blank=True)
    operation_status = models.CharField(max_length=32, blank=True)
    secondary_status = models.CharField(max_length=64, blank=True)
    provider_created_at = models.DateTimeField(null=True, blank=True)
    provider_modified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "adgroup_id"], name="tta_adgroup_unique")
        ]
        indexes = [models.Index(fields=["tenant", "campaign_id"], name="tta_adgroup_campaign_idx")]
        verbose_name = _("TikTok ad group")

    def __str__(self) -> str:
        return self.name or self.adgroup_id


class TikTokAd(TikTokAdsObject):
    campaign_id = models.CharField(max_length=32)
    adgroup_id = models.CharField(max_length=32)
    ad_id = models.CharField(max_length=32)
    name = models.CharField(max_length=512, blank=True)
    ad_format = models.CharField(max_length=64, blank=True)
    landing_page_url = models.URLField(max_length=1000, blank=True)
    operation_status = models.CharField(max_length=32, blank=True)
    secondary_status = models.CharField(max_length=64, blank=True)
    provider_created_at = models.DateTimeField(null=True, blank=True)
    provider_modified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "ad_id"], name="tta_ad_unique")]
        indexes = [models.Index(fields=["tenant", "adgroup_id"], name="tta_ad_adgroup_idx")]
        verbose_name = _("TikTok ad")

    def __str__(self) -> str:
        return self.name or self.ad_id


class TikTokAdInsight(TenantOwnedModel):
    """One ad's metrics for one day (advertiser time zone), as ``report/integrated/get/`` gives them.

    No ``raw`` copy: a year of daily rows per ad adds up, and every metric is a column.
    """

    connection = models.ForeignKey(TikTokAdsConnection, on_delete=models.CASCADE, related_name="+")
    advertiser_id = models.CharField(max_length=32)
    campaign_id = models.CharField(max_length=32, blank=True)
    adgroup_id = models.CharField(max_length=32, blank=True)
    ad_id = models.CharField(max_length=32)
    date = models.DateField()
    currency = models.CharField(max_length=8, blank=True)
    spend = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    impressions = models.BigIntegerField(default=0)
    clicks = models.BigIntegerField(default=0)
    conversions = models.BigIntegerField(default=0)
    ctr = models.DecimalField(max_digits=9, decimal_places=4, null=True, blank=True)
    cpc = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    cpm = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    synced_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "ad_id", "date"], name="tta_insight_unique")
        ]
        indexes = [
            models.Index(fields=["tenant", "date"], name="tta_insight_date_idx"),
            models.Index(fields=["tenant", "campaign_id", "date"], name="tta_insight_campaign_idx"),
            # What changed since the last ROI rollup (apps/analytics/rollup.py).
            models.Index(fields=["tenant", "synced_at"], name="tta_insight_synced_idx"),
        ]
        verbose_name = _("TikTok ad insight")

    def __str__(self) -> str:
        return f"{self.ad_id} {self.date}"


class TikTokAudience(TikTokAdsObject):
    audience_id = models.CharField(max_length=32)
    name = models.CharField(max_length=255, blank=True)
    audience_type = models.CharField(max_length=64, blank=True)
    cover_num = models.BigIntegerField(null=True, blank=True)
    is_shared = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "audience_id"], name="tta_audience_unique")
        ]
        verbose_name = _("TikTok custom audience")

    def __str__(self) -> str:
        return self.name or self.audience_id
