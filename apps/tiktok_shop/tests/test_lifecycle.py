"""The connection's life through the sandbox: refresh ahead of expiry, revoked seller, dead token."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.integrations import services as core
from apps.integrations.http import TokenExpired
from apps.integrations.models import ConnectionStatus, SyncRun
from apps.integrations.sync import sync_run_for_connection_now
from apps.sandbox import grants
from apps.sandbox.models import SandboxGrant

from .conftest import seller_account

pytestmark = pytest.mark.django_db

REFRESH = "/api/v2/token/refresh"


def test_both_expiries_come_from_the_sandboxs_answer(shop_connection):
    grant = SandboxGrant.objects.filter(provider="tiktok_shop").latest("pk")

    assert shop_connection.access_expires_at == grant.access_expires_at.replace(microsecond=0)
    assert shop_connection.refresh_expires_at == grant.refresh_expires_at.replace(microsecond=0)


def test_a_token_expiring_soon_is_refreshed_ahead_through_the_lease(
    shop_connection, sandbox, settings
):
    settings.SANDBOX_SHOP_ACCESS_TTL_SECONDS = 7 * 86400  # TikTok's real lifetime
    old = shop_connection.access_token.reveal()
    shop_connection.access_expires_at = timezone.now() + timedelta(minutes=5)
    shop_connection.save(update_fields=["access_expires_at"])
    provider = core.providers.get("tiktok_shop")
    assert core.connection_refresh_due_ids(provider=provider) == [shop_connection.pk]

    core.connection_refresh(connection=shop_connection)

    shop_connection.refresh_from_db()
    assert shop_connection.access_token.reveal() != old
    assert shop_connection.access_expires_at > timezone.now() + timedelta(days=6)
    assert shop_connection.refresh_lease_until is None
    assert sandbox.calls(REFRESH) == 1
    # Not due any more: a second sweep leaves it alone.
    core.connection_refresh(connection=shop_connection)
    assert sandbox.calls(REFRESH) == 1


def test_a_seller_who_revoked_the_app_turns_the_card_expired_with_reconnect(
    owner_client, shop_connection, sandbox
):
    grants.revoke_account(provider="tiktok_shop", account_id=seller_account())

    with pytest.raises(TokenExpired):
        core.connection_test(connection=shop_connection)

    shop_connection.refresh_from_db()
    assert shop_connection.status == ConnectionStatus.EXPIRED
    assert sandbox.calls(REFRESH) == 1  # tried once, refused
    card = owner_client.get("/integrations/tiktok_shop/card/").content.decode()
    assert 'data-status="expired"' in card
    assert "Reconnect" in card


def test_a_sync_with_a_dead_refresh_token_fails_and_marks_the_connection_expired(
    shop_connection, sandbox
):
    SandboxGrant.objects.filter(provider="tiktok_shop").update(
        access_expires_at=timezone.now(), refresh_expires_at=timezone.now()
    )

    run = sync_run_for_connection_now(connection=shop_connection, kind="orders", trigger="manual")

    assert run.status == SyncRun.Status.FAILED
    shop_connection.refresh_from_db()
    assert shop_connection.status == ConnectionStatus.EXPIRED
