"""Correlation ids and structured logs.

Every request gets a correlation id (the caller's ``X-Request-ID`` when it is
well formed, else a new one), echoed in the response. Tasks queued while it is
set carry it (django-q2's ``pre_enqueue`` adds it to the task package,
``pre_execute`` restores it in the worker), and webhook events store the id of
the delivery that brought them, so a log line of the work an event caused can
be traced back to the delivery. Log records get it as ``correlation_id``; in
production they are written as one JSON object per line.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from django.http import HttpRequest, HttpResponse

HEADER = "X-Request-ID"
_VALID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_current: contextvars.ContextVar[str] = contextvars.ContextVar("correlation_id", default="")


def correlation_id() -> str:
    return _current.get()


def new_correlation_id() -> str:
    return uuid.uuid4().hex


@contextmanager
def correlated(value: str | None) -> Iterator[str]:
    """Run a block under ``value`` (or a new id), restoring the previous one after."""
    token = _current.set(value or new_correlation_id())
    try:
        yield _current.get()
    finally:
        _current.reset(token)


class CorrelationIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get(HEADER, "")
        with correlated(given if _VALID.match(given) else None) as cid:
            request.correlation_id = cid
            response = self.get_response(request)
        response.headers[HEADER] = cid
        return response


class CorrelationFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = _current.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, correlation id, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "correlation_id": getattr(record, "correlation_id", "-"),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def task_pre_enqueue(sender, task: dict, **kwargs) -> None:
    """django-q2 signal: the task carries the id of the request or task that queued it."""
    task["correlation_id"] = _current.get() or new_correlation_id()


def task_pre_execute(sender, task: dict, **kwargs) -> None:
    """django-q2 signal, in the worker: log lines of this task carry its id.

    A worker runs one task at a time per process, so setting the context
    variable here holds until the next task's ``pre_execute``.
    """
    _current.set(task.get("correlation_id") or new_correlation_id())
