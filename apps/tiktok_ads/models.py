from django.db import models
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
