"""``manage.py sandbox_fire_shop_webhook``: post correctly signed TikTok Shop pushes to the hub.

What TikTok does when something happens to a sandbox seller: build the event
body, sign it (``Authorization`` = hex HMAC-SHA256 keyed with the app secret
over ``app_key + body``, contract §3.5) and POST it to the hub's webhook URL.

Examples::

    manage.py sandbox_fire_shop_webhook                       # the order that moved last
    manage.py sandbox_fire_shop_webhook --order 5712345678...  # that order's current status
    manage.py sandbox_fire_shop_webhook --event return
    manage.py sandbox_fire_shop_webhook --event deauthorization   # also revokes the grants
    manage.py sandbox_fire_shop_webhook --event expiring --days 20
    manage.py sandbox_fire_shop_webhook --bad-signature            # expect 401
    manage.py sandbox_fire_shop_webhook --event package            # type 4, last shipped package
    manage.py sandbox_fire_shop_webhook --event return_status --return 46...  # type 12, as it is
    manage.py sandbox_fire_shop_webhook --event message --text "Where is my parcel?"  # type 14

``--event message`` first makes the buyer write: the message is stored (it reads
back in the conversation's messages) and then pushed as type 14.

Order events carry the order's status at the sandbox clock; the same change
fired twice has the same ``tts_notification_id`` (a redelivery).
"""

from __future__ import annotations

import json

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.sandbox import generator, grants, shop_data
from apps.sandbox import shop_ops_data as ops
from apps.sandbox.models import SandboxShopRecord
from apps.sandbox.tiktok_shop_signing import webhook_signature

EVENTS = (
    "order_status",
    "return",
    "cancellation",
    "deauthorization",
    "expiring",
    "product",
    "package",
    "return_status",
    "message",
)
TIMEOUT_SECONDS = 10


class Command(BaseCommand):
    help = "Post a correctly signed TikTok Shop webhook for a sandbox shop to the hub."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--event", choices=EVENTS, default="order_status")
        parser.add_argument("--shop", metavar="SHOP_ID", help="Default: the first sandbox shop.")
        parser.add_argument(
            "--order", metavar="ORDER_ID", help="Default: the order that changed status last."
        )
        parser.add_argument("--product", metavar="PRODUCT_ID", help="For --event product.")
        parser.add_argument(
            "--product-status",
            default="PRODUCT_AUDIT_FAILURE",
            help="PRODUCT_FIRST_PASS_REVIEW, PRODUCT_STATUS_CHANGED or PRODUCT_AUDIT_FAILURE.",
        )
        parser.add_argument(
            "--days", type=int, default=30, help="For --event expiring: days until it ends."
        )
        parser.add_argument(
            "--package", metavar="PACKAGE_ID", help="For --event package (default: last shipped)."
        )
        parser.add_argument(
            "--return",
            dest="return_id",
            metavar="RETURN_ID",
            help="For --event return_status (default: last decided, else newest request).",
        )
        parser.add_argument(
            "--conversation",
            metavar="CONVERSATION_ID",
            help="For --event message (default: the chat that moved last).",
        )
        parser.add_argument(
            "--text", default="Hi! Is my order on its way?", help="For --event message."
        )
        parser.add_argument(
            "--url", help="Default: PUBLIC_BASE_URL + /webhooks/tiktok-shop/ (the hub's inbox)."
        )
        parser.add_argument(
            "--bad-signature", action="store_true", help="Spoil the signature (expect 401)."
        )
        parser.add_argument(
            "--keep-grants",
            action="store_true",
            help="With --event deauthorization, leave the seller's sandbox tokens alive.",
        )

    def handle(self, *args, **options) -> None:
        account_id, shop = self._shop(options["shop"])
        orders = shop_data.orders_for(shop, account_id)
        now = shop_data.now_seconds()
        body, what = self._event(options, account_id, shop, orders, now)
        raw = json.dumps(body, separators=(",", ":")).encode()
        signature = webhook_signature(
            app_key=settings.TIKTOK_SHOP_APP_KEY,
            app_secret=settings.TIKTOK_SHOP_APP_SECRET,
            raw_body=raw,
        )
        if options["bad_signature"]:
            signature = signature[:-1] + ("0" if signature[-1] != "0" else "1")
        url = options["url"] or f"{settings.PUBLIC_BASE_URL}/webhooks/tiktok-shop/"
        self.stdout.write(f"POST {url}: {what} (tts_notification_id {body['tts_notification_id']})")
        try:
            response = requests.post(
                url,
                data=raw,
                headers={"Authorization": signature, "Content-Type": "application/json"},
                timeout=TIMEOUT_SECONDS,
            )
        except requests.RequestException as exc:
            raise CommandError(f"The hub did not answer: {type(exc).__name__}") from None
        self.stdout.write(f"HTTP {response.status_code} {response.text[:200]}")
        if options["event"] == "deauthorization" and not options["keep_grants"]:
            revoked = grants.revoke_account(provider="tiktok_shop", account_id=account_id)
            self.stdout.write(f"Revoked {revoked} sandbox grant(s) of the seller, as TikTok does.")

    # --- helpers ---------------------------------------------------------------------------

    def _shop(self, shop_id: str | None) -> tuple[str, dict]:
        for who in generator.identities("tiktok_shop"):
            for shop in generator.shops(who.account_id):
                if shop_id in (None, shop["id"]):
                    return who.account_id, shop
        raise CommandError(f"No sandbox shop {shop_id!r}.")

    def _order(self, orders: shop_data.ShopOrders, order_id: str | None, now: int):
        if order_id:
            state = shop_data.state_of(orders, order_id, now)
            if state is None:
                raise CommandError(f"Shop {orders.shop_id} has no order {order_id!r} (yet).")
            return state
        latest = shop_data.latest_changes(orders, now, count=1)
        if not latest:
            raise CommandError("No order of this shop has changed status yet.")
        return latest[0]

    def _event(self, options, account_id: str, shop: dict, orders, now: int) -> tuple[dict, str]:
        event = options["event"]
        if event == "order_status":
            state = self._order(orders, options["order"], now)
            body = shop_data.order_status_event(orders, state, pushed_at=now)
            return body, f"order {state.order_id} of shop {shop['id']} is {state.status}"
        if event in {"return", "cancellation"}:
            state = self._order(orders, options["order"], now)
            body = _reverse_event(event, shop["id"], state.order_id, now)
            return body, f"{event} request on order {state.order_id} of shop {shop['id']}"
        if event in {"package", "return_status", "message"}:
            return _operations_event(event, options, shop["id"], orders, now)
        if event == "deauthorization":
            data = {"message": "The seller has deauthorized your app."}
            body = _event(6, shop["id"], now, data, "deauth", account_id, now)
            return body, f"seller of shop {shop['id']} removed the app"
        if event == "expiring":
            ends = now + options["days"] * 86400
            data = {"message": "The authorization will expire soon.", "expiration_time": str(ends)}
            body = _event(7, shop["id"], now, data, "expiring", ends)
            return body, f"authorization of shop {shop['id']} ends in {options['days']} day(s)"
        product_id = options["product"] or orders.skus[0].product_id
        data = {
            "product_id": int(product_id) if str(product_id).isdigit() else product_id,
            "status": options["product_status"],
            "suspended_reason": "Sandbox review" if "FAILURE" in options["product_status"] else "",
            "update_time": now,
        }
        body = _event(5, shop["id"], now, data, "product", product_id, options["product_status"])
        return body, f"product {product_id} of shop {shop['id']}: {options['product_status']}"


