"""Store verified webhook events once, then drain them in batches.

Ingest is one INSERT per delivery (``ON CONFLICT DO NOTHING`` on source and
event id), so a provider's redelivery is a no-op and the answer goes out at
once. Processing happens in drain tasks that claim events in batches: one
django-q2 task per event would cost more than the insert it follows.

Claiming is a conditional UPDATE stamped with a random token, so two workers
never take the same event even on SQLite (no ``SKIP LOCKED`` there); a
claim is a lease, so events held by a worker that died are claimed again
once ``DRAIN_LEASE`` passes. Handlers must therefore be idempotent (refetch,
upsert, dedupe on the provider's ids): an event may be handled twice, never
lost.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connections, router, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from apps.integrations.observability import correlated, correlation_id
from apps.integrations.redaction import redact_text

from .models import WebhookEvent
from .registry import IncomingEvent, UnknownAccount, webhooks

logger = logging.getLogger(__name__)

DRAIN_LEASE = timedelta(minutes=5)
DRAIN_TASK = "apps.webhooks.tasks.drain"
Status = WebhookEvent.Status


# --- ingest ---------------------------------------------------------------------


_INSERT_FIELDS = (
    "source",
    "event_id",
    "event_type",
    "account_ref",
    "payload",
    "status",
    "attempts",
    "claim_token",
    "last_error",
    "occurred_at",
    "correlation_id",
    "received_at",
)


def events_store(*, source_key: str, incoming: Iterable[IncomingEvent]) -> int:
    """Insert the events of one delivery; the ones already stored are skipped.

    One statement, ``INSERT ... ON CONFLICT DO NOTHING``, in autocommit: this
    is the whole database cost of an accepted delivery (``bulk_create`` would
    wrap it in BEGIN/COMMIT, three round trips where one will do).
    """
    items = list(incoming)
    if not items:
        return 0
    connection = connections[router.db_for_write(WebhookEvent)]
    fields = [WebhookEvent._meta.get_field(name) for name in _INSERT_FIELDS]
    now = timezone.now()
    cid = correlation_id()
    params: list = []
    for item in items:
        values = (
            source_key,
            item.event_id[:255],
            item.event_type[:100],
            str(item.account_ref or "")[:255],
            item.payload,
            Status.RECEIVED,
            0,
            "",
            "",
            item.occurred_at,
            cid,
            now,
        )
        params.extend(
            field.get_db_prep_save(value, connection)
            for field, value in zip(fields, values, strict=True)
        )
    quote = connection.ops.quote_name
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = (
        f"INSERT INTO {quote(WebhookEvent._meta.db_table)} "  # noqa: S608 - quoted identifiers
        f"({', '.join(quote(f.column) for f in fields)}) VALUES {', '.join([row] * len(items))} "
        f"ON CONFLICT ({quote('source')}, {quote('event_id')}) DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    return len(items)


class _DrainKicker:
    """Queue a drain task at most once per ``interval`` seconds per process.

    Under load thousands of deliveries a second would otherwise queue
    thousands of drain tasks. The drain lingers a little longer than the
    interval after its last event (``WEBHOOKS_DRAIN_LINGER``), so an event
    stored while a kick was suppressed is still picked up within seconds;
    the periodic sweep is the backstop if the queue itself lost the task.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0.0

    def kick(self) -> None:
        interval = settings.WEBHOOKS_DRAIN_KICK_INTERVAL
        now = time.monotonic()
        with self._lock:
            if now - self._last < interval:
                return
            self._last = now
        transaction.on_commit(_queue_drain)

    def reset(self) -> None:
        with self._lock:
            self._last = 0.0


def _queue_drain() -> None:
    from django_q.tasks import async_task

    async_task(DRAIN_TASK, task_name="webhooks drain", q_options={"group": "webhooks"})


drain_kicker = _DrainKicker()


# --- drain ----------------------------------------------------------------------


@dataclass
class DrainResult:
    claimed: int = 0
    processed: int = 0
    retried: int = 0
    failed: int = 0
    unroutable: int = 0
    ignored: int = 0

    def add(self, counts: Counter) -> None:
        for key, value in counts.items():
            setattr(self, key, getattr(self, key) + value)


def _claimable(now: datetime) -> Q:
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    return (Q(status=Status.RECEIVED) & due) | Q(status=Status.PROCESSING, claimed_until__lt=now)


def events_claim(*, batch_size: int) -> list[WebhookEvent]:
    """Take up to ``batch_size`` due events for this worker (oldest first)."""
    now = timezone.now()
    token = secrets.token_hex(16)
    candidates = list(
        WebhookEvent.objects.filter(_claimable(now))
        .order_by("id")
        .values_list("id", flat=True)[:batch_size]
    )
    if not candidates:
        return []
    WebhookEvent.objects.filter(_claimable(now), id__in=candidates).update(
        status=Status.PROCESSING,
        claim_token=token,
        claimed_until=now + DRAIN_LEASE,
        attempts=F("attempts") + 1,
    )
    return list(WebhookEvent.objects.filter(claim_token=token).order_by("id"))


