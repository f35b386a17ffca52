"""The Webhooks tab of ``/integrations`` (registered in the hub's ``TAB_PANELS``)."""

from __future__ import annotations

from django.http import HttpRequest

from .models import WebhookEvent
from .selectors import webhook_activity


def webhooks_panel(request: HttpRequest) -> dict:
    return {
        "panel_template": "webhooks/_panel.html",
        "webhook_statuses": WebhookEvent.Status,
        **webhook_activity(tenant=request.tenant),
    }