def _event(type_number: int, shop_id: str, now: int, data: dict, *id_parts: object) -> dict:
    return {
        "type": type_number,
        "tts_notification_id": shop_data.notification_id(type_number, shop_id, *id_parts),
        "shop_id": shop_id,
        "timestamp": now,
        "data": data,
    }


def _reverse_event(kind: str, shop_id: str, order_id: str, now: int) -> dict:
    if kind == "return":
        data = {
            "order_id": order_id,
            "return_role": "BUYER",
            "return_type": "REFUND",
            "return_status": "RETURN_OR_REFUND_REQUEST_PENDING",
            "return_id": "46" + order_id[2:],
            "create_time": now,
            "update_time": now,
        }
        return _event(12, shop_id, now, data, "return", order_id)
    data = {
        "order_id": order_id,
        "cancellations_role": "BUYER",
        "cancel_status": "CANCELLATION_REQUEST_PENDING",
        "cancel_id": "40" + order_id[2:],
        "create_time": now,
    }
    return _event(11, shop_id, now, data, "cancellation", order_id)


def _operations_event(event: str, options, shop_id: str, orders, now: int) -> tuple[dict, str]:
    """Types 4 (PACKAGE_UPDATE), 12 (RETURN_STATUS_CHANGE) and 14 (NEW_MESSAGE)."""
    records = SandboxShopRecord.objects.filter(shop_id=shop_id).order_by("-created_at", "-pk")
    if event == "package":
        package_id = options["package"] or next(
            iter(records.filter(kind="package_shipped").values_list("object_id", flat=True)), ""
        )
        if not package_id:
            latest = shop_data.latest_changes(orders, now, count=50)
            state = next((s for s in latest if ops.has_package(s)), None)
            if state is None:
                raise CommandError("No package of this shop has moved yet.")
            package_id = ops.package_id_of(state.order_id)
        order_id = ops.order_id_of(package_id)
        state = shop_data.state_of(orders, order_id, now)
        if state is None or not ops.has_package(state):
            raise CommandError(f"Shop {shop_id} has no package {package_id!r}.")
        body = ops.package_update_event(shop_id, package_id, order_id, at=state.update_time)
        body["timestamp"] = now
        return body, f"package {package_id} of order {order_id} is {ops.package_status(state)}"
    if event == "return_status":
        decisions = {r.object_id: r.data for r in records.filter(kind="return_decided")}
        states = {s.seed.return_id: s for s in ops.returns_at(orders, decisions, now)}
        return_id = options["return_id"] or next(iter(decisions), "")
        if not return_id and states:
            return_id = max(states.values(), key=lambda s: s.seed.create_time).seed.return_id
        state = states.get(return_id)
        if state is None:
            raise CommandError(f"Shop {shop_id} has no return {return_id!r} (yet).")
        body = ops.return_status_event(shop_id, state, pushed_at=now)
        return body, f"return {return_id} of order {state.seed.order_id} is {state.status}"
    try:
        message, body = ops.buyer_writes(
            orders, text=options["text"], conversation=options["conversation"] or "", at=now
        )
    except KeyError:
        raise CommandError(
            f"Shop {shop_id} has no conversation {options['conversation']!r}."
        ) from None
    conversation = body["data"]["conversation_id"]
    return body, f"buyer wrote in conversation {conversation} (message {message['id']})"