def retry_delay(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, ... capped at one hour."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def event_handle(event: WebhookEvent, *, now: datetime | None = None) -> str:
    """Run the event's handler; set its outcome fields; return the outcome name."""
    now = now or timezone.now()
    event.claim_token = ""
    event.claimed_until = None
    handler = webhooks.handler(event.source, event.event_type)
    if handler is None:
        event.status = Status.IGNORED
        event.processed_at = now
        return "ignored"
    try:
        # No transaction around the handler: one that calls a provider must not hold
        # database locks across the call (on SQLite the in-process sandbox answering it
        # would wait for them). Handlers open their own, around their writes.
        with correlated(event.correlation_id):
            handler(event)
    except UnknownAccount as exc:
        event.status = Status.UNROUTABLE
        event.last_error = str(exc)[:2000]
        return "unroutable"
    except Exception as exc:
        event.last_error = redact_text(f"{type(exc).__name__}: {exc}")[:2000]
        if event.attempts >= settings.WEBHOOKS_MAX_ATTEMPTS:
            event.status = Status.FAILED
            logger.warning("webhook event %s parked as failed: %s", event.pk, event.last_error)
            return "failed"
        event.status = Status.RECEIVED
        event.next_attempt_at = now + retry_delay(event.attempts)
        return "retried"
    event.status = Status.PROCESSED
    event.processed_at = now
    event.last_error = ""
    event.next_attempt_at = None
    return "processed"


class _Prepared:
    """A source's ``prepare`` context whose exit can neither fail the batch nor swallow an
    exception: the handlers have run by then, and their outcomes must be written."""

    def __init__(self, key: str, context: AbstractContextManager) -> None:
        self.key = key
        self.context = context

    def __enter__(self) -> None:
        self.context.__enter__()

    def __exit__(self, *exc_info) -> bool:
        try:
            self.context.__exit__(*exc_info)
        except Exception:
            logger.exception("webhook source %s: closing a prepared batch failed", self.key)
        return False


def _prepare_sources(stack: ExitStack, events: list[WebhookEvent]) -> None:
    """Enter each source's ``prepare`` for its events of the batch; one that fails is skipped."""
    by_source: dict[str, list[WebhookEvent]] = defaultdict(list)
    for event in events:
        by_source[event.source].append(event)
    for key, group in by_source.items():
        source = webhooks.source(key)
        if source is None or source.prepare is None:
            continue
        try:
            stack.enter_context(_Prepared(key, source.prepare(group)))
        except Exception:
            logger.exception("webhook source %s: preparing a batch failed, handling per event", key)


def batch_process(events: list[WebhookEvent]) -> Counter:
    """Handle a claimed batch, then write the outcomes with one UPDATE per distinct outcome.

    Events of a batch mostly share their outcome (processed for one tenant, or
    unknown for one shop), so this is a handful of UPDATEs; ``bulk_update``'s
    CASE per row and field costs seconds of Python for a batch of 200.
    """
    now = timezone.now()
    with ExitStack() as prepared:
        _prepare_sources(prepared, events)
        outcomes = Counter(event_handle(event, now=now) for event in events)
    groups: dict[tuple, list[int]] = defaultdict(list)
    for event in events:
        key = (
            event.status,
            event.tenant_id,
            event.last_error,
            event.next_attempt_at,
            event.processed_at,
        )
        groups[key].append(event.pk)
    for (status, tenant_id, last_error, next_attempt_at, processed_at), ids in groups.items():
        WebhookEvent.objects.filter(pk__in=ids).update(
            status=status,
            tenant_id=tenant_id,
            last_error=last_error,
            next_attempt_at=next_attempt_at,
            processed_at=processed_at,
            claim_token="",
            claimed_until=None,
        )
    return outcomes


def drain(*, batch_size: int | None = None, linger_seconds: float = 0.0) -> DrainResult:
    """Process due events batch after batch until none is left.

    With ``linger_seconds`` the drain keeps polling that long after the last
    event it found, to catch deliveries whose kick was throttled.
    """
    size = batch_size or settings.WEBHOOKS_DRAIN_BATCH
    result = DrainResult()
    idle_since = time.monotonic()
    while True:
        events = events_claim(batch_size=size)
        if events:
            result.claimed += len(events)
            result.add(batch_process(events))
            idle_since = time.monotonic()
            continue
        if time.monotonic() - idle_since >= linger_seconds:
            return result
        time.sleep(0.2)


def events_due_count() -> int:
    return WebhookEvent.objects.filter(_claimable(timezone.now())).count()


# --- replay ---------------------------------------------------------------------


def events_replay(events: QuerySet[WebhookEvent]) -> int:
    """Put failed / unroutable / processed events back in the queue, attempts reset."""
    count = events.exclude(status=Status.PROCESSING).update(
        status=Status.RECEIVED,
        attempts=0,
        next_attempt_at=None,
        last_error="",
        claim_token="",
        claimed_until=None,
    )
    if count:
        transaction.on_commit(_queue_drain)
    return count
