"""The dispatcher: batches, per-event answers, backoff, circuit breaker, killed workers.

Acceptance 3 (2,500 events in 3 requests; exactly the refused events marked),
4 (a failing destination: backoff, breaker, cool-down, probe, backlog) and 5
(a worker killed mid-batch loses nothing, and the events go again with the
same ids), against the sandbox's real validation and on-demand faults.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import responses
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.capi import breaker
from apps.capi.client import MetaConversionsClient
from apps.capi.dispatch import CLAIM_LEASE, MAX_ATTEMPTS, dispatch, events_claim
from apps.capi.models import ConversionDestination, ConversionEvent, DeliveryAttempt
from apps.capi.platforms import CustomerInfo, meta_messaging_event, tiktok_web_event
from apps.sandbox.views.capi import accepted_count

from .conftest import META_DATASET, META_WABA, TIKTOK_PIXEL_CODE, FakeClock, fixture

pytestmark = pytest.mark.django_db

Status = ConversionEvent.Status
Breaker = ConversionDestination.Breaker


def _destination(tenant, platform="meta") -> ConversionDestination:
    if platform == "meta":
        return ConversionDestination.objects.create(
            tenant=tenant,
            platform="meta",
            external_id=META_DATASET,
            kind="waba_dataset",
            waba_id=META_WABA,
            label="WABA dataset",
        )
    return ConversionDestination.objects.create(
        tenant=tenant, platform="tiktok", external_id=TIKTOK_PIXEL_CODE, label="Pixel"
    )


def pending_events(
    tenant, destination, count: int, *, start: int = 0, at=None
) -> list[ConversionEvent]:
    """``count`` pending Lead events for ``destination``, as the triggers would store them."""
    at = at or timezone.now() - timedelta(minutes=5)
    rows = []
    for n in range(start, start + count):
        event_id = f"lead-{n}"
        if destination.platform == "meta":
            payload = meta_messaging_event(
                event_name="LeadSubmitted",
                event_id=event_id,
                event_time=at,
                waba_id=destination.waba_id,
                ctwa_clid=f"clid-{n}",
                customer=CustomerInfo(phone=f"55119{n:08d}"),
                value=None,
                currency="",
            )
        else:
            payload = tiktok_web_event(
                event_name="Lead",
                event_id=event_id,
                event_time=at,
                ttclid=f"ttclid-{n}",
                customer=CustomerInfo(external_id=f"c-{n}"),
                value=None,
                currency="",
            )
        rows.append(
            ConversionEvent(
                tenant=tenant,
                platform=destination.platform,
                destination=destination,
                event_name=payload.get("event_name") or payload.get("event"),
                event_id=event_id,
                click_id=f"clid-{n}",
                event_time=at,
                payload=payload,
            )
        )
    return ConversionEvent.objects.bulk_create(rows, batch_size=500)


def _posts(sandbox, path: str) -> list:
    return [c for c in sandbox.mock.calls if path in c.request.url and c.request.method == "POST"]


# --- acceptance 3 ------------------------------------------------------------------------


def test_2500_events_for_one_pixel_go_out_in_3_requests(tenant_a, sandbox, meta_platform):
    destination = _destination(tenant_a)
    pending_events(tenant_a, destination, 2500)

    result = dispatch()

    assert result.requests == 3
    assert ConversionEvent.objects.filter(status=Status.SENT).count() == 2500
    posts = _posts(sandbox, f"/{META_DATASET}/events")
    sizes = [len(json.loads(c.request.body)["data"]) for c in posts]
    assert sizes == [1000, 1000, 500]
    sent = ConversionEvent.objects.filter(event_id="lead-1999").get()
    assert sent.events_received == 1000
    assert sent.trace_id.startswith("A")  # Meta's fbtrace_id
    assert sent.attempts == 1
    assert DeliveryAttempt.objects.filter(outcome="sent").count() == 3


def test_a_refused_batch_marks_exactly_the_events_meta_rejected(tenant_a, sandbox, meta_platform):
    destination = _destination(tenant_a)
    events = pending_events(tenant_a, destination, 10)
    bad = {events[3].pk, events[7].pk}
    for event in events:
        if event.pk in bad:
            del event.payload["messaging_channel"]  # passes our checks, Meta refuses it
            event.save(update_fields=["payload"])

    dispatch()

    statuses = dict(ConversionEvent.objects.values_list("pk", "status"))
    assert {pk for pk, s in statuses.items() if s == Status.FAILED} == bad
    assert {pk for pk, s in statuses.items() if s == Status.SENT} == {e.pk for e in events} - bad
    failed = ConversionEvent.objects.get(pk=events[3].pk)
    assert failed.error_code == "100"
    assert "messaging_channel" in failed.error_message
    # Meta processed nothing of a refused batch: every good event arrived exactly once.
    assert all(accepted_count("meta", e.event_id) == 1 for e in events if e.pk not in bad)
    assert all(accepted_count("meta", e.event_id) == 0 for e in events if e.pk in bad)


def test_tiktok_partial_refusal_marks_exactly_those(tenant_a, sandbox, tiktok_platform):
    destination = _destination(tenant_a, "tiktok")
    events = pending_events(tenant_a, destination, 6)
    events[2].payload["user"]["email"] = "not-hashed@example.com"
    events[2].save(update_fields=["payload"])

    dispatch()

    failed = ConversionEvent.objects.get(status=Status.FAILED)
    assert failed.pk == events[2].pk
    assert failed.error_code == "40002"
    assert "SHA-256" in failed.error_message
    assert ConversionEvent.objects.filter(status=Status.SENT).count() == 5


def test_events_meta_would_refuse_are_kept_out_of_the_batch(tenant_a, sandbox, meta_platform):
    destination = _destination(tenant_a)
    fresh = pending_events(tenant_a, destination, 3)
    stale = pending_events(
        tenant_a, destination, 1, start=100, at=timezone.now() - timedelta(days=7)
    )
    wrong_name = pending_events(tenant_a, destination, 1, start=200)[0]
    wrong_name.payload["event_name"] = "Lead"  # not a Business Messaging name
    wrong_name.save(update_fields=["payload"])

    result = dispatch()

    assert result.requests == 1  # the good three, in one batch that Meta accepts
    assert set(ConversionEvent.objects.filter(status=Status.SENT).values_list("pk", flat=True)) == {
        e.pk for e in fresh
    }
    old = ConversionEvent.objects.get(pk=stale[0].pk)
    assert (old.status, old.error_code, old.attempts) == (Status.FAILED, "too_old", 0)
    refused = ConversionEvent.objects.get(pk=wrong_name.pk)
    assert (refused.status, refused.error_code) == (Status.FAILED, "invalid")


def test_a_token_meta_refuses_fails_the_batch_without_splitting(tenant_a, sandbox, meta_platform):
    meta_platform.token = "EAAnot-a-sandbox-token"
    destination = _destination(tenant_a)
    pending_events(tenant_a, destination, 40)

    result = dispatch()

    assert result.requests == 1
    assert set(ConversionEvent.objects.values_list("status", "error_code")) == {
        (Status.FAILED, "190")
    }


def test_no_connected_account_fails_without_a_call(tenant_a, sandbox, meta_platform):
    meta_platform.token = None
    pending_events(tenant_a, _destination(tenant_a), 2)
    result = dispatch()
    assert result.requests == 0
    assert set(ConversionEvent.objects.values_list("status", "error_code")) == {
        (Status.FAILED, "no_credentials")
    }


# --- acceptance 4 ------------------------------------------------------------------------


def test_failing_destination_backs_off_opens_the_breaker_then_a_probe_drains_the_backlog(
    tenant_a, sandbox, meta_platform
):
    clock = FakeClock()
    destination = _destination(tenant_a)
    events = pending_events(tenant_a, destination, 20)
    sandbox.inject(
        provider="meta", path_contains="/events", kind="500", times=breaker.FAILURE_THRESHOLD
    )
    calls = lambda: sandbox.calls(f"/{META_DATASET}/events")  # noqa: E731

    # First failure: the batch backs off 15-30 s (half of 30 s, plus jitter).
    dispatch(clock=clock)
    assert calls() == 1
    first = ConversionEvent.objects.get(pk=events[0].pk)
    assert (first.status, first.attempts, first.error_code) == (Status.PENDING, 1, "2")
    assert timedelta(seconds=15) <= first.next_attempt_at - clock.now <= timedelta(seconds=30)
    clock.advance(seconds=1)
    dispatch(clock=clock)
    assert calls() == 1, "not due yet: no call"

    # Failures 2..5, each after the backoff; the fifth opens the breaker.
    for expected in range(2, breaker.FAILURE_THRESHOLD + 1):
        clock.advance(hours=1)
        dispatch(clock=clock)
        assert calls() == expected
    destination.refresh_from_db()
    assert destination.breaker_state == Breaker.OPEN
    assert destination.retry_at == clock.now + breaker.BASE_COOLDOWN

    # During the cool-down nothing is called (the events are not even claimed).
    clock.advance(seconds=30)
    result = dispatch(clock=clock)
    assert (calls(), result.claimed) == (breaker.FAILURE_THRESHOLD, 0)

    # After it, one worker probes with one event; it succeeds and the backlog drains.
    clock.advance(seconds=31)
    dispatch(clock=clock)
    assert calls() == breaker.FAILURE_THRESHOLD + 2  # the probe, then the other 19 at once
    destination.refresh_from_db()
    assert destination.breaker_state == Breaker.CLOSED
    assert destination.consecutive_failures == 0
    probe = DeliveryAttempt.objects.get(probe=True)
    assert (probe.events, probe.outcome) == (1, "sent")
    assert ConversionEvent.objects.filter(status=Status.SENT).count() == 20
    assert all(accepted_count("meta", e.event_id) == 1 for e in events)


def test_a_failed_probe_reopens_for_twice_as_long(tenant_a, sandbox, meta_platform):
    clock = FakeClock()
    destination = _destination(tenant_a)
    pending_events(tenant_a, destination, 3)
    sandbox.inject(
        provider="meta", path_contains="/events", kind="500", times=breaker.FAILURE_THRESHOLD + 1
    )
    for _ in range(breaker.FAILURE_THRESHOLD):
        dispatch(clock=clock)
        clock.advance(hours=1)
    destination.refresh_from_db()
    assert destination.breaker_state == Breaker.OPEN

    dispatch(clock=clock)  # cool-down over: the probe fails
    destination.refresh_from_db()
    assert destination.breaker_state == Breaker.OPEN
    assert destination.retry_at == clock.now + 2 * breaker.BASE_COOLDOWN
    assert DeliveryAttempt.objects.get(probe=True).outcome == "transient"
    assert sandbox.calls("/events") == breaker.FAILURE_THRESHOLD + 1


def test_only_one_worker_probes(tenant_a, meta_platform):
    destination = _destination(tenant_a)
    now = timezone.now()
    ConversionDestination.objects.filter(pk=destination.pk).update(
        breaker_state=Breaker.OPEN, retry_at=now - timedelta(seconds=1)
    )
    first = ConversionDestination.objects.get(pk=destination.pk)
    second = ConversionDestination.objects.get(pk=destination.pk)
    assert breaker.probe_take(destination=first, now=now) is True
    assert breaker.probe_take(destination=second, now=now) is False
    # A prober that died: its lease passes and another worker takes the probe over.
    later = now + breaker.PROBE_LEASE + timedelta(seconds=1)
    assert breaker.probe_take(destination=second, now=later) is True


def test_events_fail_for_good_after_max_attempts(tenant_a, sandbox, meta_platform):
    destination = _destination(tenant_a)
    [event] = pending_events(tenant_a, destination, 1)
    ConversionEvent.objects.filter(pk=event.pk).update(attempts=MAX_ATTEMPTS - 1)
    sandbox.inject(provider="meta", path_contains="/events", kind="500")
    dispatch()
    event.refresh_from_db()
    assert event.status == Status.FAILED
    assert event.attempts == MAX_ATTEMPTS
    assert "Gave up after" in event.error_message


def test_throttling_honours_retry_after(tenant_a, sandbox, meta_platform):
    clock = FakeClock()
    [event] = pending_events(tenant_a, _destination(tenant_a), 1)
    sandbox.inject(provider="meta", path_contains="/events", kind="429", retry_after=600)
    dispatch(clock=clock)
    event.refresh_from_db()
    assert event.status == Status.PENDING
    assert event.next_attempt_at >= clock.now + timedelta(seconds=600)


# --- acceptance 5 ------------------------------------------------------------------------


class Killed(BaseException):
    """What a SIGKILL looks like from inside: nothing after this line runs."""


def test_a_worker_killed_mid_batch_loses_nothing(tenant_a, sandbox, meta_platform, monkeypatch):
    clock = FakeClock()
    destination = _destination(tenant_a)
    events = pending_events(tenant_a, destination, 30)
    original = MetaConversionsClient.send_events

    def send_then_die(self, **kwargs):
        original(self, **kwargs)  # Meta got the batch and answered ...
        raise Killed  # ... and the worker died before writing the answer down.

    monkeypatch.setattr(MetaConversionsClient, "send_events", send_then_die)
    with pytest.raises(Killed):
        dispatch(clock=clock)
    monkeypatch.setattr(MetaConversionsClient, "send_events", original)

    # Nothing is lost: still pending, held by the dead worker's lease.
    assert ConversionEvent.objects.filter(status=Status.PENDING).count() == 30
    clock.advance(minutes=1)
    assert dispatch(clock=clock).claimed == 0, "the lease still holds"

    # The restarted worker takes them once the lease passes, with the same event ids.
    clock.advance(seconds=CLAIM_LEASE.total_seconds())
    result = dispatch(clock=clock)
    assert result.sent == 30
    first, second = (json.loads(c.request.body)["data"] for c in _posts(sandbox, "/events"))
    assert [e["event_id"] for e in first] == [e["event_id"] for e in second]
    assert [e["event_id"] for e in second] == [e.event_id for e in events]
    assert ConversionEvent.objects.filter(status=Status.SENT).count() == 30


def test_two_workers_never_claim_the_same_event(tenant_a, meta_platform):
    destination = _destination(tenant_a)
    pending_events(tenant_a, destination, 50)
    now = timezone.now()
    first = events_claim(now=now, limit=30)
    second = events_claim(now=now, limit=30)
    assert len(first) == 30
    assert len(second) == 20
    assert not {e.pk for e in first} & {e.pk for e in second}
    assert events_claim(now=now, limit=30) == []


# --- cost ---------------------------------------------------------------------------------


def _queries_for(tenant, destination, count: int, start: int) -> int:
    pending_events(tenant, destination, count, start=start)
    with CaptureQueriesContext(connection) as captured:
        dispatch()
    return len(captured)


def test_a_batch_costs_the_same_queries_whatever_its_size(tenant_a, meta_platform):
    """Claim, call log, one UPDATE of the batch, one attempt row; the token lookup is the
    platform app's (none for the fake one here, one or two queries for the real ones)."""
    destination = _destination(tenant_a)
    url = f"{settings.META_GRAPH_BASE}/{settings.META_GRAPH_VERSION}/{META_DATASET}/events"
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, url, json=fixture("events__success"))
        _queries_for(tenant_a, destination, 1, start=0)  # first success writes last_success_at
        small = _queries_for(tenant_a, destination, 5, start=10)
        large = _queries_for(tenant_a, destination, 1000, start=100)
    assert small == large
    # claim 3 (+ its savepoint here, inside the test's transaction: 2) + destinations 1
    # + the call log (1 INSERT in a savepoint: 3) + events UPDATE 1 + attempt INSERT 1
    # + the next, empty claim (1 + 2)
    assert large == 14
