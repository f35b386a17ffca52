"""Declarative sync kinds and the one runner every product's syncs share.

A product describes each thing it syncs as a :class:`SyncKind` (target table,
provider-id key, window rules, schedule) plus two plain functions: one that
fetches a page from the provider and one that turns provider records into
rows. It registers the kinds in ``AppConfig.ready()``::

    sync_kinds.register(SyncKind(product="tiktok_ads", kind="campaigns", ...))

The runner does the rest, the same way for every product:

- **One active run per (connection, kind)**: a partial unique constraint on
  ``SyncRun``; starting a second one returns the active run.
- **A checkpoint after every page**: the page's rows, the next cursor, the
  high-water mark, the stats and a heartbeat commit in one transaction, so a
  killed worker loses at most the page it was on and a rerun duplicates
  nothing (rows are upserted on the provider's id).
- **Resume**: a new run with the same window as the most recent failed or
  interrupted one continues from that run's checkpoint.
- **Leases**: a run whose heartbeat is older than :data:`SYNC_RUN_LEASE` is
  considered dead; the next start marks it ``interrupted`` and resumes it.
- **Incremental kinds** start at the last high-water mark minus ``overlap``.
- **Long windows** (backfills, reports) are cut into ``window_step`` pieces
  processed in order; the checkpoint says which piece and cursor it is in.

Anything beyond data (async report jobs, odd pagination) stays in the
product's ``fetch_page``: this module is a loop, not a framework.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.apps import apps
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.utils import timezone

from .models import Connection, SyncRun
from .redaction import redact_text
from .registry import AlreadyRegistered, providers
from .upsert import bulk_upsert

logger = logging.getLogger(__name__)

# A running run beats its heartbeat after every page. One that has not for this
# long is presumed dead (worker killed, machine gone) and the next start marks
# it interrupted and resumes it. Keep it well above the slowest page (provider
# timeouts times retries) so a slow page is never mistaken for a dead worker.
SYNC_RUN_LEASE = timedelta(minutes=10)
# SyncRun.error is shown on the card and in the admin: a sentence, not a dump.
ERROR_MAX_LENGTH = 500
# Skipped records are logged one line each up to this many per page, then summarised.
SKIP_LOG_LIMIT = 20

STAT_KEYS = ("fetched", "created", "updated", "skipped", "errors")


class UnknownSyncKind(KeyError):
    """No sync kind is registered under this product and kind."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class InvalidWindow(ValueError):
    """A requested sync window the kind cannot run (order, future, beyond max backfill)."""


@dataclass(frozen=True)
class SyncWindow:
    """A half-open time range ``[start, end)``; ``None`` means unbounded on that side."""

    start: datetime | None = None
    end: datetime | None = None

    def split(self, step: timedelta | None) -> list[SyncWindow]:
        """Consecutive pieces of at most ``step``; an unbounded window stays whole."""
        if step is None or self.start is None or self.end is None:
            return [self]
        pieces, start = [], self.start
        while start < self.end:
            end = min(start + step, self.end)
            pieces.append(SyncWindow(start, end))
            start = end
        return pieces or [self]

    def to_json(self) -> list[str | None]:
        return [_dt_to_json(self.start), _dt_to_json(self.end)]

    @classmethod
    def from_json(cls, value: list[str | None]) -> SyncWindow:
        return cls(_dt_from_json(value[0]), _dt_from_json(value[1]))


@dataclass(frozen=True)
class Page:
    """One answer of the provider."""

    items: list[dict]
    #: what to pass to the next ``fetch_page``; ``None`` means this window is done
    next_cursor: dict | None
    #: newest update time seen on this page (incremental kinds)
    high_water: datetime | None = None
    #: pages in this window, when the provider says (progress output only)
    total_pages: int | None = None


class SkipItem(Exception):
    """Raised by a per-record converter (see :func:`rows_convert`) to skip one record.

    The message is the reason; the runner counts and logs it.
    """


@dataclass(frozen=True)
class Skip:
    item: str
    reason: str


