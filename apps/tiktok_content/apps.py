from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TikTokContentConfig(AppConfig):
    name = "apps.tiktok_content"
    label = "tiktok_content"
    verbose_name = _("TikTok Content")
    provider_app = True

    def ready(self) -> None:
        from apps.integrations.registry import Platform, Provider, providers
        from apps.integrations.scheduling import PeriodicTask, schedules
        from apps.integrations.sync import sync_kinds

        from .sync import SYNC_KINDS

        providers.register(
            Provider(
                key="tiktok_content",
                label=_("TikTok Content"),
                platform=Platform("tiktok", _("TikTok"), order=10),
                app_label=self.label,
                summary=_(
                    "Login Kit: the creator's profile, videos and their metrics, publishing."
                ),
                credential_settings=("TIKTOK_CONTENT_CLIENT_KEY", "TIKTOK_CONTENT_CLIENT_SECRET"),
                register_at=_(
                    "an app on TikTok for Developers with Login Kit, the Display API and the "
                    "Content Posting API added"
                ),
                connection_model="tiktok_content.TikTokContentConnection",
                adapter_path="apps.tiktok_content.services.TikTokContentAdapter",
                callback_path="/integrations/tiktok/callback/",
                card_template="tiktok_content/_card.html",
                card_extras_path="apps.tiktok_content.selectors.card_extras",
                order=30,
            )
        )
        for sync_kind in SYNC_KINDS:
            sync_kinds.register(sync_kind)
        # Posts being processed are polled by this sweep after the worker's first minute.
        schedules.register(
            PeriodicTask(
                "tiktok_content: publish status", "apps.tiktok_content.tasks.publish_sweep", 1
            )
        )
