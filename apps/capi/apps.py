from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CapiConfig(AppConfig):
    name = "apps.capi"
    label = "capi"
    verbose_name = _("Conversions")

    def ready(self) -> None:
        from apps.integrations.metrics import collectors
        from apps.integrations.scheduling import PeriodicTask, schedules
        from apps.integrations.selectors import TAB_PANELS
        from apps.leads.signals import ticket_stage_changed

        from .services import on_ticket_stage_changed

        schedules.register(
            PeriodicTask(name="capi: dispatch", func="apps.capi.tasks.sweep", minutes=1)
        )
        ticket_stage_changed.connect(on_ticket_stage_changed, dispatch_uid="capi_stage_changed")
        TAB_PANELS["conversions"] = "apps.capi.views.conversions_panel"
        collectors.register("apps.capi.metrics.collect")