@dataclass(frozen=True)
class Rows:
    """What ``to_rows`` returns: the rows to upsert and the records it refused, with why.

    Records are never dropped silently: if ``rows`` plus ``skipped`` account for
    fewer records than the page held, the runner counts the difference as skipped.
    """

    rows: list[dict]
    skipped: list[Skip] = field(default_factory=list)


def rows_convert(*, items: Iterable[dict], convert: Callable[[dict], dict], id_field: str) -> Rows:
    """Build :class:`Rows` with a per-record ``convert`` that raises :class:`SkipItem`."""
    rows, skipped = [], []
    for item in items:
        try:
            rows.append(convert(item))
        except SkipItem as exc:
            skipped.append(Skip(item=str(item.get(id_field, "?")), reason=str(exc)))
    return Rows(rows=rows, skipped=skipped)


@dataclass(frozen=True)
class SyncKind:
    """One thing a product syncs into one table, keyed on the provider's id."""

    product: str
    kind: str
    label: str
    #: "app_label.Model" of the target table
    model: str
    #: the provider's id, as a unique constraint of the target table
    unique_fields: tuple[str, ...]
    #: ``fetch_page(*, connection, cursor: dict, window: SyncWindow) -> Page``
    fetch_page: Callable[..., Page]
    #: ``to_rows(*, connection, items: list[dict], synced_at: datetime) -> Rows``
    to_rows: Callable[..., Rows]
    incremental: bool = False
    #: incremental runs restart at the high-water mark minus this (late writes, clock skew)
    overlap: timedelta = timedelta(minutes=10)
    #: cut bounded windows into pieces of this size (e.g. 30 days for TikTok reports)
    window_step: timedelta | None = None
    #: how far back a backfill may reach
    max_backfill: timedelta | None = None
    #: how often the scheduler starts it (None: only on demand)
    schedule_minutes: int | None = None
    #: ``after_upsert(*, connection, rows: list[dict], synced_at: datetime) -> None``, called
    #: inside the page's transaction once its rows are upserted: for a table that hangs off
    #: the rows just written (daily snapshots of synced videos), committed with the checkpoint
    after_upsert: Callable[..., None] | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.product, self.kind)

    def target_model(self) -> type[models.Model]:
        return apps.get_model(self.model)


class SyncKindRegistry:
    def __init__(self) -> None:
        self._kinds: dict[tuple[str, str], SyncKind] = {}

    def register(self, sync_kind: SyncKind) -> SyncKind:
        if sync_kind.key in self._kinds:
            raise AlreadyRegistered(
                f"Sync kind {sync_kind.product}/{sync_kind.kind} is already registered."
            )
        self._kinds[sync_kind.key] = sync_kind
        return sync_kind

    def unregister(self, product: str, kind: str) -> None:
        self._kinds.pop((product, kind), None)

    def get(self, product: str, kind: str) -> SyncKind:
        try:
            return self._kinds[(product, kind)]
        except KeyError:
            known = ", ".join(k.kind for k in self.for_product(product)) or "none"
            raise UnknownSyncKind(
                f"No sync kind {kind!r} for {product!r}. Registered for {product!r}: {known}."
            ) from None

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._kinds

    def for_product(self, product: str) -> list[SyncKind]:
        return sorted(
            (k for k in self._kinds.values() if k.product == product), key=lambda k: k.kind
        )

    def products(self) -> list[str]:
        return sorted({k.product for k in self._kinds.values()})

    def all(self) -> list[SyncKind]:
        return sorted(self._kinds.values(), key=lambda k: k.key)


sync_kinds = SyncKindRegistry()


@dataclass(frozen=True)
class SyncProgress:
    """Handed to ``on_page`` after each committed page (for progress output)."""

    run_id: int
    window_index: int  # 0-based piece of the run's window
    window_count: int
    page: int  # pages done in this piece, this one included
    total_pages: int | None
    stats: dict[str, int]
    resumed_from: int | None


# --- windows -----------------------------------------------------------------------


