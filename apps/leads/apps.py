from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LeadsConfig(AppConfig):
    name = "apps.leads"
    label = "leads"
    verbose_name = _("Leads")

    def ready(self) -> None:
        from apps.integrations.scheduling import PeriodicTask, schedules

        schedules.register(
            PeriodicTask(
                name="leads: enrichment retries",
                func="apps.leads.tasks.enrichment_sweep",
                minutes=1,
            )
        )
        schedules.register(
            PeriodicTask(
                name="leads: expire tickets", func="apps.leads.tasks.expire_tickets", minutes=15
            )
        )
        schedules.register(
            PeriodicTask(
                name="leads: reply retries", func="apps.leads.tasks.replies_sweep", minutes=1
            )
        )
