"""Meta test helpers: log in as sandbox Facebook users through the real hub views."""

from __future__ import annotations

import sys
import types
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from apps.integrations.models import SyncRun
from apps.meta_ads.models import MetaProfile
from apps.sandbox import generator


def sandbox_user(index: int) -> generator.Identity:
    return generator.identities("meta")[index]


def connect_profile(
    client: Client, index: int, *, packs=("meta_ads",), decline=(), connection=None
) -> MetaProfile:
    """Connect (or reconnect) the ``index``-th sandbox Facebook user through the hub.

    The hub's connect view, the sandbox login dialog (choosing the user,
    ticking every asked permission but ``decline``), then the hub callback.
    """
    form = {"packs": list(packs), "confirm_sensitive": "on"}
    if connection is not None:
        form["connection"] = str(connection.pk)
    start = client.post(reverse("integrations:connect", args=["meta_ads"]), form)
    assert start.status_code == 302, start.content
    parts = urlsplit(start["Location"])
    assert start["Location"].startswith(settings.SANDBOX_BASE_URL)
    query = dict(parse_qsl(parts.query))
    who = sandbox_user(index)
    query["sandbox_user"] = who.account_id
    dialog = f"{parts.path}?{urlencode(query)}"
    browser = Client()
    page = browser.get(dialog)
    assert page.status_code == 200
    asked = [s for s in query.get("scope", "").split(",") if s]
    answer = browser.post(
        dialog,
        {
            "decision": "authorize",
            "account_id": who.account_id,
            "scopes": [s for s in asked if s not in decline],
        },
    )
    assert answer.status_code == 302, answer.content
    back = urlsplit(answer["Location"])
    done = client.get(f"{back.path}?{back.query}")
    assert done.status_code == 302, done.content
    # Connecting queues a first run of every kind; in a test its task never runs
    # (on_commit), and a queued run would make an explicit run wait for it.
    SyncRun.objects.filter(status=SyncRun.Status.QUEUED).delete()
    return MetaProfile.objects.get(external_user_id=who.account_id)


class LeadsSpy:
    """Stands in for ``apps.leads.services``: records what the handlers hand over."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.statuses: list[dict] = []

    def message_received(self, *, tenant, message) -> None:
        self.messages.append({"tenant": tenant, "message": message})

    def message_status_changed(self, *, tenant, provider_message_id, status, at) -> None:
        self.statuses.append(
            {
                "tenant": tenant,
                "provider_message_id": provider_message_id,
                "status": status,
                "at": at,
            }
        )


@pytest.fixture
def leads_spy(monkeypatch) -> LeadsSpy:
    """Replace the leads services the WhatsApp handlers call, whether or not they exist yet."""
    spy = LeadsSpy()
    try:
        import apps.leads.services as module
    except ImportError:
        module = types.ModuleType("apps.leads.services")
        monkeypatch.setitem(sys.modules, "apps.leads.services", module)
        import apps.leads

        monkeypatch.setattr(apps.leads, "services", module, raising=False)
    monkeypatch.setattr(module, "message_received", spy.message_received, raising=False)
    monkeypatch.setattr(module, "message_status_changed", spy.message_status_changed, raising=False)
    return spy
