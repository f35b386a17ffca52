"""Returns and refunds: sync, webhook refetch, and the seller's approve / reject decisions.

**Sync** (kind ``returns``): ``POST /return_refund/202309/returns/search`` by
update-time window, sorted by ``update_time`` ascending, 50 a page (the
API's maximum), shop by shop like orders, every 30 minutes; an incremental
run starts at the last high-water mark minus :data:`RETURNS_OVERLAP`. Rows
land on ``(shop, return_id)``; the order they belong to is linked in one
UPDATE per page (:func:`returns_after_upsert`).

**Webhook** type 12 (RETURN_STATUS_CHANGE) is noted on the order's history
(see ``webhooks.on_return_change``) and the return is fetched again by id
(:func:`return_refresh`).

**Decisions**: the decision sent follows the return's type and status
(:func:`decision_for`); a reject takes a reason *name* from ``GET
/return_refund/202309/reject_reasons``. Every call carries a fresh
``idempotency_key`` (reused by the client's retries of that call), and every
attempt, accepted or refused, is an :class:`~apps.integrations.models.AuditEntry`
(who, when, decision, reason, outcome).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.integrations.http import PermissionDenied, ProviderError, RateLimited, TokenExpired
from apps.integrations.models import AuditEntry
from apps.integrations.redaction import redact_text
from apps.integrations.sync import Page, Rows, Skip, SkipItem, SyncKind, SyncWindow
from apps.integrations.upsert import bulk_upsert

from .models import Order, ReturnRequest, Shop, TikTokShopConnection
from .orders import SHOP_KEY, _money, _text, unix_seconds, unix_time

logger = logging.getLogger(__name__)

PRODUCT = "tiktok_shop"
READ_SCOPE = "seller.return_refund.basic"
RETURN_UNIQUE = ("shop", "return_id")
#: The search takes 10 to 50 a page; the most, to make the fewest calls.
RETURNS_PAGE_SIZE = 50
RETURNS_OVERLAP = timedelta(minutes=10)
RETURNS_WINDOW_STEP = timedelta(days=7)
RETURNS_SCHEDULE_MINUTES = 30

#: (type, status) -> the approve decision TikTok expects (contract §3.6).
APPROVE_DECISIONS: dict[tuple[str, str], str] = {
    ("REFUND", "RETURN_OR_REFUND_REQUEST_PENDING"): "APPROVE_REFUND",
    ("RETURN_AND_REFUND", "RETURN_OR_REFUND_REQUEST_PENDING"): "APPROVE_RETURN",
    ("RETURN_AND_REFUND", "BUYER_SHIPPED_ITEM"): "APPROVE_RECEIVED_PACKAGE",
    ("REPLACEMENT", "REPLACEMENT_REQUEST_PENDING"): "APPROVE_REPLACEMENT",
}
REJECT_DECISIONS: dict[tuple[str, str], str] = {
    ("REFUND", "RETURN_OR_REFUND_REQUEST_PENDING"): "REJECT_REFUND",
    ("RETURN_AND_REFUND", "RETURN_OR_REFUND_REQUEST_PENDING"): "REJECT_RETURN",
    ("RETURN_AND_REFUND", "BUYER_SHIPPED_ITEM"): "REJECT_RECEIVED_PACKAGE",
    ("REPLACEMENT", "REPLACEMENT_REQUEST_PENDING"): "REJECT_REPLACEMENT",
}


class ReturnDecisionFailed(Exception):
    """The decision was not taken (nothing to decide, or TikTok refused); the message is for people."""


# --- parsing -------------------------------------------------------------------------------


def _amount(value: Any) -> tuple[Decimal | None, str]:
    """``refund_amount`` is an object (``{currency, refund_total, ...}``) or a plain string."""
    if isinstance(value, Mapping):
        total = value.get("refund_total", value.get("amount"))
        return _money(total), _text(value.get("currency"), 8)
    return _money(value), ""


def _line_items(items: Any) -> list[dict]:
    lines = []
    for item in items or []:
        if not isinstance(item, Mapping):
            continue
        refund, currency = _amount(item.get("refund_amount"))
        lines.append(
            {
                "id": _text(item.get("return_line_item_id") or item.get("id")),
                "order_line_item_id": _text(item.get("order_line_item_id")),
                "sku_id": _text(item.get("sku_id")),
                "seller_sku": _text(item.get("seller_sku")),
                "product_name": _text(item.get("product_name")),
                "sku_name": _text(item.get("sku_name")),
                "refund": str(refund) if refund is not None else "",
                "currency": currency,
            }
        )
    return lines


def _deadline(actions: list[dict]) -> datetime | None:
    times = [unix_time(a.get("deadline")) for a in actions]
    return min((t for t in times if t is not None), default=None)


def _return_row(*, tenant_id: int, item: Mapping[str, Any], synced_at: datetime) -> dict:
    return_id = _text(item.get("return_id")).strip()
    if not return_id:
        raise SkipItem("no return_id")
    if len(return_id) > 64:
        raise SkipItem("return_id longer than 64 characters")
    shop_pk = item.get(SHOP_KEY)
    if not shop_pk:
        raise SkipItem(f"return {return_id} came without its shop")
    created = unix_time(item.get("create_time"))
    if created is None:
        raise SkipItem(f"return {return_id} has no create_time")
    status = _text(item.get("return_status")).strip().upper()
    if not status:
        raise SkipItem(f"return {return_id} has no return_status")
    refund, currency = _amount(item.get("refund_amount"))
    actions = [
        {"action": _text(a.get("action")), "deadline": a.get("deadline")}
        for a in item.get("seller_next_action_response") or []
        if isinstance(a, Mapping)
    ]
    return {
        "tenant_id": tenant_id,
        "shop_id": shop_pk,
        "return_id": return_id,
        "tiktok_order_id": _text(item.get("order_id"), 64),
        "return_type": _text(item.get("return_type"), 32),
        "status": status[:64],
        "role": _text(item.get("role"), 16),
        "reason": _text(item.get("return_reason"), 255),
        "reason_text": _text(item.get("return_reason_text")),
        "refund_amount": refund,
        "currency": currency,
        "line_items": _line_items(item.get("return_line_items")),
        "seller_next_actions": actions,
        "seller_deadline": _deadline(actions),
        "return_tracking_number": _text(item.get("return_tracking_number"), 128),
        "create_time": created,
        "update_time": unix_time(item.get("update_time")) or created,
        "synced_at": synced_at,
    }


def return_rows(*, connection: Any, items: list[dict], synced_at: datetime) -> Rows:
    """The sync kind's ``to_rows``: one row per return, refusals with why."""
    rows, skipped = [], []
    for item in items:
        try:
            rows.append(_return_row(tenant_id=connection.tenant_id, item=item, synced_at=synced_at))
        except SkipItem as exc:
            skipped.append(Skip(item=_text(item.get("return_id")) or "?", reason=str(exc)))
    return Rows(rows=rows, skipped=skipped)


