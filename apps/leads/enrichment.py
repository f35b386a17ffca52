"""Ad enrichment: ad platform apps tell leads what an ad id stands for.

An ad platform app registers, in its ``AppConfig.ready()``::

    enrichers.register("meta", "apps.meta_ads.services.ad_details_for")

``ad_details_for(tenant, ad_id) -> AdDetails`` looks the ad up with a
credential that reaches it. It raises :class:`EnrichmentUnavailable` when no
retry can help (no connected profile reaches the ad's account, the ad does not
exist); any other exception is transient and retried with backoff. Leads
writes the answer only if the ticket still points at that ad.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from apps.tenants.models import Tenant


@dataclass(frozen=True)
class AdDetails:
    ad_id: str
    ad_name: str = ""
    adset_id: str = ""
    adset_name: str = ""
    campaign_id: str = ""
    campaign_name: str = ""
    account_id: str = ""
    account_name: str = ""


class EnrichmentUnavailable(Exception):
    """Permanent: the ad cannot be resolved (the message says why, for the ticket)."""


class EnricherRegistry:
    def __init__(self) -> None:
        self._paths: dict[str, str] = {}

    def register(self, platform: str, func_path: str) -> None:
        self._paths[platform] = func_path

    def get(self, platform: str) -> Callable[[Tenant, str], AdDetails] | None:
        path = self._paths.get(platform)
        return import_string(path) if path else None


enrichers = EnricherRegistry()
