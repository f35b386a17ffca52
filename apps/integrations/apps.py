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

        from django_q.signals import pre_enqueue, pre_execute

        from .observability import task_pre_enqueue, task_pre_execute

        pre_enqueue.connect(task_pre_enqueue, dispatch_uid="correlation-enqueue")
        pre_execute.connect(task_pre_execute, dispatch_uid="correlation-execute")
