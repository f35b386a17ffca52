"""Deliver pending conversion events: claim, group by destination, batch, record the answers.

**Claim.** Due events are locked (``SKIP LOCKED`` on PostgreSQL; SQLite
serialises writers) and stamped with a random token and a lease
(``claimed_until``), so several workers never take the same event and never
wait for each other; events of a destination whose breaker is open are not
claimed at all. An event stays ``pending`` while claimed: a worker killed
mid-batch leaves it pending, and it is claimed again, with the same event id,
once the lease passes (at least once; the platforms deduplicate on the event
id, see the README).

**Send.** Each destination's events go out in batches of the platform's
maximum (1,000), one request each. Events the platform would refuse are kept
out of the batch and failed on their own, without a call: older than the
platform's maximum age, or locally invalid (one such event makes Meta reject
the whole batch). A batch the platform refuses because of one of its events
(Meta code 100, TikTok 40002) is split in halves and retried until the
culprits are alone, so exactly those are marked failed.

**Answers.** Sent events record the events received and the trace / request
id; refused ones the provider's code and message. A transient failure (5xx,
timeout, throttling) puts the batch back with exponential backoff and counts
against the destination's circuit breaker (:mod:`.breaker`); after
:data:`MAX_ATTEMPTS` the event is failed with the last error.

**Cost.** A batch costs a constant number of queries whatever its size:
three to claim (read as plain rows, no model instances), one for the
destinations, the platform app's one or two to find the token, and per
request one call-log insert, one UPDATE of the batch's events and one
attempt row.
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.integrations.http import PermissionDenied, ProviderError, TokenExpired
from apps.integrations.redaction import redact_text

from . import breaker
from .client import BatchAnswer, MetaConversionsClient, TikTokEventsClient
from .models import ConversionDestination, ConversionEvent, DeliveryAttempt, Platform
from .platforms import RULES, local_problem
from .registry import conversion_platforms

logger = logging.getLogger(__name__)

Status = ConversionEvent.Status
Clock = Callable[[], datetime]

#: How long a claim holds: longer than a destination's batches take (a request may
#: take 35 s with its timeouts, a claim holds a few batches), short enough that the
#: events of a worker that died are sent within minutes.
CLAIM_LEASE = timedelta(minutes=5)
#: Sending attempts before an event is failed for good (about 8 hours of backoff).
MAX_ATTEMPTS = 10
#: Backoff after a transient failure: 30 s, 1 min, 2 min, ... at most an hour,
#: with half of it jittered so workers do not retry in step.
RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=1)
#: Requests one group may spend isolating the events a platform refuses.
MAX_SPLIT_REQUESTS = 64

#: Provider codes that mean "something in these events is wrong" (the batch may be
#: split to find it), as opposed to a problem with the destination or the token.
EVENT_LEVEL_CODES: dict[str, frozenset[str]] = {
    Platform.META: frozenset({"100"}),  # invalid parameter (2804003 too old, 2804066 name...)
    Platform.TIKTOK: frozenset({"40002"}),  # parameter error
}
#: ... except these, which name the destination itself.
REQUEST_LEVEL_CODES: frozenset[str] = frozenset({"100/33"})  # object does not exist / no access


def retry_delay(attempts: int) -> timedelta:
    """Half fixed, half jittered: ``d/2 + random(0, d/2)`` with ``d = 30 s * 2**(n-1)``, capped."""
    full = min(RETRY_BASE * (2 ** max(attempts - 1, 0)), RETRY_CAP).total_seconds()
    return timedelta(seconds=full / 2 + random.uniform(0, full / 2))  # noqa: S311


@dataclass
class DispatchResult:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    released: int = 0
    requests: int = 0
    #: destination pk -> requests, for the benchmark and the logs
    requests_by_destination: dict[int, int] = field(default_factory=lambda: defaultdict(int))

    def summary(self) -> str:
        return (
            f"claimed {self.claimed}, sent {self.sent}, failed {self.failed}, "
            f"retrying {self.retried}, put back {self.released}, requests {self.requests}"
        )


# --- claim ------------------------------------------------------------------------------


def _claimable(now: datetime) -> Q:
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    return Q(status=Status.PENDING) & due & free


@dataclass(frozen=True)
class ClaimedEvent:
    """What the dispatcher needs of a claimed event: a row, without building a model.

    Claims are the hot path; model instances (and their related rows) cost more
    than the request that sends them.
    """

    pk: int
    destination_id: int
    event_time: datetime
    payload: dict
    attempts: int


CLAIMED_FIELDS = ("pk", "destination_id", "event_time", "payload", "attempts")


def events_claim(*, now: datetime, limit: int) -> list[ClaimedEvent]:
    """Take up to ``limit`` due events (oldest first) for this worker; three queries.

    PostgreSQL: the candidates are locked with ``FOR UPDATE SKIP LOCKED``, so
    concurrent workers take different events instead of queueing behind each
    other's rows. SQLite: the transaction takes the database's write lock
    (``BEGIN IMMEDIATE``), so claims are serialised. Either way the UPDATE
    re-checks that each event is still claimable, and the lease makes a dead
    worker's claim expire.
    """
    token = secrets.token_hex(16)
    with transaction.atomic():
        candidates = ConversionEvent.objects.filter(_claimable(now)).exclude(breaker.blocked(now))
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True, of=("self",))
        ids = list(candidates.order_by("id").values_list("id", flat=True)[:limit])
        if not ids:
            return []
        ConversionEvent.objects.filter(_claimable(now), id__in=ids).update(
            claim_token=token, claimed_until=now + CLAIM_LEASE
        )
    rows = (
        ConversionEvent.objects.filter(claim_token=token)
        .order_by("id")
        .values_list(*CLAIMED_FIELDS)
    )
    return [ClaimedEvent(*row) for row in rows]


def events_due_count(*, now: datetime | None = None) -> int:
    now = now or timezone.now()
    return ConversionEvent.objects.filter(_claimable(now)).exclude(breaker.blocked(now)).count()


# --- the loop ---------------------------------------------------------------------------


class ClientPool:
    """One client per (platform, token) for the whole dispatch run: connections are reused."""

    def __init__(self) -> None:
        self._clients: dict[tuple[str, str], MetaConversionsClient | TikTokEventsClient] = {}

    def get(
        self, *, platform: str, token: str, tenant
    ) -> MetaConversionsClient | TikTokEventsClient:
        key = (platform, token)
        client = self._clients.get(key)
        if client is None:
            cls = MetaConversionsClient if platform == Platform.META else TikTokEventsClient
            client = cls(tenant=tenant, access_token=token)
            self._clients[key] = client
        client.tenant = tenant
        return client

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()


def dispatch(
    *,
    claim_size: int | None = None,
    time_budget: float | None = None,
    clock: Clock = timezone.now,
    progress: Callable[[DispatchResult], None] | None = None,
) -> DispatchResult:
    """Send due events until none is left (or ``time_budget`` seconds have passed)."""
    size = claim_size or settings.CAPI_DISPATCH_CLAIM
    started = time.monotonic()
    result = DispatchResult()
    clients = ClientPool()
    try:
        while True:
            events = events_claim(now=clock(), limit=size)
            if not events:
                break
            result.claimed += len(events)
            for destination, group in _by_destination(events):
                _Delivery(destination, group, clients=clients, clock=clock, result=result).run()
            if progress is not None:
                progress(result)
            if time_budget is not None and time.monotonic() - started >= time_budget:
                break
    finally:
        clients.close()
    return result


def _by_destination(
    events: list[ClaimedEvent],
) -> Iterable[tuple[ConversionDestination, list[ClaimedEvent]]]:
    """The claim's events per destination, the destinations read in one query."""
    groups: dict[int, list[ClaimedEvent]] = defaultdict(list)
    for event in events:
        groups[event.destination_id].append(event)
    destinations = ConversionDestination.objects.select_related("tenant").in_bulk(list(groups))
    for destination_id, group in groups.items():
        yield destinations[destination_id], group


