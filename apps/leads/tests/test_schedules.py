from django_q.models import Schedule

from apps.integrations.scheduling import schedules


def test_leads_periodic_tasks_are_declared():
    declared = {task.name: (task.func, task.minutes) for task in schedules.all()}
    assert declared["leads: enrichment retries"] == ("apps.leads.tasks.enrichment_sweep", 1)
    assert declared["leads: expire tickets"] == ("apps.leads.tasks.expire_tickets", 15)
    assert declared["leads: reply retries"] == ("apps.leads.tasks.replies_sweep", 1)


def test_they_exist_after_migrate(db):
    names = set(Schedule.objects.values_list("name", flat=True))
    assert {"leads: enrichment retries", "leads: expire tickets", "leads: reply retries"} <= names