def sync_window_for_dates(
    *, sync_kind: SyncKind, since: date, until: date | None = None, now: datetime | None = None
) -> SyncWindow:
    """The window of a backfill from ``since`` to ``until`` (whole days, inclusive).

    Days are in the current time zone; the window ends at midnight after
    ``until`` so that rerunning the same command asks for the same window and
    therefore resumes.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    until = until or today
    if since > today:
        raise InvalidWindow(f"--since {since} is in the future (today is {today}).")
    if since > until:
        raise InvalidWindow(f"--since {since} is after --until {until}.")
    if until > today:
        raise InvalidWindow(f"--until {until} is in the future (today is {today}).")
    if sync_kind.max_backfill is not None:
        earliest = timezone.localdate(now - sync_kind.max_backfill)
        if since < earliest:
            raise InvalidWindow(
                f"{sync_kind.product}/{sync_kind.kind} reaches back {sync_kind.max_backfill.days} "
                f"days at most: --since must be {earliest} or later."
            )
    tz = timezone.get_current_timezone()
    return SyncWindow(
        start=datetime.combine(since, time.min, tzinfo=tz),
        end=datetime.combine(until + timedelta(days=1), time.min, tzinfo=tz),
    )


# --- start ---------------------------------------------------------------------------


def _runs_of(*, connection: Connection, kind: str) -> models.QuerySet[SyncRun]:
    return SyncRun.objects.filter(
        product=connection.provider_key, connection_id=connection.pk, kind=kind
    )


def sync_run_start(
    *,
    connection: Connection,
    kind: str,
    trigger: str,
    window: SyncWindow | None = None,
) -> SyncRun:
    """Create a queued run, or return the run already queued or running for this kind.

    Active runs whose heartbeat is older than :data:`SYNC_RUN_LEASE` are marked
    ``interrupted`` first, so a dead worker never blocks its kind. Without a
    window, an incremental kind starts at its last high-water mark minus
    ``overlap``.
    """
    sync_kind = sync_kinds.get(connection.provider_key, kind)
    if trigger not in SyncRun.Trigger.values:
        raise ValueError(f"Unknown trigger {trigger!r}; expected one of {SyncRun.Trigger.values}.")
    if window and window.start and window.end and window.start >= window.end:
        raise InvalidWindow("The window must start before it ends.")
    now = timezone.now()
    runs = _runs_of(connection=connection, kind=kind)
    cutoff = now - SYNC_RUN_LEASE
    stale = runs.filter(status__in=SyncRun.ACTIVE).filter(
        # A queued run never picked up within the lease lost its task (queue flushed,
        # broker down); the run that replaces it resumes whatever it had done.
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, created_at__lt=cutoff)
    )
    for stale_run in stale.only("pk", "status", "heartbeat_at"):
        # Re-check staleness in the UPDATE itself: it may have beaten since we looked.
        if stale.filter(pk=stale_run.pk).update(
            status=SyncRun.Status.INTERRUPTED,
            finished_at=now,
            error=f"No heartbeat for {SYNC_RUN_LEASE}: the worker is presumed dead.",
        ):
            logger.warning(
                "sync %s/%s run=%s interrupted: %s since last heartbeat",
                connection.provider_key,
                kind,
                stale_run.pk,
                now - (stale_run.heartbeat_at or now),
            )

    high_water = _last_high_water(connection=connection, kind=kind)
    if window is None and sync_kind.incremental and high_water is not None:
        window = SyncWindow(start=high_water - sync_kind.overlap, end=None)
    window = window or SyncWindow()

    attempts = 3
    for attempt in range(attempts):
        try:
            with transaction.atomic():
                return SyncRun.objects.create(
                    tenant_id=connection.tenant_id,
                    product=connection.provider_key,
                    connection_id=connection.pk,
                    kind=kind,
                    trigger=trigger,
                    window_start=window.start,
                    window_end=window.end,
                    checkpoint={"high_water": _dt_to_json(high_water)},
                    stats=_empty_stats(),
                    created_at=now,
                )
        except IntegrityError:
            # The partial unique constraint: another run is queued or running.
            active = runs.filter(status__in=SyncRun.ACTIVE).first()
            if active is not None:
                return active
            if attempt == attempts - 1:  # it keeps finishing just before we look
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _last_high_water(*, connection: Connection, kind: str) -> datetime | None:
    """The high-water mark of the last succeeded run: each run carries the previous one forward."""
    checkpoint = (
        _runs_of(connection=connection, kind=kind)
        .filter(status=SyncRun.Status.SUCCEEDED)
        .order_by("-created_at", "-pk")
        .values_list("checkpoint", flat=True)
        .first()
    )
    return _dt_from_json((checkpoint or {}).get("high_water"))


# --- execute -------------------------------------------------------------------------


class _LeaseLost(Exception):
    """Our run was marked interrupted by someone else (we were presumed dead): stop."""


def sync_run_execute(
    *, run_id: int, on_page: Callable[[SyncProgress], None] | None = None
) -> SyncRun | None:
    """Claim a queued run and page through the provider until its window is done.

    Only one worker wins the claim (queued -> running in one conditional
    UPDATE); the others return the run untouched. Each page's upsert and the
    run's checkpoint, stats and heartbeat commit together. An exception fails
    the run with a redacted message and is not re-raised (the run is
    returned); Ctrl-C or a worker shutdown leaves it ``interrupted`` with its
    checkpoint and re-raises. Returns ``None`` if the run no longer exists.
    """
    now = timezone.now()
    claimed = SyncRun.objects.filter(pk=run_id, status=SyncRun.Status.QUEUED).update(
        status=SyncRun.Status.RUNNING, started_at=now, heartbeat_at=now
    )
    run = SyncRun.objects.filter(pk=run_id).first()
    if not claimed or run is None:
        return run

    stats = {**_empty_stats(), **{k: v for k, v in run.stats.items() if k in STAT_KEYS}}
    connection: Connection | None = None
    try:
        sync_kind = sync_kinds.get(run.product, run.kind)
        connection = _connection_for(run)
        state = _initial_state(run=run, sync_kind=sync_kind)
        _run_pages(
            run=run,
            sync_kind=sync_kind,
            connection=connection,
            state=state,
            stats=stats,
            on_page=on_page,
        )
        finished = timezone.now()
        with transaction.atomic():
            done = SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.RUNNING).update(
                status=SyncRun.Status.SUCCEEDED,
                finished_at=finished,
                heartbeat_at=finished,
                checkpoint=state,
                stats=stats,
                error="",
            )
            if done:
                type(connection).objects.filter(pk=connection.pk).update(last_sync_at=finished)
        if done:
            logger.info(
                "sync %s/%s run=%s succeeded %s", run.product, run.kind, run.pk, _stats_text(stats)
            )
    except _LeaseLost:
        logger.warning(
            "sync %s/%s run=%s stopped: it was marked interrupted while running",
            run.product,
            run.kind,
            run.pk,
        )
    except Exception as exc:
        stats["errors"] += 1
        message = sync_error_text(exc, secrets=_connection_secrets(connection))
        SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.RUNNING).update(
            status=SyncRun.Status.FAILED, finished_at=timezone.now(), error=message, stats=stats
        )
        # The frames, not the message: the message is what may carry a token.
        logger.error(
            "sync %s/%s run=%s failed: %s\n%s",
            run.product,
            run.kind,
            run.pk,
            message,
            "".join(traceback.format_list(traceback.extract_tb(exc.__traceback__))),
        )
    except BaseException as exc:  # KeyboardInterrupt, SystemExit: stop, keep the checkpoint
        SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.RUNNING).update(
            status=SyncRun.Status.INTERRUPTED,
            finished_at=timezone.now(),
            error=f"Interrupted ({type(exc).__name__}); the next run resumes from the checkpoint.",
            stats=stats,
        )
        logger.warning("sync %s/%s run=%s interrupted", run.product, run.kind, run.pk)
        raise
    run.refresh_from_db()
    return run


def _connection_for(run: SyncRun) -> Connection:
    if run.product not in providers:
        raise LookupError(f"No provider {run.product!r} is registered.")
    connection = providers.get(run.product).model.objects.filter(pk=run.connection_id).first()
    if connection is None:
        raise LookupError(f"Connection {run.connection_id} of {run.product} no longer exists.")
    if not connection.is_live:
        raise LookupError(f"Connection {run.connection_id} of {run.product} is disconnected.")
    return connection


def _initial_state(*, run: SyncRun, sync_kind: SyncKind) -> dict[str, Any]:
    """The checkpoint to start from: the last failed/interrupted run's, if its window matches."""
    previous = (
        SyncRun.objects.filter(
            product=run.product,
            connection_id=run.connection_id,
            kind=run.kind,
            window_start=run.window_start,
            window_end=run.window_end,
            created_at__lte=run.created_at,
        )
        .exclude(pk=run.pk)
        .exclude(status__in=SyncRun.ACTIVE)
        .order_by("-created_at", "-pk")
        .only("pk", "status", "checkpoint")
        .first()
    )
    resumable = (SyncRun.Status.FAILED, SyncRun.Status.INTERRUPTED)
    if previous is not None and previous.status in resumable and previous.checkpoint.get("windows"):
        state = dict(previous.checkpoint)
        state["resumed_from"] = previous.pk
        state["pages"] = 0
        # The high-water mark only grows: keep ours if the last success moved it further.
        state["high_water"] = _dt_to_json(
            _max_dt(
                _dt_from_json(state.get("high_water")),
                _dt_from_json(run.checkpoint.get("high_water")),
            )
        )
        logger.info(
            "sync %s/%s run=%s resumes run=%s at window %s page %s",
            run.product,
            run.kind,
            run.pk,
            previous.pk,
            state.get("window_index", 0) + 1,
            state.get("page", 0) + 1,
        )
        return state

    window = SyncWindow(run.window_start, run.window_end)
    if sync_kind.window_step and window.start and window.end is None:
        window = SyncWindow(window.start, timezone.now())  # fixed now, so a resume asks the same
    pieces = window.split(sync_kind.window_step)
    return {
        "windows": [piece.to_json() for piece in pieces],
        "window_index": 0,
        "window": pieces[0].to_json(),
        "cursor": {},
        "page": 0,
        "pages": 0,
        "high_water": run.checkpoint.get("high_water"),
        "resumed_from": None,
    }


