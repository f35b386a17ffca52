from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TikTokShopConfig(AppConfig):
    name = "apps.tiktok_shop"
    label = "tiktok_shop"
    verbose_name = _("TikTok Shop")
    provider_app = True

    def ready(self) -> None:
        from apps.integrations.registry import Platform, Provider, providers
        from apps.integrations.sync import sync_kinds

        from . import webhooks
        from .sync import SYNC_KINDS

        providers.register(
            Provider(
                key="tiktok_shop",
                label=_("TikTok Shop"),
                platform=Platform("tiktok", _("TikTok"), order=10),
                app_label=self.label,
                summary=_(
                    "Partner API: shops, orders, products and inventory, fulfillment, finance."
                ),
                credential_settings=(
                    "TIKTOK_SHOP_APP_KEY",
                    "TIKTOK_SHOP_APP_SECRET",
                    "TIKTOK_SHOP_SERVICE_ID",
                ),
                register_at=_(
                    "an app in TikTok Shop Partner Center, with its service id and the seller "
                    "API scopes enabled under App & Service"
                ),
                connection_model="tiktok_shop.TikTokShopConnection",
                adapter_path="apps.tiktok_shop.services.TikTokShopAdapter",
                callback_path="/integrations/tiktok/callback/",
                card_template="tiktok_shop/_card.html",
                card_extras_path="apps.tiktok_shop.selectors.card_extras",
                stateless_callback_path="apps.tiktok_shop.views.app_store_callback",
                order=20,
            )
        )
        for sync_kind in SYNC_KINDS:
            sync_kinds.register(sync_kind)
        webhooks.register()
        from . import products  # catalog channel, products sync kind, stock schedules

        products.register()
        from . import customer_service  # the leads inbox: replies and why it is empty

        customer_service.register()
