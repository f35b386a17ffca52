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

Order events carry the order's status at the sandbox clock; the same change
fired twice has the same ``tts_notification_id`` (a redelivery).
"""

from __future__ import annotations

import json

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.sandbox import generator, grants, shop_data
from apps.sandbox.tiktok_shop_signing import webhook_signature

EVENTS = ("order_status", "return", "cancellation", "deauthorization", "expiring", "product")
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
