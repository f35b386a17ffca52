"""What capi asks Meta about conversions (registered in ``MetaAdsConfig.ready()``).

Capi builds and delivers Conversions API events; this answers where a
ticket's events go and with which token, from Meta's own tables:

- **Tracking decides.** A ticket converts only when the ad account its ad
  belongs to (``facts.ad_account_id``, known once the ad was enriched) has
  tracking switched on. An unknown or untracked account: no destination.
- **Where.** The tenant's mapping says ``waba_dataset`` (recommended,
  contract §4.2): the conversions dataset of the WhatsApp number the
  conversation reached, once conversions are on for it; or
  ``ad_account_pixel``: the pixel/dataset chosen on the ad account. Either
  way the WABA id goes along, since Business Messaging events carry
  ``user_data.whatsapp_business_account_id`` (contract §4.3).
- **Token.** A working profile that can post to the destination: for a WABA
  dataset, one that granted ``whatsapp_business_manage_events``; for a pixel, one that
  reaches the ad account (first working profile, as for every account call).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .models import MetaAdAccount, MetaProfile, WhatsAppNumber
from .services import WORKING_STATUSES, profiles_reaching

if TYPE_CHECKING:
    from apps.capi.registry import Target
    from apps.tenants.models import Tenant

#: The permission that lets a token send Business Messaging events (contract §4.1).
WHATSAPP_EVENTS = "whatsapp_business_manage_events"
WABA_DATASET = "waba_dataset"
AD_ACCOUNT_PIXEL = "ad_account_pixel"


def _target(**kwargs) -> Target:
    from apps.capi.registry import Target

    return Target(**kwargs)


def _waba_target(number: WhatsAppNumber) -> Target:
    return _target(
        external_id=number.conversions_dataset_id,
        kind="waba_dataset",
        label=f"WhatsApp {number}",
        waba_id=number.waba_id,
    )


def _pixel_target(account: MetaAdAccount, waba_id: str = "") -> Target:
    return _target(
        external_id=account.pixel_id,
        kind="pixel",
        label=account.pixel_name or account.pixel_id,
        waba_id=waba_id,
    )


def _token(profile: MetaProfile | None) -> str | None:
    if profile is None or not profile.access_token:
        return None
    return profile.access_token.reveal() or None


class MetaConversions:
    def target_for(self, *, facts, mapping) -> Target | None:
        tenant = facts.tenant
        account = (
            MetaAdAccount.objects.for_tenant(tenant)
            .filter(account_id=str(facts.ad_account_id or "").removeprefix("act_"))
            .first()
            if facts.ad_account_id
            else None
        )
        if account is None or not account.tracking_enabled:
            return None
        number = (
            WhatsAppNumber.objects.for_tenant(tenant)
            .filter(phone_number_id=facts.account_ref)
            .first()
            if facts.account_ref
            else None
        )
        if getattr(mapping, "meta_target", WABA_DATASET) == AD_ACCOUNT_PIXEL:
            if not account.pixel_id:
                return None
            return _pixel_target(account, number.waba_id if number else "")
        if number is None or not number.conversions_enabled or not number.conversions_dataset_id:
            return None
        return _waba_target(number)

    def targets(self, *, tenant: Tenant, mapping) -> list[Target]:
        numbers = [
            _waba_target(n)
            for n in WhatsAppNumber.objects.for_tenant(tenant).filter(conversions_enabled=True)
            if n.conversions_dataset_id
        ]
        waba_id = numbers[0].waba_id if numbers else ""
        pixels = [
            _pixel_target(a, waba_id)
            for a in MetaAdAccount.objects.for_tenant(tenant)
            .filter(tracking_enabled=True)
            .exclude(pixel_id="")
            .order_by("name", "account_id")
        ]
        return numbers + pixels

    def access_token(self, *, tenant: Tenant, destination) -> str | None:
        if destination.kind == WABA_DATASET:
            profiles = (
                MetaProfile.objects.for_tenant(tenant)
                .filter(status__in=WORKING_STATUSES)
                .order_by("pk")
            )
            return _token(next((p for p in profiles if WHATSAPP_EVENTS in p.granted_scopes), None))
        account = (
            MetaAdAccount.objects.for_tenant(tenant)
            .filter(pixel_id=destination.external_id)
            .first()
        )
        if account is None:
            return None
        return _token(next(iter(profiles_reaching(account=account)), None))
