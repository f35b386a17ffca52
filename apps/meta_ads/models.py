from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.integrations.models import Connection


class MetaProfile(Connection):
    """One Facebook profile a tenant connected; a tenant may connect several."""

    provider_key = "meta_ads"

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "external_user_id"], name="meta_profile_unique_per_tenant"
            )
        ]
        verbose_name = _("Meta profile")
