"""The project's URLs plus ``/bench/bare-webhook/``: the floor the inbox is compared with.

The bare view does what any webhook endpoint must: one HMAC check over the
raw body and one INSERT, through the same middleware, with nothing else.
"""

import hashlib
import hmac
import json

from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from config.urls import urlpatterns as project_urlpatterns


@csrf_exempt
def bare_webhook(request):
    body = request.body
    key = settings.TIKTOK_SHOP_APP_SECRET.encode()
    expected = hmac.new(key, settings.TIKTOK_SHOP_APP_KEY.encode() + body, hashlib.sha256)
    if not hmac.compare_digest(request.headers.get("Authorization", ""), expected.hexdigest()):
        return HttpResponse(status=401)
    event = json.loads(body)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO webhooks_webhookevent (source, event_id, event_type, account_ref, payload,"
            " status, attempts, claim_token, last_error, correlation_id, received_at)"
            " VALUES ('bare', %s, %s, %s, %s, 'received', 0, '', '', '', %s)"
            " ON CONFLICT (source, event_id) DO NOTHING",
            [
                event["tts_notification_id"],
                str(event["type"]),
                event["shop_id"],
                body.decode(),
                timezone.now(),
            ],
        )
    return HttpResponse(status=200)


urlpatterns = [path("bench/bare-webhook/", bare_webhook), *project_urlpatterns]
