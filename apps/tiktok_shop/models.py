from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.integrations.models import Connection


class TikTokShopConnection(Connection):
    """The tenant's one TikTok Shop connection (one per tenant)."""

    provider_key = "tiktok_shop"

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="tiktok_shop_one_connection_per_tenant")
        ]
        verbose_name = _("TikTok Shop connection")
