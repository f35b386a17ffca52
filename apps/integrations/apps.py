from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "apps.integrations"
    label = "integrations"
    verbose_name = _("Integrations")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from . import checks  # noqa: F401  (registers the system checks)
        from .scheduling import PeriodicTask, schedules, schedules_install

        for task in (
            PeriodicTask(
                "integrations: refresh tokens", "apps.integrations.tasks.refresh_sweep", 5
            ),
            PeriodicTask("integrations: scheduled syncs", "apps.integrations.tasks.sync_sweep", 5),
            PeriodicTask("integrations: prune logs", "apps.integrations.tasks.prune_logs", 24 * 60),
        ):
            schedules.register(task)
        post_migrate.connect(schedules_install, sender=self)
