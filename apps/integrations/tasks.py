"""django-q2 entry points: take ids, load, call a service. Safe to run twice."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from . import services
from .calllog import api_call_log_prune
from .oauth import oauth_state_prune
from .registry import providers
from .scheduling import enqueue

logger = logging.getLogger(__name__)

API_CALL_LOG_RETENTION = timedelta(days=30)


def refresh_connection(product: str, connection_id: int) -> None:
    provider = providers.get(product)
    connection = provider.model.objects.filter(pk=connection_id).first()
    if connection is None or not connection.is_live:
        return
    services.connection_refresh(connection=connection)


def refresh_sweep() -> dict[str, int]:
    """Queue one refresh per connection expiring soon; flag cards whose credentials end soon."""
    queued = expiring = 0
    for provider in providers.all():
        for connection_id in services.connection_refresh_due_ids(provider=provider):
            enqueue("apps.integrations.tasks.refresh_connection", provider.key, connection_id)
            queued += 1
        expiring += services.connection_mark_expiring(provider=provider)
    logger.info("refresh sweep queued=%s marked_expiring=%s", queued, expiring)
    return {"queued": queued, "expiring": expiring}


def run_sync(run_id: int) -> None:
    from .sync import sync_run_execute

    sync_run_execute(run_id=run_id)


def sync_sweep() -> int:
    """Start the scheduled sync kinds whose interval has passed, for every live connection."""
    from .scheduling import sync_enqueue_due

    return sync_enqueue_due(now=timezone.now())


def prune_logs() -> dict[str, int]:
    return {
        "api_calls": api_call_log_prune(older_than=API_CALL_LOG_RETENTION),
        "oauth_states": oauth_state_prune(),
    }
