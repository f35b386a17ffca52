"""django-q2 entry points of leads: take ids, call a service. Safe to run twice."""

from __future__ import annotations

from . import services


def enrich_tracking(tracking_id: int, ad_id: str) -> str:
    """Queued when a ticket's ad changes, and by the sweep for retries."""
    return services.tracking_enrich(tracking_id=tracking_id, ad_id=ad_id)


def enrichment_sweep() -> int:
    """Every minute: queue the enrichments whose retry is due (or whose task was lost)."""
    return services.enrichment_sweep()


def expire_tickets() -> int:
    """Every 15 minutes: close open tickets whose last message is older than the tenant's setting."""
    return services.tickets_expire_due()


def send_reply(message_id: int) -> str:
    """Queued when a member replies from the ticket page (and again by the sweep if lost)."""
    from .replies import reply_deliver

    return reply_deliver(message_id=message_id)


def replies_sweep() -> int:
    """Every minute: queue replies whose task was lost, fail those stuck mid-send."""
    from .replies import replies_sweep as sweep

    return sweep()
