import json
import logging

import pytest

from apps.integrations.observability import (
    CorrelationFilter,
    JsonFormatter,
    correlated,
    correlation_id,
    task_pre_enqueue,
    task_pre_execute,
)

pytestmark = pytest.mark.django_db


def test_each_response_carries_a_new_correlation_id(client):
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/healthz")["X-Request-ID"]

    assert len(first) == 32 and first != second


def test_a_well_formed_caller_id_is_kept_and_a_hostile_one_replaced(client):
    kept = client.get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a9c2e-0001")
    replaced = client.get("/healthz", HTTP_X_REQUEST_ID="x\nInjected: yes")

    assert kept["X-Request-ID"] == "lb-7f3a9c2e-0001"
    assert replaced["X-Request-ID"] != "x\nInjected: yes"
    assert "\n" not in replaced["X-Request-ID"]


def test_log_lines_carry_the_correlation_id_as_json():
    record = logging.LogRecord(
        "apps.x", logging.WARNING, __file__, 1, "shop %s gone", ("s1",), None
    )
    with correlated("abc123def456"):
        CorrelationFilter().filter(record)

    line = json.loads(JsonFormatter().format(record))

    assert line["correlation_id"] == "abc123def456"
    assert line["message"] == "shop s1 gone"
    assert (line["level"], line["logger"]) == ("WARNING", "apps.x")


def test_tasks_carry_the_id_of_the_request_that_queued_them():
    task = {"func": "apps.x.tasks.y"}
    with correlated("request-id-0001"):
        task_pre_enqueue(sender="django_q", task=task)

    assert task["correlation_id"] == "request-id-0001"
    with correlated("other-id-00002"):
        task_pre_execute(sender="django_q", task=task)
        assert correlation_id() == "request-id-0001"