def returns_after_upsert(*, connection: Any, rows: list[dict], synced_at: datetime) -> None:
    """Link the page's returns to their synced orders: one UPDATE, whatever the page holds."""
    if not rows:
        return
    order = Order.objects.filter(
        shop_id=OuterRef("shop_id"), order_id=OuterRef("tiktok_order_id")
    ).values("pk")[:1]
    ReturnRequest.objects.filter(
        shop_id__in={row["shop_id"] for row in rows},
        return_id__in={row["return_id"] for row in rows},
        order__isnull=True,
    ).update(order=Subquery(order))


def returns_write(*, connection: Any, rows: list[dict], synced_at: datetime) -> None:
    with transaction.atomic():
        bulk_upsert(model=ReturnRequest, rows=rows, unique_fields=RETURN_UNIQUE)
        returns_after_upsert(connection=connection, rows=rows, synced_at=synced_at)


# --- sync ----------------------------------------------------------------------------------


def fetch_returns(*, connection: TikTokShopConnection, cursor: dict, window: SyncWindow) -> Page:
    """One page of one shop's return search within the window."""
    from .products import scope_granted
    from .services import client_for
    from .sync import walk_shops

    if not scope_granted(connection, READ_SCOPE):
        logger.info(
            "tiktok_shop returns sync connection=%s skipped: %s not granted (no Returns pack)",
            connection.pk,
            READ_SCOPE,
        )
        return Page(items=[], next_cursor=None)

    def fetch(shop: Shop, token: str) -> tuple[list[dict], str, int | None]:
        with client_for(connection) as client:
            data = client.returns_search(
                shop_cipher=shop.cipher,
                page_size=RETURNS_PAGE_SIZE,
                page_token=token,
                update_time_ge=unix_seconds(window.start),
                update_time_lt=unix_seconds(window.end),
            )
        total = data.get("total_count")
        return (
            [dict(r) for r in data.get("return_orders") or []],
            str(data.get("next_page_token") or ""),
            int(total) if str(total or "").isdigit() else None,
        )

    return walk_shops(
        connection=connection,
        cursor=cursor,
        fetch=fetch,
        time_of=lambda item: unix_time(item.get("update_time")),
        page_size=RETURNS_PAGE_SIZE,
    )