def _run_pages(
    *,
    run: SyncRun,
    sync_kind: SyncKind,
    connection: Connection,
    state: dict[str, Any],
    stats: dict[str, int],
    on_page: Callable[[SyncProgress], None] | None,
) -> None:
    """The loop: fetch, convert, upsert and checkpoint, one transaction per page.

    ``state`` and ``stats`` are updated in place only after a page committed,
    so on failure they hold exactly what the database holds.
    """
    model = sync_kind.target_model()
    windows = [SyncWindow.from_json(w) for w in state["windows"]]
    while state["window_index"] < len(windows):
        window = windows[state["window_index"]]
        page = sync_kind.fetch_page(
            connection=connection, cursor=dict(state["cursor"]), window=window
        )
        synced_at = timezone.now()
        converted = sync_kind.to_rows(connection=connection, items=page.items, synced_at=synced_at)
        if isinstance(converted, list):
            converted = Rows(rows=converted)
        skipped = _account_skips(run=run, page=page, converted=converted)

        new_state = dict(state, page=state["page"] + 1, pages=state["pages"] + 1)
        new_state["high_water"] = _dt_to_json(
            _max_dt(_dt_from_json(state.get("high_water")), page.high_water)
        )
        if page.next_cursor is None:
            new_state.update(window_index=state["window_index"] + 1, cursor={}, page=0)
            if new_state["window_index"] < len(windows):
                new_state["window"] = windows[new_state["window_index"]].to_json()
        else:
            new_state["cursor"] = page.next_cursor

        with transaction.atomic():
            result = bulk_upsert(
                model=model, rows=converted.rows, unique_fields=sync_kind.unique_fields
            )
            if sync_kind.after_upsert is not None and converted.rows:
                sync_kind.after_upsert(
                    connection=connection, rows=converted.rows, synced_at=synced_at
                )
            new_stats = dict(
                stats,
                fetched=stats["fetched"] + len(page.items),
                created=stats["created"] + result.created,
                updated=stats["updated"] + result.updated,
                skipped=stats["skipped"] + skipped,
            )
            beat = SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.RUNNING).update(
                checkpoint=new_state, stats=new_stats, heartbeat_at=synced_at
            )
            if not beat:
                raise _LeaseLost
        progress = SyncProgress(
            run_id=run.pk,
            window_index=state["window_index"],
            window_count=len(windows),
            page=state["page"] + 1,
            total_pages=page.total_pages,
            stats=dict(new_stats),
            resumed_from=state.get("resumed_from"),
        )
        state.update(new_state)
        stats.update(new_stats)
        if on_page is not None:
            on_page(progress)


