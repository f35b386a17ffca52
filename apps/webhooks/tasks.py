"""django-q2 entry points of the inbox."""

from __future__ import annotations

from django.conf import settings

from . import services


def drain() -> dict[str, int]:
    """Queued by deliveries (throttled): drain, then linger to catch throttled kicks."""
    return vars(services.drain(linger_seconds=settings.WEBHOOKS_DRAIN_LINGER))


def sweep() -> dict[str, int]:
    """Every minute: events whose retry is due, or left behind by a lost task or worker."""
    return vars(services.drain())
