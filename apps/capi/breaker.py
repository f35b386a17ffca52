"""The circuit breaker of a destination, shared by every worker because it lives in its row.

States (``ConversionDestination.breaker_state``):

- **closed**: events are sent. Each request that fails transiently (5xx,
  timeout, throttling) adds one to ``consecutive_failures``; a success resets
  it. At :data:`FAILURE_THRESHOLD` the breaker opens.
- **open**: nothing is sent to the destination until ``retry_at`` (the
  cool-down). Its pending events are not even claimed: the dispatcher's claim
  query skips them.
- **half-open**: once the cool-down has passed, one worker wins the probe
  (a conditional UPDATE, so two workers never probe at once) and sends a
  single event. Success closes the breaker and releases the backlog; failure
  opens it again for twice as long, up to :data:`MAX_COOLDOWN`. A worker that
  dies while probing leaves ``retry_at`` (the probe's lease) behind, and the
  next worker takes the probe over after it.

Every transition is one conditional UPDATE on the row, so it holds on SQLite
and PostgreSQL alike, with any number of processes.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import F, Q

from .models import ConversionDestination, ConversionEvent

Breaker = ConversionDestination.Breaker

#: Consecutive transiently failed requests that open the breaker: enough to ride out
#: a blip (the events themselves retry with backoff meanwhile), few enough that a
#: platform outage costs five requests per destination, not one per event.
FAILURE_THRESHOLD = 5
#: First cool-down after the breaker opens; doubled after each failed probe ...
BASE_COOLDOWN = timedelta(seconds=60)
#: ... up to this, so a destination that recovers is found again within half an hour.
MAX_COOLDOWN = timedelta(minutes=30)
#: How long a probe may take before another worker may take it over (longer than
#: one request's timeouts: 5 s connect + 30 s read).
PROBE_LEASE = timedelta(seconds=60)


def blocked(now: datetime) -> Q:
    """Events of these destinations must not be claimed now (open, or a probe is running)."""
    return Q(
        destination__breaker_state__in=[Breaker.OPEN, Breaker.HALF_OPEN],
        destination__retry_at__gt=now,
    )


def may_send(destination: ConversionDestination) -> bool:
    return destination.breaker_state == Breaker.CLOSED


def probe_take(*, destination: ConversionDestination, now: datetime) -> bool:
    """Try to become the worker that probes this destination; True for the one winner."""
    taken = ConversionDestination.objects.filter(
        Q(breaker_state__in=[Breaker.OPEN, Breaker.HALF_OPEN]),
        Q(retry_at__isnull=True) | Q(retry_at__lte=now),
        pk=destination.pk,
    ).update(breaker_state=Breaker.HALF_OPEN, retry_at=now + PROBE_LEASE)
    if taken:
        destination.breaker_state = Breaker.HALF_OPEN
        destination.retry_at = now + PROBE_LEASE
    return bool(taken)


def record_success(*, destination: ConversionDestination, now: datetime) -> None:
    """A request went through: close the breaker (releasing the backlog) or reset the count."""
    if destination.breaker_state != Breaker.CLOSED:
        ConversionDestination.objects.filter(pk=destination.pk).update(
            breaker_state=Breaker.CLOSED,
            consecutive_failures=0,
            cooldown_seconds=0,
            opened_at=None,
            retry_at=None,
            last_success_at=now,
            last_error="",
        )
        # Events that backed off while the destination was down are due at once.
        ConversionEvent.objects.filter(
            destination=destination,
            status=ConversionEvent.Status.PENDING,
            next_attempt_at__gt=now,
        ).update(next_attempt_at=None)
        destination.breaker_state = Breaker.CLOSED
        destination.consecutive_failures = 0
        destination.retry_at = None
        return
    if (
        destination.consecutive_failures
        or destination.last_success_at is None
        or (now - destination.last_success_at > timedelta(minutes=1))
    ):
        # Writes last_success_at at most once a minute per worker: health, not a hot path.
        ConversionDestination.objects.filter(pk=destination.pk).update(
            consecutive_failures=0, last_success_at=now
        )
        destination.consecutive_failures = 0
        destination.last_success_at = now


def record_failure(*, destination: ConversionDestination, now: datetime, error: str) -> bool:
    """A request failed transiently. Returns True when the breaker is (now) open."""
    if destination.breaker_state == Breaker.HALF_OPEN:
        cooldown = min(timedelta(seconds=max(destination.cooldown_seconds, 1) * 2), MAX_COOLDOWN)
        _open(destination=destination, now=now, cooldown=cooldown, error=error)
        return True
    ConversionDestination.objects.filter(pk=destination.pk).update(
        consecutive_failures=F("consecutive_failures") + 1,
        last_failure_at=now,
        last_error=error[:2000],
    )
    destination.consecutive_failures += 1
    opened = ConversionDestination.objects.filter(
        pk=destination.pk,
        breaker_state=Breaker.CLOSED,
        consecutive_failures__gte=FAILURE_THRESHOLD,
    ).update(
        breaker_state=Breaker.OPEN,
        opened_at=now,
        cooldown_seconds=int(BASE_COOLDOWN.total_seconds()),
        retry_at=now + BASE_COOLDOWN,
    )
    if opened:
        destination.breaker_state = Breaker.OPEN
        destination.retry_at = now + BASE_COOLDOWN
        _release_backoff(destination)
        return True
    return destination.breaker_state != Breaker.CLOSED


def _open(
    *, destination: ConversionDestination, now: datetime, cooldown: timedelta, error: str
) -> None:
    ConversionDestination.objects.filter(pk=destination.pk).update(
        breaker_state=Breaker.OPEN,
        opened_at=now,
        cooldown_seconds=int(cooldown.total_seconds()),
        retry_at=now + cooldown,
        last_failure_at=now,
        last_error=error[:2000],
    )
    destination.breaker_state = Breaker.OPEN
    destination.retry_at = now + cooldown
    destination.cooldown_seconds = int(cooldown.total_seconds())


def _release_backoff(destination: ConversionDestination) -> None:
    """While the breaker is open it paces the destination; the events' own backoff is cleared.

    Otherwise the cool-down could end with no event due to probe with.
    """
    ConversionEvent.objects.filter(
        destination=destination, status=ConversionEvent.Status.PENDING
    ).update(next_attempt_at=None)


def reset(*, destination: ConversionDestination, now: datetime) -> None:
    """Staff: close the breaker by hand (the admin's "reset breaker")."""
    destination.breaker_state = Breaker.OPEN  # so record_success takes the closing path
    record_success(destination=destination, now=now)
