"""django-q2 entry points of the conversions dispatcher. Safe to run twice, or in parallel."""

from __future__ import annotations

from dataclasses import fields

from django.utils import timezone

from . import services
from .dispatch import dispatch as dispatch_events

#: A task stops taking new batches after this many seconds (django-q2's timeout is 600 s);
#: what is left is taken by the next run, a minute later at most.
TIME_BUDGET_SECONDS = 50.0


def _counts(result) -> dict[str, int]:
    return {
        f.name: getattr(result, f.name)
        for f in fields(result)
        if f.name != "requests_by_destination"
    }


def dispatch() -> dict[str, int]:
    """Queued after new events commit (throttled): send what is due."""
    return _counts(dispatch_events(time_budget=TIME_BUDGET_SECONDS))


def sweep() -> dict[str, int]:
    """Every minute: rows for moves whose signal was lost, then everything due (retries too)."""
    created = services.stage_changes_reconcile(since=timezone.now() - services.RECONCILE_WINDOW)
    counts = _counts(dispatch_events(time_budget=TIME_BUDGET_SECONDS))
    counts["reconciled"] = created
    return counts
