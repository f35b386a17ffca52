from unittest import mock

import pytest

from apps.webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db


def test_signed_delivery_is_stored_and_answered_200(test_source, post_events):
    response = post_events([{"id": "e1", "type": "ok", "account": "known", "tenant": 1}])

    assert response.status_code == 200
    assert response.json() == {"received": 1}
    event = WebhookEvent.objects.get()
    assert (event.source, event.event_id, event.event_type) == ("test-source", "e1", "ok")
    assert event.account_ref == "known"
    assert event.status == WebhookEvent.Status.RECEIVED


def test_redelivery_is_stored_once(test_source, post_events):
    events = [{"id": "e1", "type": "ok"}, {"id": "e2", "type": "ok"}]
    post_events(events)
    post_events(events)
    post_events([{"id": "e2", "type": "ok"}, {"id": "e3", "type": "ok"}])

    assert sorted(WebhookEvent.objects.values_list("event_id", flat=True)) == ["e1", "e2", "e3"]


@pytest.mark.parametrize("signature", ["", "0" * 64, "deadbeef"])
def test_bad_or_missing_signature_is_401_and_stores_nothing(test_source, post_events, signature):
    response = post_events([{"id": "e1", "type": "ok"}], signature=signature)

    assert response.status_code == 401
    assert not WebhookEvent.objects.exists()


def test_signature_off_by_one_character_is_refused(test_source, client):
    from .conftest import sign

    body = b'{"events": [{"id": "e1", "type": "ok"}]}'
    good = sign(body)
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    response = client.post(
        "/webhooks/test-source/", data=body, content_type="application/json",
        HTTP_X_TEST_SIGNATURE=bad,
    )  # fmt: skip

    assert response.status_code == 401
    assert not WebhookEvent.objects.exists()


def test_signature_is_checked_over_the_raw_body(test_source, client):
    """Re-serialising the JSON (spaces, key order) would break a real signature."""
    from .conftest import sign

    raw = b'{"events":[{"type":"ok","id":"e1"}]}'
    reserialised = b'{"events": [{"id": "e1", "type": "ok"}]}'
    response = client.post(
        "/webhooks/test-source/", data=reserialised, content_type="application/json",
        HTTP_X_TEST_SIGNATURE=sign(raw),
    )  # fmt: skip

    assert response.status_code == 401


def test_signed_but_malformed_body_is_400_and_stores_nothing(test_source, client):
    from .conftest import sign

    body = b'{"not": "events"}'
    response = client.post(
        "/webhooks/test-source/", data=body, content_type="application/json",
        HTTP_X_TEST_SIGNATURE=sign(body),
    )  # fmt: skip

    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


def test_unknown_source_is_404(client):
    assert (
        client.post("/webhooks/nobody/", data=b"{}", content_type="application/json").status_code
        == 404
    )


def test_get_is_the_sources_handshake(test_source, client):
    response = client.get("/webhooks/test-source/", {"challenge": "1158201444"})

    assert response.status_code == 200
    assert response.content == b"1158201444"


def test_other_methods_are_405(test_source, client):
    assert client.put("/webhooks/test-source/").status_code == 405


def test_deliveries_queue_one_drain_per_kick_interval(
    test_source, post_events, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOKS_DRAIN_KICK_INTERVAL = 60
    with (
        mock.patch("apps.webhooks.services._queue_drain") as queue,
        django_capture_on_commit_callbacks(execute=True),
    ):
        for n in range(5):
            post_events([{"id": f"e{n}", "type": "ok"}])

    assert queue.call_count == 1
    assert WebhookEvent.objects.count() == 5


def test_csrf_does_not_apply_to_webhooks(test_source, post_events, client):
    client.handler.enforce_csrf_checks = True

    assert post_events([{"id": "e1", "type": "ok"}]).status_code == 200


def test_routed_url_sets_the_account_of_its_events(test_source, client, monkeypatch):
    from dataclasses import replace

    from apps.webhooks.registry import webhooks as registry

    from .conftest import sign

    monkeypatch.setitem(registry._sources, "test-source", replace(test_source, routed=True))
    body = b'{"events": [{"id": "e1", "type": "ok"}]}'
    response = client.post(
        "/webhooks/test-source/tenant-token-123/", data=body, content_type="application/json",
        HTTP_X_TEST_SIGNATURE=sign(body),
    )  # fmt: skip

    assert response.status_code == 200
    assert WebhookEvent.objects.get().account_ref == "tenant-token-123"


def test_routed_url_is_404_for_a_source_that_does_not_opt_in(test_source, post_events, client):
    response = client.post(
        "/webhooks/test-source/anything/", data=b"{}", content_type="application/json"
    )

    assert response.status_code == 404


def test_oversized_body_is_413_before_it_is_read(test_source, client, settings):
    settings.WEBHOOKS_MAX_BODY = 100
    body = b'{"events": [{"id": "e1", "type": "ok", "pad": "' + b"x" * 200 + b'"}]}'
    from .conftest import sign

    response = client.post(
        "/webhooks/test-source/", data=body, content_type="application/json",
        HTTP_X_TEST_SIGNATURE=sign(body),
    )  # fmt: skip

    assert response.status_code == 413
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_non_json_content_type_is_415(test_source, client, content_type):
    from .conftest import sign

    body = b'{"events": [{"id": "e1", "type": "ok"}]}'
    response = client.post(
        "/webhooks/test-source/", data=body, content_type=content_type,
        HTTP_X_TEST_SIGNATURE=sign(body),
    )  # fmt: skip

    assert response.status_code == 415
    assert not WebhookEvent.objects.exists()


def test_json_with_charset_is_accepted(test_source, client):
    from .conftest import sign

    body = b'{"events": [{"id": "e1", "type": "ok"}]}'
    response = client.post(
        "/webhooks/test-source/", data=body, content_type="application/json; charset=utf-8",
        HTTP_X_TEST_SIGNATURE=sign(body),
    )  # fmt: skip

    assert response.status_code == 200


def test_events_keep_the_correlation_id_of_their_delivery(test_source, client):
    from apps.webhooks.services import drain

    from .conftest import HANDLED_UNDER, sign

    body = b'{"events": [{"id": "e1", "type": "ok", "account": "known", "tenant": null}]}'
    client.post(
        "/webhooks/test-source/", data=body, content_type="application/json",
        HTTP_X_TEST_SIGNATURE=sign(body), HTTP_X_REQUEST_ID="delivery-0000042",
    )  # fmt: skip
    drain()

    assert WebhookEvent.objects.get().correlation_id == "delivery-0000042"
    assert HANDLED_UNDER == ["delivery-0000042"]


def test_metrics_count_stored_events_and_refused_deliveries(
    test_source, post_events, client, settings
):
    settings.DEBUG = True
    settings.METRICS_TOKEN = ""
    post_events([{"id": "e1", "type": "ok"}])
    post_events([{"id": "e2", "type": "ok"}], signature="bad")
    post_events([{"id": "e3", "type": "ok"}], signature="bad")

    text = client.get("/metrics").content.decode()

    assert 'hub_webhook_events{source="test-source",status="received"} 1' in text
    assert (
        'hub_webhook_deliveries_rejected_total{reason="signature",source="test-source"} 2' in text
    )
