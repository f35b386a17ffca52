from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.integrations.models import Connection


class TikTokAdsConnection(Connection):
    """The tenant's one TikTok Ads connection (one per tenant)."""

    provider_key = "tiktok_ads"

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="tiktok_ads_one_connection_per_tenant")
        ]
        verbose_name = _("TikTok Ads connection")
