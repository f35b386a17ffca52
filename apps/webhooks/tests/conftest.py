import hashlib
import hmac
import json

import pytest
from django.http import HttpResponse

from apps.integrations.observability import correlation_id
from apps.webhooks.registry import IncomingEvent, InvalidPayload, UnknownAccount, WebhookSource
from apps.webhooks.registry import webhooks as registry
from apps.webhooks.services import drain_kicker

SECRET = b"test-webhook-secret"
HANDLED: list[int] = []
HANDLED_UNDER: list[str] = []  # the correlation id each handled event ran under


def sign(body: bytes) -> str:
    return hmac.new(SECRET, body, hashlib.sha256).hexdigest()


def _verify(request, body: bytes) -> bool:
    given = request.headers.get("X-Test-Signature", "")
    return hmac.compare_digest(given, sign(body))


def _split(body: bytes) -> list[IncomingEvent]:
    try:
        data = json.loads(body)
        return [
            IncomingEvent(
                event_id=item["id"],
                event_type=item["type"],
                account_ref=item.get("account", ""),
                payload=item,
            )
            for item in data["events"]
        ]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidPayload("expected {'events': [{'id', 'type'}]}") from exc


def _handshake(request):
    return HttpResponse(request.GET.get("challenge", ""), content_type="text/plain")


def handle_ok(event) -> None:
    """Routes account 'known' to the tenant id in the payload; anything else is unknown."""
    if event.account_ref != "known":
        raise UnknownAccount(f"no tenant has account {event.account_ref!r}")
    event.tenant_id = event.payload["tenant"]
    HANDLED.append(event.pk)
    HANDLED_UNDER.append(correlation_id())


def handle_boom(event) -> None:
    raise RuntimeError("provider said no")


@pytest.fixture
def test_source(monkeypatch):
    """A webhook source of the test's own, registered for the test only."""
    HANDLED.clear()
    HANDLED_UNDER.clear()
    drain_kicker.reset()
    source = WebhookSource(
        key="test-source", label="Test", verify=_verify, split=_split, handshake=_handshake
    )
    monkeypatch.setitem(registry._sources, source.key, source)
    here = "apps.webhooks.tests.conftest"
    monkeypatch.setitem(registry._handlers, (source.key, "ok"), f"{here}.handle_ok")
    monkeypatch.setitem(registry._handlers, (source.key, "boom"), f"{here}.handle_boom")
    return source


@pytest.fixture
def post_events(client):
    def post(events, *, signature=None, source="test-source"):
        body = json.dumps({"events": events}).encode()
        headers = {"HTTP_X_TEST_SIGNATURE": sign(body) if signature is None else signature}
        return client.post(
            f"/webhooks/{source}/", data=body, content_type="application/json", **headers
        )

    return post
