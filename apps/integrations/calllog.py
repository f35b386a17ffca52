"""The API call log: one redacted row per attempt of every outbound provider call.

Only the URL *path* is stored, never the query string: query strings carry
secrets (TikTok Shop's ``app_secret`` and ``sign``, Meta's ``access_token``,
``client_secret`` and ``appsecret_proof``). Error text goes through
:mod:`apps.integrations.redaction`. Writing the log is best effort: a failure
is logged as a warning and never breaks the provider call it describes.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone

from .models import ApiCallLog
from .redaction import redact_text

if TYPE_CHECKING:
    from apps.tenants.models import Tenant

logger = logging.getLogger(__name__)

#: Longest error text kept per row; the rest is in the worker's log if anywhere.
ERROR_MAX_LENGTH = 1000
#: Rows deleted per statement by :func:`api_call_log_prune`, so a big purge
#: never holds a long lock on the table.
PRUNE_BATCH_SIZE = 5000


def _field_max(name: str) -> int:
    return ApiCallLog._meta.get_field(name).max_length


def _clip(value: object, limit: int) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def call_log_path(url: str) -> str:
    """The path of ``url`` as the log stores it: no scheme, host, query or fragment."""
    return redact_text(urlsplit(str(url)).path or "/")


def api_call_record(
    *,
    tenant: Tenant | int | None,
    product: str,
    method: str,
    url: str,
    status_code: int | None,
    provider_code: str,
    request_id: str,
    duration_ms: int,
    attempt: int,
    error: str,
) -> ApiCallLog | None:
    """Write one row for one attempt; returns None (and logs a warning) when it cannot."""
    tenant_id = tenant if isinstance(tenant, int) or tenant is None else tenant.pk
    row = ApiCallLog(
        tenant_id=tenant_id,
        product=_clip(product, _field_max("product")),
        method=_clip(str(method).upper(), _field_max("method")),
        path=_clip(call_log_path(url), _field_max("path")),
        status_code=status_code if status_code is not None and 0 <= status_code < 2**15 else None,
        provider_code=_clip(redact_text(provider_code), _field_max("provider_code")),
        request_id=_clip(request_id, _field_max("request_id")),  # the provider's id, kept whole
        duration_ms=max(int(duration_ms), 0),
        attempt=min(max(int(attempt), 1), 2**15 - 1),
        error=_clip(redact_text(error), ERROR_MAX_LENGTH),
    )
    try:
        # A savepoint: a failed insert must not poison the caller's transaction.
        with transaction.atomic():
            row.save(force_insert=True)
    except Exception as exc:
        logger.warning(
            "api call log write failed product=%s method=%s path=%s: %s",
            row.product,
            row.method,
            row.path,
            type(exc).__name__,
        )
        return None
    return row


def api_call_log_prune(*, older_than: timedelta, batch_size: int = PRUNE_BATCH_SIZE) -> int:
    """Delete rows older than ``older_than``, ``batch_size`` at a time; returns how many."""
    cutoff = timezone.now() - older_than
    deleted = 0
    while True:
        ids = list(
            ApiCallLog.objects.filter(created_at__lt=cutoff)
            .order_by()
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return deleted
        count, _by_model = ApiCallLog.objects.filter(pk__in=ids).delete()
        deleted += count