RETURNS_SYNC_KINDS = [
    SyncKind(
        product=PRODUCT,
        kind="returns",
        label=gettext_lazy("Returns"),
        model="tiktok_shop.ReturnRequest",
        unique_fields=RETURN_UNIQUE,
        fetch_page=fetch_returns,
        to_rows=return_rows,
        after_upsert=returns_after_upsert,
        incremental=True,
        overlap=RETURNS_OVERLAP,
        window_step=RETURNS_WINDOW_STEP,
        schedule_minutes=RETURNS_SCHEDULE_MINUTES,
    )
]


# --- one return ---------------------------------------------------------------------------


def return_refresh(*, shop: Shop, return_id: str) -> ReturnRequest | None:
    """Fetch one return again by id (one call) and upsert it; None when TikTok has no such return."""
    from .services import client_for

    connection = shop.connection
    with client_for(connection) as client:
        data = client.returns_search(
            shop_cipher=shop.cipher, page_size=RETURNS_PAGE_SIZE, return_ids=[return_id]
        )
    items = [
        dict(r) for r in data.get("return_orders") or [] if str(r.get("return_id")) == return_id
    ]
    if not items:
        logger.warning("tiktok_shop return %s of shop %s not returned", return_id, shop.shop_id)
        return None
    for item in items:
        item[SHOP_KEY] = shop.pk
    converted = return_rows(connection=connection, items=items, synced_at=timezone.now())
    for skip in converted.skipped:
        logger.warning("tiktok_shop return %s skipped: %s", skip.item, skip.reason)
    returns_write(connection=connection, rows=converted.rows, synced_at=timezone.now())
    return ReturnRequest.objects.filter(shop=shop, return_id=return_id).first()


def on_return_webhook(*, shop: Shop, data: Mapping[str, Any]) -> ReturnRequest | None:
    """Type 12: refetch the return the push names.

    A transient failure is raised (the inbox retries); a final refusal (the
    Returns pack not granted, the return gone) is logged and the push's
    status stays noted on the order's history only.
    """
    return_id = _text(data.get("return_id")).strip()
    if not return_id:
        return None
    try:
        return return_refresh(shop=shop, return_id=return_id)
    except ProviderError as exc:
        if exc.transient:
            raise
        logger.warning(
            "tiktok_shop return %s refetch refused code=%s: kept on the history only",
            return_id,
            exc.code,
        )
        return None


def decision_for(ret: ReturnRequest, *, approve: bool) -> str:
    """The decision TikTok expects for this return's type and status, or "" if none."""
    table = APPROVE_DECISIONS if approve else REJECT_DECISIONS
    return table.get((ret.return_type, ret.status), "")


def return_reject_reasons(*, ret: ReturnRequest) -> list[tuple[str, str]]:
    """``(name, text)`` of the reasons TikTok allows for rejecting this return (one call)."""
    from .services import client_for

    with client_for(ret.shop.connection) as client:
        reasons = client.reject_reasons(
            shop_cipher=ret.shop.cipher, return_or_cancel_id=ret.return_id
        )
    return [
        (_text(r.get("name")), _text(r.get("text") or r.get("name")))
        for r in reasons
        if r.get("name")
    ]


