"""``/webhooks/<source>/``: verify, store once, answer at once.

Deliberately thin and cheap: no session, no tenant lookup, no handler work.
A bad signature is answered 401 before the body is parsed, and nothing of it
is stored.
"""

from __future__ import annotations

from dataclasses import replace

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .registry import InvalidPayload, webhooks
from .services import drain_kicker, events_store


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
    body = request.body
    if not source.verify(request, body):
        return JsonResponse({"error": "invalid signature"}, status=401)
    try:
        incoming = source.split(body)
    except InvalidPayload as exc:
        return JsonResponse({"error": str(exc) or "invalid payload"}, status=400)
    if route_key:
        incoming = [replace(e, account_ref=e.account_ref or route_key) for e in incoming]
    received = events_store(source_key=source.key, incoming=incoming)
    if received:
        drain_kicker.kick()
    return JsonResponse({"received": received})
