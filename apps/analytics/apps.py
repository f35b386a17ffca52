from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "apps.analytics"
    label = "analytics"
    verbose_name = _("Analytics")

    def ready(self) -> None:
        from apps.integrations.scheduling import PeriodicTask, schedules

        from .rollup import REFRESH_MINUTES

        schedules.register(
            PeriodicTask(
                name="analytics: refresh rollups",
                func="apps.analytics.tasks.refresh_rollups",
                minutes=REFRESH_MINUTES,
            )
        )
