"""Where product apps plug into the webhook inbox.

A product app registers, in its ``AppConfig.ready()`` (from its ``webhooks.py``):

- one :class:`WebhookSource` per URL (``/webhooks/<key>/``): how to verify a
  delivery over its raw body and how to split the body into events, each with
  a stable id so a redelivery is stored once;
- a handler per event type: a dotted path to ``handler(event)`` that the drain
  task calls with one :class:`~apps.webhooks.models.WebhookEvent`;
- optionally, on the source, ``prepare(events)``: a context manager the drain
  enters around the handlers of each claimed batch's events of that source, to
  do in one query or one API call what the handlers would otherwise do per
  event (route a batch of pushes to their shops, refetch 50 orders a call).
  It is an optimisation only: handlers must stay correct without it, and a
  ``prepare`` that fails is logged and skipped.

The inbox itself never names a product. A handler that cannot tell which
tenant an event belongs to raises :class:`UnknownAccount`: the event is kept
and flagged ``unroutable``, never processed. Any other exception is a failure
to retry with backoff.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from .models import WebhookEvent


class UnknownAccount(Exception):
    """The event names an account (shop, phone number, ...) no tenant has connected."""


class InvalidPayload(ValueError):
    """A correctly signed body that cannot be split into events (answered 400)."""


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise InvalidPayload("a number out of range")
    return value


def _refuse_constant(name: str) -> Any:
    raise InvalidPayload(f"{name} is not JSON")


def _check_storable(value: Any) -> None:
    """No NUL characters and no lone surrogates anywhere (keys included).

    Both are legal in Python's JSON but cannot be stored: PostgreSQL's text and
    jsonb refuse NUL, and a lone surrogate is not encodable as UTF-8 (any database).
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise InvalidPayload("a NUL character")
            try:
                item.encode()
            except UnicodeEncodeError:
                raise InvalidPayload("a lone surrogate (invalid Unicode)") from None
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def json_body(body: bytes) -> Any:
    """Parse a delivery body as strict JSON, or raise :class:`InvalidPayload`.

    Every source's ``split`` should start here: Python's ``json.loads`` accepts
    ``NaN``/``Infinity`` (and turns ``1e400`` into infinity), lets a deeply
    nested body raise ``RecursionError`` and keeps NUL characters and lone
    surrogates, all of which would otherwise end in a 500 when the event is
    stored rather than the 400 a malformed delivery deserves.
    """
    try:
        data = json.loads(body, parse_constant=_refuse_constant, parse_float=_finite)
    except InvalidPayload:
        raise
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise InvalidPayload("the body is not JSON") from exc
    _check_storable(data)
    return data


@dataclass(frozen=True)
class IncomingEvent:
    """One event taken out of a verified delivery body."""

    event_id: str
    event_type: str
    payload: dict[str, Any]
    #: the provider's account the event is about (shop id, phone number id, ...)
    account_ref: str = ""
    #: when the provider says the event happened, if it says
    occurred_at: Any = None


@dataclass(frozen=True)
class WebhookSource:
    """One webhook endpoint: ``/webhooks/<key>/``.

    ``verify(request, body)`` must compare signatures in constant time
    (``hmac.compare_digest``) over the raw ``body`` bytes and return False for
    a missing or wrong signature. ``split(body)`` returns the events of a
    verified body or raises :class:`InvalidPayload`. ``handshake(request)``,
    when set, answers GET (Meta's subscription verification). A ``routed``
    source is also served at ``/webhooks/<key>/<route_key>/``.
    """

    key: str
    label: str
    verify: Callable[[HttpRequest, bytes], bool]
    split: Callable[[bytes], list[IncomingEvent]]
    handshake: Callable[[HttpRequest], HttpResponse] | None = None
    #: served also at ``/webhooks/<key>/<route_key>/``: a per-tenant URL token that
    #: becomes the events' ``account_ref`` (and ``request.resolver_match.kwargs``)
    routed: bool = False
    #: entered around the handlers of a claimed batch's events of this source (see the
    #: module's docstring)
    prepare: Callable[[list[WebhookEvent]], AbstractContextManager] | None = None


@dataclass
class WebhookRegistry:
    _sources: dict[str, WebhookSource] = field(default_factory=dict)
    _handlers: dict[tuple[str, str], str] = field(default_factory=dict)

    def register_source(self, source: WebhookSource) -> WebhookSource:
        self._sources[source.key] = source
        return source

    def register_handler(self, source_key: str, event_type: str, handler_path: str) -> None:
        """``handler_path`` is a dotted path to ``handler(event: WebhookEvent) -> None``."""
        self._handlers[(source_key, event_type)] = handler_path

    def source(self, key: str) -> WebhookSource | None:
        return self._sources.get(key)

    def sources(self) -> list[WebhookSource]:
        return list(self._sources.values())

    def handler(self, source_key: str, event_type: str) -> Callable[[WebhookEvent], None] | None:
        path = self._handlers.get((source_key, event_type))
        return import_string(path) if path else None


webhooks = WebhookRegistry()
