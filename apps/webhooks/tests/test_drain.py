from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.webhooks.models import WebhookEvent
from apps.webhooks.registry import IncomingEvent
from apps.webhooks.services import DRAIN_LEASE, drain, events_claim, events_store, retry_delay

from .conftest import HANDLED

pytestmark = pytest.mark.django_db
Status = WebhookEvent.Status


def store(*events: tuple[str, str, str], payload: dict | None = None) -> None:
    events_store(
        source_key="test-source",
        incoming=[
            IncomingEvent(event_id=eid, event_type=etype, account_ref=acct, payload=payload or {})
            for eid, etype, acct in events
        ],
    )


def test_drain_runs_the_handler_and_records_the_tenant(test_source, tenant_a):
    store(("e1", "ok", "known"), payload={"tenant": tenant_a.pk})

    result = drain()

    event = WebhookEvent.objects.get()
    assert (result.claimed, result.processed) == (1, 1)
    assert [event.pk] == HANDLED
    assert event.status == Status.PROCESSED
    assert event.tenant_id == tenant_a.pk
    assert event.processed_at is not None
    assert event.attempts == 1


def test_unknown_account_is_flagged_not_processed(test_source):
    store(("e1", "ok", "shop-nobody-has"))

    result = drain()

    event = WebhookEvent.objects.get()
    assert result.unroutable == 1
    assert event.status == Status.UNROUTABLE
    assert "shop-nobody-has" in event.last_error
    assert HANDLED == []
    assert drain().claimed == 0, "unroutable events are not retried on their own"


def test_event_without_handler_is_ignored(test_source):
    store(("e1", "some.new.type", ""))

    assert drain().ignored == 1
    assert WebhookEvent.objects.get().status == Status.IGNORED


def test_failing_handler_is_retried_with_backoff_then_parked(test_source, settings):
    settings.WEBHOOKS_MAX_ATTEMPTS = 3
    store(("e1", "boom", ""))

    before = timezone.now()
    assert drain().retried == 1
    event = WebhookEvent.objects.get()
    assert event.status == Status.RECEIVED
    assert event.attempts == 1
    assert event.next_attempt_at >= before + retry_delay(1)
    assert "provider said no" in event.last_error
    assert drain().claimed == 0, "not due before its next attempt"

    for _ in range(2):
        WebhookEvent.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
        drain()

    event.refresh_from_db()
    assert event.status == Status.FAILED
    assert event.attempts == 3


def test_backoff_doubles_and_is_capped():
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3)] == [30, 60, 120]
    assert retry_delay(20) == timedelta(hours=1)


def test_two_workers_never_claim_the_same_event(test_source):
    store(*[(f"e{n}", "ok", "known") for n in range(10)])

    first = events_claim(batch_size=6)
    second = events_claim(batch_size=6)

    assert len(first) == 6
    assert len(second) == 4
    assert not {e.pk for e in first} & {e.pk for e in second}
    assert events_claim(batch_size=6) == []


def test_events_of_a_dead_worker_are_claimed_again_after_the_lease(test_source):
    store(("e1", "ok", "known"))
    (held,) = events_claim(batch_size=10)
    assert events_claim(batch_size=10) == []

    WebhookEvent.objects.update(claimed_until=timezone.now() - timedelta(seconds=1))
    (again,) = events_claim(batch_size=10)

    assert again.pk == held.pk
    assert again.attempts == 2
    assert timedelta(minutes=1) <= DRAIN_LEASE


def test_drain_takes_events_in_batches_with_constant_queries(test_source, tenant_a):
    """Three batches of ignored events: the query count does not grow with the events."""
    store(*[(f"a{n}", "unhandled", "") for n in range(10)])
    with CaptureQueriesContext(connection) as small:
        drain(batch_size=100)
    store(*[(f"b{n}", "unhandled", "") for n in range(300)])
    with CaptureQueriesContext(connection) as large:
        result = drain(batch_size=100)

    assert result.claimed == 300
    per_batch = len(small.captured_queries) - 1  # minus the final, empty claim
    assert len(large.captured_queries) <= 3 * per_batch + 1
    assert WebhookEvent.objects.filter(status=Status.IGNORED).count() == 310


