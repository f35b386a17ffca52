"""The API call log: path only, redacted errors, best effort, pruned in batches."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from apps.integrations.calllog import api_call_log_prune, api_call_record, call_log_path
from apps.integrations.models import ApiCallLog
from apps.integrations.redaction import REDACTED

pytestmark = pytest.mark.django_db

META_TOKEN = "EAAGm0PX4ZCpsBAKZCZBzZC9ZAexampletoken"


def record(**overrides) -> ApiCallLog | None:
    values = {
        "tenant": None,
        "product": "meta_ads",
        "method": "get",
        "url": "https://graph.facebook.com/v25.0/act_123/insights"
        f"?access_token={META_TOKEN}&appsecret_proof=deadbeef&client_secret=shh",
        "status_code": 400,
        "provider_code": "190/463",
        "request_id": "AbCdEfTrace",
        "duration_ms": 87,
        "attempt": 2,
        "error": f"Error validating access token {META_TOKEN} (client_secret=shh)",
    }
    values.update(overrides)
    return api_call_record(**values)


def test_a_row_keeps_the_path_and_drops_the_query_string(tenant_a):
    row = record(tenant=tenant_a)

    row = ApiCallLog.objects.get(pk=row.pk)
    assert row.path == "/v25.0/act_123/insights"
    assert row.method == "GET"
    assert (row.status_code, row.provider_code, row.request_id) == (400, "190/463", "AbCdEfTrace")
    assert (row.duration_ms, row.attempt, row.tenant_id) == (87, 2, tenant_a.pk)


def test_no_column_holds_a_secret():
    row = record()

    values = ApiCallLog.objects.filter(pk=row.pk).values().get()
    for value in values.values():
        text = str(value)
        for secret in (META_TOKEN, "deadbeef", "shh"):
            assert secret not in text
    assert REDACTED in values["error"]


def test_long_values_are_clipped_to_the_columns():
    row = record(url="https://x.test/" + "x" * 900, error="e" * 5000, request_id="r" * 300)

    row.refresh_from_db()
    assert len(row.path) == 500
    assert len(row.request_id) == 128
    assert len(row.error) <= 1000


def test_the_path_helper_ignores_host_query_and_fragment():
    assert call_log_path("https://h.test/a/b/?sign=x#frag") == "/a/b/"
    assert call_log_path("https://h.test") == "/"


def test_a_failed_insert_logs_a_warning_and_keeps_the_callers_transaction(monkeypatch, caplog):
    existing = record()
    original_save = ApiCallLog.save

    def collide(self, *args, **kwargs):
        self.pk = existing.pk  # a real IntegrityError from the database
        return original_save(self, *args, **kwargs)

    with transaction.atomic():
        monkeypatch.setattr(ApiCallLog, "save", collide)
        with caplog.at_level(logging.WARNING, logger="apps.integrations.calllog"):
            assert record() is None
        monkeypatch.setattr(ApiCallLog, "save", original_save)
        assert record() is not None  # the transaction is still usable

    assert ApiCallLog.objects.count() == 2
    assert "api call log write failed" in caplog.text
    assert "IntegrityError" in caplog.text
    assert META_TOKEN not in caplog.text


def test_prune_deletes_old_rows_in_batches_and_keeps_recent_ones():
    now = timezone.now()
    old = [
        ApiCallLog(product="p", method="GET", path="/old", created_at=now - timedelta(days=40))
        for _ in range(7)
    ]
    recent = ApiCallLog(product="p", method="GET", path="/new", created_at=now - timedelta(days=1))
    ApiCallLog.objects.bulk_create([*old, recent])

    deleted = api_call_log_prune(older_than=timedelta(days=30), batch_size=3)

    assert deleted == 7
    assert list(ApiCallLog.objects.values_list("path", flat=True)) == ["/new"]
    assert api_call_log_prune(older_than=timedelta(days=30)) == 0
