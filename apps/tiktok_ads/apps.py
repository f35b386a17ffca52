from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TikTokAdsConfig(AppConfig):
    name = "apps.tiktok_ads"
    label = "tiktok_ads"
    verbose_name = _("TikTok Ads")
    provider_app = True

    def ready(self) -> None:
        from apps.capi.registry import conversion_platforms
        from apps.integrations.registry import Platform, Provider, providers
        from apps.integrations.sync import sync_kinds

        from .sync import SYNC_KINDS

        providers.register(
            Provider(
                key="tiktok_ads",
                label=_("TikTok Ads"),
                platform=Platform("tiktok", _("TikTok"), order=10),
                app_label=self.label,
                summary=_("Marketing API: advertisers, pixels, campaigns, insights and audiences."),
                credential_settings=("TIKTOK_APP_ID", "TIKTOK_APP_SECRET"),
                register_at=_(
                    "a developer app in TikTok for Business (Marketing API), with the advertiser "
                    "permissions the hub needs ticked on the app"
                ),
                connection_model="tiktok_ads.TikTokAdsConnection",
                adapter_path="apps.tiktok_ads.services.TikTokAdsAdapter",
                callback_path="/integrations/tiktok/callback/",
                card_template="tiktok_ads/_card.html",
                card_extras_path="apps.tiktok_ads.selectors.card_extras",
                order=10,
            )
        )
        for sync_kind in SYNC_KINDS:
            sync_kinds.register(sync_kind)
        conversion_platforms.register("tiktok", "apps.tiktok_ads.services.TikTokConversions")
        from . import webhooks  # noqa: F401  (registers the lead-form webhook source)