# --- one destination's share of a claim -----------------------------------------------------


class _Delivery:
    def __init__(
        self,
        destination: ConversionDestination,
        events: list[ClaimedEvent],
        *,
        clients: ClientPool,
        clock: Clock,
        result: DispatchResult,
    ) -> None:
        self.destination = destination
        self.events = events
        self.platform = destination.platform
        self.rules = RULES[self.platform]
        self.clients = clients
        self.clock = clock
        self.result = result
        self.split_requests = 0
        self.client = None

    def run(self) -> None:
        now = self.clock()
        events = self._refuse_unsendable(self.events, now)
        if not events:
            return
        if not breaker.may_send(self.destination) and not breaker.probe_take(
            destination=self.destination, now=now
        ):
            # Another worker probes, or the cool-down is not over: no call.
            self._put_back(events, until=self.destination.retry_at)
            return
        self.client = self._client()
        if self.client is None:
            self._fail(
                events,
                code="no_credentials",
                message=_("No connected account can send to this destination."),
            )
            return
        if self.destination.breaker_state != breaker.Breaker.CLOSED:
            probe, events = events[:1], events[1:]
            if not self._send(probe, probe=True):
                self._put_back(events, until=self.destination.retry_at)
                return
        for start in range(0, len(events), self.rules.max_batch):
            chunk = events[start : start + self.rules.max_batch]
            if not self._send(chunk):
                rest = events[start + self.rules.max_batch :]
                self._put_back(rest, until=self._retry_time(rest))
                return

    # --- before sending -----------------------------------------------------------------

    def _refuse_unsendable(self, events: list[ClaimedEvent], now: datetime) -> list[ClaimedEvent]:
        """Fail, without a call, what the platform would refuse; return the rest."""
        stale, invalid, good = [], defaultdict(list), []
        oldest = now - self.rules.max_age
        for event in events:
            if event.event_time < oldest:
                stale.append(event)
            elif problem := local_problem(platform=self.platform, payload=event.payload):
                invalid[problem].append(event)
            else:
                good.append(event)
        if stale:
            self._fail(
                stale,
                code="too_old",
                message=_(
                    "Too old to send: older than %(limit)s. Not sent, so that it cannot make "
                    "the platform refuse the whole batch."
                )
                % {"limit": self.rules.age_limit_label},
            )
        for problem, bad in invalid.items():
            self._fail(bad, code="invalid", message=problem)
        return good

    def _client(self):
        platform = conversion_platforms.get(self.platform)
        token = (
            platform.access_token(tenant=self.destination.tenant, destination=self.destination)
            if platform is not None
            else None
        )
        if not token:
            return None
        return self.clients.get(platform=self.platform, token=token, tenant=self.destination.tenant)

    # --- one request ---------------------------------------------------------------------

    def _send(self, events: list[ClaimedEvent], *, probe: bool = False) -> bool:
        """Send one batch; True when the destination may take more now."""
        client = self.client
        started_at = self.clock()
        started = time.monotonic()
        payloads = [event.payload for event in events]
        self.result.requests += 1
        self.result.requests_by_destination[self.destination.pk] += 1
        try:
            if self.platform == Platform.META:
                answer = client.send_events(
                    dataset_id=self.destination.external_id, events=payloads
                )
            else:
                answer = client.track(event_source_id=self.destination.external_id, events=payloads)
        except ProviderError as exc:
            duration = _ms(started)
            return self._refused(
                events, exc, started_at=started_at, duration_ms=duration, probe=probe
            )
        self._sent(events, answer, started_at=started_at, duration_ms=_ms(started), probe=probe)
        return True

    def _sent(
        self,
        events: list[ClaimedEvent],
        answer: BatchAnswer,
        *,
        started_at: datetime,
        duration_ms: int,
        probe: bool,
    ) -> None:
        now = self.clock()
        ConversionEvent.objects.filter(pk__in=[e.pk for e in events]).update(
            status=Status.SENT,
            sent_at=now,
            attempts=F("attempts") + 1,
            events_received=answer.events_received,
            trace_id=answer.trace_id[:128],
            error_code="" if not answer.message else answer.provider_code[:64],
            error_message=answer.message,
            next_attempt_at=None,
            claim_token="",
            claimed_until=None,
            updated_at=now,
        )
        self._attempt(
            events,
            outcome=DeliveryAttempt.Outcome.SENT,
            started_at=started_at,
            duration_ms=duration_ms,
            probe=probe,
            status_code=200,
            provider_code=answer.provider_code,
            trace_id=answer.trace_id,
            events_received=answer.events_received,
            error=answer.message,
        )
        breaker.record_success(destination=self.destination, now=now)
        self.result.sent += len(events)

    def _refused(
        self,
        events: list[ClaimedEvent],
        exc: ProviderError,
        *,
        started_at: datetime,
        duration_ms: int,
        probe: bool,
    ) -> bool:
        now = self.clock()
        error = redact_text(str(exc))[:2000]
        common = {
            "started_at": started_at,
            "duration_ms": duration_ms,
            "probe": probe,
            "status_code": exc.status_code,
            "provider_code": exc.code,
            "trace_id": exc.request_id,
            "error": error,
        }
        if exc.transient:
            retry_at = self._retry(events, exc, now)
            self._attempt(
                events, outcome=DeliveryAttempt.Outcome.TRANSIENT, next_retry_at=retry_at, **common
            )
            breaker.record_failure(destination=self.destination, now=now, error=error)
            logger.warning(
                "capi: %s destination %s failed transiently (%s); %d event(s) back off",
                self.platform,
                self.destination.pk,
                exc.code or exc.status_code,
                len(events),
            )
            return False
        self._attempt(events, outcome=DeliveryAttempt.Outcome.REJECTED, **common)
        if probe:
            # The probe's answer came back, so the destination is reachable again.
            breaker.record_success(destination=self.destination, now=now)
        if (
            len(events) > 1
            and self._event_level(exc)
            and self.split_requests + 2 <= MAX_SPLIT_REQUESTS
        ):
            self.split_requests += 2
            half = len(events) // 2
            first_ok = self._send(events[:half])
            if not first_ok:
                self._put_back(events[half:], until=self._retry_time(events[half:]))
                return False
            return self._send(events[half:])
        self._fail(events, code=exc.code or str(exc.status_code or ""), message=error, trace=exc)
        # A token or permission problem will refuse every batch the same way.
        return not isinstance(exc, TokenExpired | PermissionDenied)

    def _event_level(self, exc: ProviderError) -> bool:
        if type(exc) is not ProviderError or exc.code in REQUEST_LEVEL_CODES:
            return False
        root = exc.code.split("/", 1)[0]
        return root in EVENT_LEVEL_CODES.get(self.platform, frozenset())

    # --- recording ------------------------------------------------------------------------

    def _retry(self, events: list[ClaimedEvent], exc: ProviderError, now: datetime):
        """Back the batch off (or fail the events that used their attempts); the next retry time."""
        by_attempts: dict[int, list[int]] = defaultdict(list)
        for event in events:
            by_attempts[event.attempts + 1].append(event.pk)
        message = redact_text(str(exc))[:2000]
        first_retry = None
        for attempts, pks in by_attempts.items():
            if attempts >= MAX_ATTEMPTS:
                ConversionEvent.objects.filter(pk__in=pks).update(
                    status=Status.FAILED,
                    attempts=attempts,
                    error_code=(exc.code or str(exc.status_code or ""))[:64],
                    error_message=_("Gave up after %(n)d attempts: %(error)s")
                    % {"n": attempts, "error": message},
                    trace_id=exc.request_id[:128],
                    claim_token="",
                    claimed_until=None,
                    updated_at=now,
                )
                self.result.failed += len(pks)
                continue
            delay = retry_delay(attempts)
            if exc.retry_after is not None:
                delay = max(delay, timedelta(seconds=exc.retry_after))
            retry_at = now + delay
            first_retry = retry_at if first_retry is None else min(first_retry, retry_at)
            ConversionEvent.objects.filter(pk__in=pks).update(
                attempts=attempts,
                next_attempt_at=retry_at,
                error_code=(exc.code or str(exc.status_code or ""))[:64],
                error_message=message,
                trace_id=exc.request_id[:128],
                claim_token="",
                claimed_until=None,
                updated_at=now,
            )
            self.result.retried += len(pks)
        return first_retry

    def _retry_time(self, events: list[ClaimedEvent]) -> datetime | None:
        if self.destination.breaker_state != breaker.Breaker.CLOSED:
            return self.destination.retry_at
        return self.clock() + retry_delay(1)

    def _fail(
        self,
        events: list[ClaimedEvent],
        *,
        code: str,
        message: str,
        trace: ProviderError | None = None,
    ) -> None:
        now = self.clock()
        updates = {
            "status": Status.FAILED,
            "error_code": str(code)[:64],
            "error_message": str(message),
            "claim_token": "",
            "claimed_until": None,
            "next_attempt_at": None,
            "updated_at": now,
        }
        if trace is not None:
            updates["attempts"] = F("attempts") + 1
            updates["trace_id"] = trace.request_id[:128]
        ConversionEvent.objects.filter(pk__in=[e.pk for e in events]).update(**updates)
        self.result.failed += len(events)

    def _put_back(self, events: list[ClaimedEvent], *, until: datetime | None) -> None:
        """Release a claim without a call: not attempted, so attempts are unchanged."""
        if not events:
            return
        ConversionEvent.objects.filter(pk__in=[e.pk for e in events]).update(
            claim_token="", claimed_until=None, next_attempt_at=until
        )
        self.result.released += len(events)

    def _attempt(self, events: list[ClaimedEvent], *, outcome: str, **fields) -> DeliveryAttempt:
        return DeliveryAttempt.objects.create(
            tenant_id=self.destination.tenant_id,
            destination=self.destination,
            events=len(events),
            outcome=outcome,
            **fields,
        )


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
