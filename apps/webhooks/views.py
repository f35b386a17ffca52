"""``/webhooks/<source>/``: verify, store once, answer at once.

Deliberately thin and cheap: no session, no tenant lookup, no handler work.
A bad signature is answered 401 before the body is parsed, and nothing of it
is stored.
"""

from __future__ import annotations

from dataclasses import replace

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from apps.integrations.metrics import counter_increment

from .metrics import REJECTED
from .registry import InvalidPayload, webhooks
from .services import drain_kicker, events_store


def _refuse_before_reading(request: HttpRequest) -> HttpResponse | None:
    """413 for a body over ``WEBHOOKS_MAX_BODY`` and 415 for a non-JSON one, unread."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return JsonResponse({"error": "invalid Content-Length"}, status=400)
    if length > settings.WEBHOOKS_MAX_BODY:
        return _refused(request, "too_large", "body too large", 413)
    if request.content_type != "application/json":
        return _refused(request, "content_type", "expected application/json", 415)
    return None


def _refused(request: HttpRequest, reason: str, message: str, status: int) -> JsonResponse:
    counter_increment(REJECTED, source=request.resolver_match.kwargs["source_key"], reason=reason)
    return JsonResponse({"error": message}, status=status)


@csrf_exempt
def receive(request: HttpRequest, source_key: str, route_key: str = "") -> HttpResponse:
    """``route_key`` (a per-tenant URL token) becomes the events' ``account_ref``
    when the source's ``split`` leaves it empty; a source must opt in to it."""
    source = webhooks.source(source_key)
    if source is None or (route_key and not source.routed):
        raise Http404
    if request.method == "GET" and source.handshake is not None:
        return source.handshake(request)
    if request.method != "POST":
        return HttpResponse(status=405, headers={"Allow": "POST"})
    refusal = _refuse_before_reading(request)
    if refusal is not None:
        return refusal
    body = request.body
    if not source.verify(request, body):
        return _refused(request, "signature", "invalid signature", 401)
    try:
        incoming = source.split(body)
    except InvalidPayload as exc:
        return _refused(request, "payload", str(exc) or "invalid payload", 400)
    if route_key:
        incoming = [replace(e, account_ref=e.account_ref or route_key) for e in incoming]
    received = events_store(source_key=source.key, incoming=incoming)
    if received:
        drain_kicker.kick()
    return JsonResponse({"received": received})
