"""django-q2 entry points: take ids, call a service. Safe to run twice (the services claim)."""

from __future__ import annotations

from django.utils import timezone

from . import publishing


def run_publish(job_id: int) -> None:
    publishing.publish_execute(job_id=job_id)


def poll_publish(job_id: int) -> None:
    publishing.publish_poll_due(job_id=job_id)


def publish_sweep() -> dict[str, int]:
    return publishing.publish_sweep(now=timezone.now())
