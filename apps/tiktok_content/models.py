from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.integrations.models import Connection


class TikTokContentConnection(Connection):
    """The tenant's one TikTok Content connection (one per tenant)."""

    provider_key = "tiktok_content"

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant"], name="tiktok_content_one_connection_per_tenant"
            )
        ]
        verbose_name = _("TikTok Content connection")