def _provider_message(exc: ProviderError) -> str:
    if isinstance(exc, TokenExpired):
        return _("TikTok refused the connection's token. Reconnect TikTok Shop and try again.")
    if isinstance(exc, PermissionDenied):
        return _(
            "TikTok refused: the connection lacks the Returns pack (reconnect with it). "
            "TikTok said: %(error)s"
        ) % {"error": exc}
    if isinstance(exc, RateLimited):
        return _("TikTok is limiting requests right now. Try again in a minute.")
    return _("TikTok refused the decision: %(error)s") % {"error": exc}


def _audit(
    *,
    user: AbstractBaseUser | None,
    ret: ReturnRequest,
    action: str,
    after: dict,
    error: ProviderError | None = None,
) -> AuditEntry:
    return AuditEntry.objects.create(
        tenant_id=ret.tenant_id,
        user=user if user is not None and user.is_authenticated else None,
        product=PRODUCT,
        action=action,
        object_type="return",
        object_id=ret.return_id,
        before={"status": ret.status, "order_id": ret.tiktok_order_id},
        after=after,
        outcome=AuditEntry.Outcome.FAILED if error else AuditEntry.Outcome.SUCCEEDED,
        error=redact_text(str(error)) if error else "",
    )


def return_decide(
    *,
    user: AbstractBaseUser | None,
    ret: ReturnRequest,
    approve: bool,
    reject_reason: str = "",
    reject_reason_text: str = "",
    comment: str = "",
) -> ReturnRequest:
    """Approve or reject a return at TikTok, audit it, and fetch the return again.

    Raises :class:`ReturnDecisionFailed` with a message for the tenant when
    there is nothing to decide in the return's state, a reject has no reason,
    or TikTok refused (that attempt is audited ``failed``).
    """
    from .services import client_for

    decision = decision_for(ret, approve=approve)
    if not decision:
        raise ReturnDecisionFailed(
            _("This return (%(status)s) is not waiting for a decision of the seller.")
            % {"status": ret.status_label}
        )
    if not approve and not reject_reason:
        raise ReturnDecisionFailed(_("Choose a reason to reject the return."))
    key = uuid.uuid4().hex
    action = "return_approve" if approve else "return_reject"
    after = {"decision": decision, "idempotency_key": key}
    if not approve:
        after |= {"reject_reason": reject_reason, "reason_text": reject_reason_text}
        if comment:
            after["comment"] = comment
    shop = ret.shop
    try:
        with client_for(shop.connection) as client:
            if approve:
                client.return_approve(
                    shop_cipher=shop.cipher,
                    return_id=ret.return_id,
                    decision=decision,
                    idempotency_key=key,
                )
            else:
                client.return_reject(
                    shop_cipher=shop.cipher,
                    return_id=ret.return_id,
                    decision=decision,
                    reject_reason=reject_reason,
                    comment=comment,
                    idempotency_key=key,
                )
    except ProviderError as exc:
        _audit(user=user, ret=ret, action=action, after=after, error=exc)
        raise ReturnDecisionFailed(_provider_message(exc)) from exc
    _audit(user=user, ret=ret, action=action, after=after)
    try:
        fresh = return_refresh(shop=shop, return_id=ret.return_id)
    except ProviderError as exc:  # the decision stands; the next sync brings the status
        logger.warning("tiktok_shop return %s refetch failed code=%s", ret.return_id, exc.code)
        fresh = None
    return fresh or ret


def return_audit(*, ret: ReturnRequest) -> list[AuditEntry]:
    """The decisions taken on this return from the hub, newest first (one query)."""
    return list(
        AuditEntry.objects.filter(
            tenant_id=ret.tenant_id, product=PRODUCT, object_type="return", object_id=ret.return_id
        )
        .select_related("user")
        .order_by("-created_at", "-pk")
    )
