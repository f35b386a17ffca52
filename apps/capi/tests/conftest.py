"""Fixtures of the conversions tests: tickets attributed to ads, sandbox tokens, fake platforms.

The platform apps' real destination lookups are tested in their own test
modules (``test_platform_meta.py``, ``test_platform_tiktok.py``); most tests
here plug in :class:`FakePlatform` so that they say exactly which destination
and token the platform app answers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from apps.capi import services
from apps.capi.registry import Target, conversion_platforms
from apps.leads.models import Channel, Contact, Ticket, TicketTracking
from apps.sandbox import generator, grants

FIXTURES = Path(__file__).parent / "fixtures"

META_DATASET = "912345678901234"
META_WABA = "102290129340398"
TIKTOK_PIXEL_CODE = "CUIVTBIE2FSNIPZQ4IYE"


def fixture(name: str) -> dict:
    """A real-shaped answer, named after its endpoint and variant."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


@dataclass
class FakePlatform:
    """What a platform app answers capi: one destination (or none) and one token (or none)."""

    target: Target | None
    token: str | None = "token"
    asked: list = field(default_factory=list)

    def target_for(self, *, facts, mapping):
        self.asked.append(facts)
        return self.target

    def targets(self, *, tenant, mapping):
        return [self.target] if self.target is not None else []

    def access_token(self, *, tenant, destination):
        return self.token


@pytest.fixture
def registry_restore():
    saved = (dict(conversion_platforms._paths), dict(conversion_platforms._objects))
    yield conversion_platforms
    conversion_platforms._paths.clear()
    conversion_platforms._paths.update(saved[0])
    conversion_platforms._objects.clear()
    conversion_platforms._objects.update(saved[1])


def _sandbox_token(provider: str) -> str:
    account = generator.identities(provider)[0].account_id
    grant = grants.issue_code(provider=provider, account_id=account, scopes=[])
    grants.redeem_code(provider=provider, code=grant.code)
    grant.refresh_from_db()
    return grants.mint_tokens(grant, access_ttl=None).access_token


@pytest.fixture
def meta_token(db) -> str:
    return _sandbox_token("meta")


@pytest.fixture
def tiktok_token(db) -> str:
    return _sandbox_token("tiktok_ads")


@pytest.fixture
def meta_platform(registry_restore, meta_token) -> FakePlatform:
    fake = FakePlatform(
        Target(
            external_id=META_DATASET, kind="waba_dataset", label="WABA dataset", waba_id=META_WABA
        ),
        token=meta_token,
    )
    conversion_platforms.set_object("meta", fake)
    return fake


@pytest.fixture
def tiktok_platform(registry_restore, tiktok_token) -> FakePlatform:
    fake = FakePlatform(
        Target(external_id=TIKTOK_PIXEL_CODE, kind="pixel", label="Website pixel 1"),
        token=tiktok_token,
    )
    conversion_platforms.set_object("tiktok", fake)
    return fake


@pytest.fixture
def kicks(monkeypatch) -> list[int]:
    """Dispatch tasks queued after commit (recorded, not queued)."""
    queued: list[int] = []
    monkeypatch.setattr(services, "_queue_dispatch", lambda: queued.append(1))
    services.dispatch_kicker.reset()
    yield queued
    services.dispatch_kicker.reset()


_counter = iter(range(1, 10**9))


def make_ticket(
    tenant,
    *,
    platform: str = "meta",
    ctwa_clid: str = "ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LEkR7JwFF4XvnO2E4Nx0-eM-GABDLOPaOdRMv-_zfUQ2a",
    ttclid: str = "",
    channel: str = Channel.WHATSAPP,
    account_ref: str = "106540352242922",
    ad_account_id: str = "1234567890",
    wa_id: str = "",
) -> Ticket:
    n = next(_counter)
    wa_id = wa_id or f"55119{n:08d}"
    now = timezone.now()
    contact = Contact.objects.create(
        tenant=tenant, wa_id=wa_id if channel == Channel.WHATSAPP else "", user_id=f"u-{n}"
    )
    ticket = Ticket.objects.create(
        tenant=tenant,
        contact=contact,
        channel=channel,
        account_ref=account_ref,
        last_message_at=now,
        opened_at=now,
    )
    if platform:
        TicketTracking.objects.create(
            tenant=tenant,
            ticket=ticket,
            platform=platform,
            ad_id="120210000000000001",
            ctwa_clid=ctwa_clid if platform == "meta" else "",
            ttclid=ttclid,
            attributed_at=now,
            account_id=ad_account_id,
            campaign_id="120210000000000100",
        )
    return ticket


def move(ticket: Ticket, stage: str, *, value: Decimal | None = None, currency: str = ""):
    """Move a ticket as a person does (leads' action), signals included."""
    from apps.leads.actions import ticket_move_stage

    ticket.refresh_from_db()
    return ticket_move_stage(
        ticket=ticket, to_stage=stage, user=None, value=value, currency=currency
    )


class FakeClock:
    """A clock the dispatcher reads; tests move it forward."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or timezone.now()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now