def _account_skips(*, run: SyncRun, page: Page, converted: Rows) -> int:
    """Count and log the records ``to_rows`` refused, and any it lost without saying."""
    skipped = list(converted.skipped)
    unaccounted = len(page.items) - len(converted.rows) - len(skipped)
    if unaccounted > 0:
        skipped.append(
            Skip(item=f"{unaccounted} record(s)", reason="dropped by to_rows without a reason")
        )
    for skip in skipped[:SKIP_LOG_LIMIT]:
        logger.warning(
            "sync %s/%s run=%s skipped %s: %s",
            run.product,
            run.kind,
            run.pk,
            skip.item,
            skip.reason,
        )
    if len(skipped) > SKIP_LOG_LIMIT:
        logger.warning(
            "sync %s/%s run=%s skipped %s more on this page",
            run.product,
            run.kind,
            run.pk,
            len(skipped) - SKIP_LOG_LIMIT,
        )
    return len(converted.skipped) + max(unaccounted, 0)


# --- inline ---------------------------------------------------------------------------


def sync_run_for_connection_now(
    *,
    connection: Connection,
    kind: str,
    trigger: str,
    window: SyncWindow | None = None,
    on_page: Callable[[SyncProgress], None] | None = None,
) -> SyncRun:
    """Start and execute a run in this process (commands, admin actions, tests).

    If another run of this kind is already running, or queued for a different
    window, it is returned untouched: check its status.
    """
    run = sync_run_start(connection=connection, kind=kind, trigger=trigger, window=window)
    same_window = window is None or (run.window_start, run.window_end) == (window.start, window.end)
    if run.status != SyncRun.Status.QUEUED or not same_window:
        return run
    return sync_run_execute(run_id=run.pk, on_page=on_page) or run


