"""``manage.py sandbox_fire_whatsapp``: post correctly signed WhatsApp webhooks to the hub.

What the WhatsApp Cloud API does when a customer writes to a business number:
build the ``messages`` webhook (with a ``referral`` when the customer came from
a click-to-WhatsApp ad), sign the exact bytes (``X-Hub-Signature-256:
sha256=<hex HMAC-SHA256 keyed with the app secret>``, contract §5.3) and POST
it to the hub.

Examples::

    manage.py sandbox_fire_whatsapp --phone-number-id 109876543210987   # click on the sandbox ad
    manage.py sandbox_fire_whatsapp --ad-id 1202... --ctwa-clid ARAk...  # a chosen ad and clid
    manage.py sandbox_fire_whatsapp --no-clid            # a Status ad: referral without ctwa_clid
    manage.py sandbox_fire_whatsapp --no-referral --text "Still there?"   # a plain message
    manage.py sandbox_fire_whatsapp --status read --message-id wamid.X    # a delivery state
    manage.py sandbox_fire_whatsapp --bad-signature                        # expect 401

Without ``--phone-number-id`` the only WhatsApp number registered on the hub
is used (the command refuses when there are none or several). The default ad
is the sandbox's first click-to-WhatsApp ad of the ad account both the first
and the second sandbox Facebook users reach.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets

import requests
from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.sandbox import generator, meta_data

TIMEOUT_SECONDS = 10
STATUSES = ("sent", "delivered", "read", "failed", "played")
DEFAULT_WABA_ID = "104523789012345"
DEFAULT_WA_ID = "5511987654321"
DEFAULT_USER_ID = "BR.1234567890123456789"
DEFAULT_NAME = "Ana Souza"


def sign(raw: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


class Command(BaseCommand):
    help = "Post a correctly signed WhatsApp Cloud API webhook (message or status) to the hub."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--phone-number-id", help="The business number's id (default: the only registered)."
        )
        parser.add_argument("--waba-id", help="Default: the registered number's WABA.")
        parser.add_argument("--display-phone-number", default="5511930001000")
        parser.add_argument("--wa-id", default=DEFAULT_WA_ID, help="The customer's WhatsApp id.")
        parser.add_argument(
            "--user-id",
            default=DEFAULT_USER_ID,
            help="The business-scoped user id (BSUID); '' to leave it out.",
        )
        parser.add_argument("--name", default=DEFAULT_NAME, help="The customer's profile name.")
        parser.add_argument("--text", default="Olá! Quero saber mais.")
        parser.add_argument(
            "--ad-id", help="The clicked ad (default: the sandbox's first CTWA ad)."
        )
        parser.add_argument("--ctwa-clid", help="Default: a fresh click id.")
        parser.add_argument(
            "--no-clid", action="store_true", help="A Status ad: a referral without ctwa_clid."
        )
        parser.add_argument("--no-referral", action="store_true", help="A plain message.")
        parser.add_argument("--message-id", help="Default: a fresh wamid.")
        parser.add_argument(
            "--status", choices=STATUSES, help="Send this delivery state of --message-id instead."
        )
        parser.add_argument("--url", help="Default: PUBLIC_BASE_URL + /webhooks/meta/.")
        parser.add_argument(
            "--bad-signature", action="store_true", help="Spoil the signature (expect 401)."
        )

    def handle(self, *args, **options) -> None:
        phone_number_id, waba_id = self._number(options["phone_number_id"], options["waba_id"])
        body, what = self._delivery(options, phone_number_id, waba_id)
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        signature = sign(raw, settings.META_APP_SECRET)
        if options["bad_signature"]:
            signature = signature[:-1] + ("0" if signature[-1] != "0" else "1")
        url = options["url"] or f"{settings.PUBLIC_BASE_URL}/webhooks/meta/"
        self.stdout.write(f"POST {url}: {what}")
        try:
            response = requests.post(
                url,
                data=raw,
                headers={"X-Hub-Signature-256": signature, "Content-Type": "application/json"},
                timeout=TIMEOUT_SECONDS,
            )
        except requests.RequestException as exc:
            raise CommandError(f"The hub did not answer: {type(exc).__name__}") from None
        self.stdout.write(f"HTTP {response.status_code} {response.text[:200]}")
        if response.status_code != 200 and not options["bad_signature"]:
            raise CommandError(f"The hub refused the webhook (HTTP {response.status_code}).")

    # --- helpers ---------------------------------------------------------------------------

    def _number(self, phone_number_id: str | None, waba_id: str | None) -> tuple[str, str]:
        """The number to write to: given, or the only one registered on the hub."""
        model = apps.get_model("meta_ads", "WhatsAppNumber")
        if phone_number_id:
            known = model.objects.filter(phone_number_id=phone_number_id).first()
            return phone_number_id, waba_id or (known.waba_id if known else DEFAULT_WABA_ID)
        numbers = list(model.objects.values_list("phone_number_id", "waba_id")[:2])
        if len(numbers) != 1:
            raise CommandError(
                "Name the business number with --phone-number-id "
                f"({'none' if not numbers else 'several'} registered on the hub)."
            )
        return numbers[0][0], waba_id or numbers[0][1]

    def _delivery(self, options, phone_number_id: str, waba_id: str) -> tuple[dict, str]:
        now = generator.now()
        common = {
            "waba_id": waba_id,
            "phone_number_id": phone_number_id,
            "display_phone_number": options["display_phone_number"],
        }
        if options["status"]:
            if not options["message_id"]:
                raise CommandError("--status needs --message-id (a message the business sent).")
            body = meta_data.whatsapp_status_delivery(
                **common,
                message_id=options["message_id"],
                status=options["status"],
                recipient_id=options["wa_id"],
                at=now,
            )
            return body, f"status {options['status']} of {options['message_id']}"
        message_id = options["message_id"] or f"wamid.SANDBOX{secrets.token_hex(12).upper()}"
        referral = None
        what = f"message {message_id} from {options['wa_id']} to {phone_number_id}"
        if not options["no_referral"]:
            ad = self._ad(options["ad_id"])
            clid = None if options["no_clid"] else (options["ctwa_clid"] or _fresh_clid())
            referral = meta_data.referral_for(ad, clid=clid)
            what += f" after a click on ad {ad.ad_id}" + ("" if clid else " (no ctwa_clid)")
        body = meta_data.whatsapp_message_delivery(
            **common,
            message_id=message_id,
            wa_id=options["wa_id"],
            user_id=options["user_id"],
            name=options["name"],
            text=options["text"],
            sent_at=now,
            referral=referral,
        )
        return body, what

    def _ad(self, ad_id: str | None) -> meta_data.Ad:
        if not ad_id:
            return meta_data.default_ad()
        ad = meta_data.ad(ad_id)
        if ad is not None:
            return ad
        # An ad the sandbox does not know (to try an unreachable ad): names from its id.
        return meta_data.Ad(
            ad_id=ad_id,
            name=f"Ad {ad_id}",
            adset_id="",
            adset_name="",
            campaign_id="",
            campaign_name="Unknown campaign",
            account_id="",
            messaging=True,
        )


def _fresh_clid() -> str:
    return meta_data.ctwa_clid(secrets.token_hex(8))
