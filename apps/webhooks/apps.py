from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebhooksConfig(AppConfig):
    name = "apps.webhooks"
    label = "webhooks"
    verbose_name = _("Webhooks inbox")

    def ready(self) -> None:
        from apps.integrations.metrics import collectors
        from apps.integrations.scheduling import PeriodicTask, schedules

        collectors.register("apps.webhooks.metrics.collect")

        from apps.integrations.selectors import TAB_PANELS

        TAB_PANELS["webhooks"] = "apps.webhooks.views_hub.webhooks_panel"

        schedules.register(
            PeriodicTask(name="webhooks: sweep", func="apps.webhooks.tasks.sweep", minutes=1)
        )