# --- errors -----------------------------------------------------------------------------


def sync_error_text(exc: BaseException, *, secrets: Iterable[str] = ()) -> str:
    """A short, token-free description of ``exc`` for ``SyncRun.error``.

    Provider errors often echo the request (URL with ``access_token=...``,
    headers): the shared redaction module removes known secrets and anything
    shaped like a credential, then the text is capped at :data:`ERROR_MAX_LENGTH`.
    """
    text = redact_text(f"{type(exc).__name__}: {exc}", secrets=secrets)
    text = " ".join(text.split())
    if len(text) > ERROR_MAX_LENGTH:
        text = text[: ERROR_MAX_LENGTH - 1] + "…"
    return text


def _connection_secrets(connection: Connection | None) -> list[str]:
    if connection is None:
        return []
    secrets = []
    for name in ("access_token", "refresh_token"):
        value = getattr(connection, name, None)
        try:
            secrets.append(value.reveal() if value else "")
        except Exception:  # noqa: S112 - an undecryptable secret cannot leak
            continue
    return secrets


# --- helpers ----------------------------------------------------------------------------


def _empty_stats() -> dict[str, int]:
    return dict.fromkeys(STAT_KEYS, 0)


def _stats_text(stats: dict[str, int]) -> str:
    return " ".join(f"{key}={stats.get(key, 0)}" for key in STAT_KEYS)


def _dt_to_json(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dt_from_json(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _max_dt(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(a, b)
