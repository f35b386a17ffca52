"""Where the ad platform apps tell capi which destination and which token to use.

Capi knows how to build, batch and deliver conversions; it does not know
Meta's ad accounts, WhatsApp numbers or TikTok's pixels. Each ad platform app
registers, in its ``AppConfig.ready()``, a small object that answers three
questions from its own tables::

    conversion_platforms.register("tiktok", "apps.tiktok_ads.services.TikTokConversions")

Why a registry rather than capi reading their models: provider apps never
import each other and their tables are theirs to change; a registered object
keeps each app's specifics (tracking switches, which profile's token reaches
a dataset) next to the models they read, and lets capi's tests plug in a fake
platform. The object is built once per call site; it must be cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from apps.tenants.models import Tenant

    from .models import ConversionDestination, ConversionMapping


@dataclass(frozen=True)
class Target:
    """A destination a platform app chose: what to call and how to show it."""

    external_id: str
    kind: str = "pixel"
    label: str = ""
    #: Business Messaging only: the WABA whose id goes into ``user_data``
    waba_id: str = ""


@dataclass(frozen=True)
class TicketFacts:
    """What capi tells a platform app about an attributed ticket."""

    tenant: Tenant
    ticket_id: int
    channel: str
    #: the business account the conversation reached (WhatsApp phone number id, ...)
    account_ref: str
    ad_account_id: str = ""
    campaign_id: str = ""
    ad_id: str = ""


class ConversionPlatform(Protocol):
    def target_for(self, *, facts: TicketFacts, mapping: ConversionMapping) -> Target | None:
        """Where this ticket's conversions go; None when tracking is off or nothing is chosen."""

    def targets(self, *, tenant: Tenant, mapping: ConversionMapping) -> list[Target]:
        """Every destination the tenant has set up (for the test-event buttons)."""

    def access_token(self, *, tenant: Tenant, destination: ConversionDestination) -> str | None:
        """A token that may post events to ``destination``; None when no connection can."""


class ConversionPlatformRegistry:
    def __init__(self) -> None:
        self._paths: dict[str, str] = {}
        self._objects: dict[str, ConversionPlatform] = {}

    def register(self, platform: str, path: str) -> None:
        self._paths[platform] = path
        self._objects.pop(platform, None)

    def unregister(self, platform: str) -> None:
        self._paths.pop(platform, None)
        self._objects.pop(platform, None)

    def get(self, platform: str) -> ConversionPlatform | None:
        if platform not in self._paths:
            return None
        if platform not in self._objects:
            self._objects[platform] = import_string(self._paths[platform])()
        return self._objects[platform]

    def set_object(self, platform: str, obj: ConversionPlatform) -> None:
        """Tests: plug in an object directly."""
        self._paths[platform] = f"<object {obj!r}>"
        self._objects[platform] = obj

    def platforms(self) -> list[str]:
        return list(self._paths)


conversion_platforms = ConversionPlatformRegistry()