def test_replay_command_queues_failed_events_and_drains_them(test_source, tenant_a, capsys):
    store(("e1", "ok", "known"), payload={"tenant": tenant_a.pk})
    store(("e2", "ok", "other"))
    WebhookEvent.objects.filter(event_id="e1").update(status=Status.FAILED, attempts=8)

    call_command("replay_webhooks", "--dry-run")
    assert "1 event(s) would be replayed" in capsys.readouterr().out
    assert WebhookEvent.objects.get(event_id="e1").status == Status.FAILED

    call_command("replay_webhooks", "--source", "test-source")

    out = capsys.readouterr().out
    assert "1 event(s) queued again" in out
    assert "processed 1" in out
    e1 = WebhookEvent.objects.get(event_id="e1")
    assert (e1.status, e1.attempts) == (Status.PROCESSED, 1)


def test_replay_command_takes_unroutable_events_once_the_account_is_known(test_source):
    store(("e1", "ok", "other"))
    drain()
    assert WebhookEvent.objects.get().status == Status.UNROUTABLE

    call_command("replay_webhooks", "--status", "unroutable", "--queue")

    assert WebhookEvent.objects.get().status == Status.RECEIVED


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--since", "yesterday"], "must be a date"), (["--source", "nope"], "Unknown source")],
)
def test_replay_command_refuses_bad_input(test_source, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("replay_webhooks", *args)


def _with_prepare(monkeypatch, test_source, prepare):
    from dataclasses import replace

    from apps.webhooks.registry import webhooks

    monkeypatch.setitem(webhooks._sources, test_source.key, replace(test_source, prepare=prepare))


def test_a_sources_prepare_wraps_the_handlers_of_each_batch(test_source, tenant_a, monkeypatch):
    from contextlib import contextmanager

    seen = []

    @contextmanager
    def prepare(events):
        seen.append(("enter", sorted(e.event_id for e in events), list(HANDLED)))
        yield
        seen.append(("exit", list(HANDLED)))

    _with_prepare(monkeypatch, test_source, prepare)
    store(*[(f"e{n}", "ok", "known") for n in range(5)], payload={"tenant": tenant_a.pk})

    result = drain(batch_size=3)

    assert result.processed == 5
    ids = list(WebhookEvent.objects.order_by("id").values_list("pk", flat=True))
    assert seen == [
        ("enter", ["e0", "e1", "e2"], []),
        ("exit", ids[:3]),
        ("enter", ["e3", "e4"], ids[:3]),
        ("exit", ids),
    ]


def test_a_prepare_that_fails_is_skipped_and_the_handlers_still_run(
    test_source, tenant_a, monkeypatch, caplog
):
    def prepare(events):
        raise RuntimeError("the batch lookup is down")

    _with_prepare(monkeypatch, test_source, prepare)
    store(("e1", "ok", "known"), ("e2", "ok", "known"), payload={"tenant": tenant_a.pk})

    result = drain()

    assert result.processed == 2
    assert WebhookEvent.objects.filter(status=Status.PROCESSED).count() == 2
    assert "preparing a batch failed" in caplog.text


def test_a_prepare_whose_exit_fails_still_writes_the_outcomes(
    test_source, tenant_a, monkeypatch, caplog
):
    from contextlib import contextmanager

    @contextmanager
    def prepare(events):
        yield
        raise RuntimeError("closing failed")

    _with_prepare(monkeypatch, test_source, prepare)
    store(("e1", "ok", "known"), ("e2", "ok", "known"), payload={"tenant": tenant_a.pk})

    result = drain()

    assert result.processed == 2
    assert WebhookEvent.objects.filter(status=Status.PROCESSED).count() == 2
    assert drain().claimed == 0  # nothing left in PROCESSING to be handled again
    assert "closing a prepared batch failed" in caplog.text
