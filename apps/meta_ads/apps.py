from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MetaAdsConfig(AppConfig):
    name = "apps.meta_ads"
    label = "meta_ads"
    verbose_name = _("Meta")
    provider_app = True

    def ready(self) -> None:
        from apps.capi.registry import conversion_platforms
        from apps.integrations.registry import Platform, Provider, providers
        from apps.integrations.sync import sync_kinds
        from apps.leads.enrichment import enrichers

        from . import webhooks
        from .sync import SYNC_KINDS

        providers.register(
            Provider(
                key="meta_ads",
                label=_("Meta"),
                platform=Platform("meta", _("Meta"), order=20),
                app_label=self.label,
                summary=_(
                    "Facebook profiles, the ad accounts they reach, pixels, insights and "
                    "WhatsApp click-to-ad attribution."
                ),
                credential_settings=("META_APP_ID", "META_APP_SECRET"),
                register_at=_(
                    "a Business app on Meta for Developers with Facebook Login (or Login for "
                    "Business) and the Marketing API"
                ),
                connection_model="meta_ads.MetaProfile",
                adapter_path="apps.meta_ads.services.MetaAdapter",
                many_connections=True,
                callback_path="/integrations/meta/callback/",
                card_template="meta_ads/_card.html",
                card_extras_path="apps.meta_ads.selectors.card_extras",
                order=10,
            )
        )
        for sync_kind in SYNC_KINDS:
            sync_kinds.register(sync_kind)
        webhooks.register()
        enrichers.register("meta", "apps.meta_ads.services.ad_details_for")
        conversion_platforms.register("meta", "apps.meta_ads.conversions.MetaConversions")
