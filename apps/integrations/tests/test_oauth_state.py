from datetime import timedelta

import pytest
from django.utils import timezone

from apps.integrations.models import OAuthState
from apps.integrations.oauth import (
    STATE_TTL,
    OAuthStateError,
    hash_state,
    oauth_state_consume,
    oauth_state_issue,
    oauth_state_prune,
)
from apps.tenants.models import Membership

pytestmark = pytest.mark.django_db

PRODUCTS = ["tiktok_ads", "tiktok_shop", "tiktok_content"]


def issue(tenant, user, product="tiktok_content", **kwargs):
    return oauth_state_issue(
        tenant=tenant,
        user=user,
        product=product,
        scope_packs=["content_analytics"],
        redirect_uri="http://testserver/integrations/tiktok/callback/",
        **kwargs,
    )


def consume(raw, user, tenant, products=PRODUCTS):
    return oauth_state_consume(raw_state=raw, user=user, tenant=tenant, products=products)


def test_state_is_random_stored_hashed_and_expires_in_ten_minutes(tenant_a, owner_a):
    first = issue(tenant_a, owner_a)
    second = issue(tenant_a, owner_a)
    assert first.raw != second.raw and len(first.raw) >= 40
    record = OAuthState.objects.get(pk=first.record.pk)
    assert record.state_hash == hash_state(first.raw)
    assert first.raw not in record.state_hash
    assert not OAuthState.objects.filter(state_hash=first.raw).exists()
    assert abs((record.expires_at - timezone.now()) - STATE_TTL) < timedelta(seconds=5)


def test_valid_state_is_consumed_once(tenant_a, owner_a):
    issued = issue(tenant_a, owner_a)
    record = consume(issued.raw, owner_a, tenant_a)
    assert record.product == "tiktok_content"
    assert record.scope_packs == ["content_analytics"]
    assert record.consumed_at is not None


def test_reused_state_is_refused(tenant_a, owner_a):
    issued = issue(tenant_a, owner_a)
    consume(issued.raw, owner_a, tenant_a)
    with pytest.raises(OAuthStateError) as exc:
        consume(issued.raw, owner_a, tenant_a)
    assert exc.value.reason == "reused"
    assert "already used" in str(exc.value)


def test_expired_state_is_refused(tenant_a, owner_a):
    issued = issue(tenant_a, owner_a)
    OAuthState.objects.filter(pk=issued.record.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(OAuthStateError) as exc:
        consume(issued.raw, owner_a, tenant_a)
    assert exc.value.reason == "expired"


def test_another_users_state_is_refused_and_not_burned(tenant_a, owner_a, member_a):
    issued = issue(tenant_a, owner_a)
    with pytest.raises(OAuthStateError) as exc:
        consume(issued.raw, member_a, tenant_a)
    assert exc.value.reason == "other_user"
    # The rightful user can still finish.
    assert consume(issued.raw, owner_a, tenant_a).consumed_at is not None


def test_state_of_another_tenant_is_refused(tenant_a, tenant_b, owner_a):
    Membership.objects.create(user=owner_a, tenant=tenant_b, role=Membership.Role.OWNER)
    issued = issue(tenant_a, owner_a)
    with pytest.raises(OAuthStateError) as exc:
        consume(issued.raw, owner_a, tenant_b)
    assert exc.value.reason == "other_tenant"


def test_state_for_a_product_of_another_callback_is_refused(tenant_a, owner_a):
    issued = issue(tenant_a, owner_a, product="meta_ads")
    with pytest.raises(OAuthStateError) as exc:
        consume(issued.raw, owner_a, tenant_a, products=PRODUCTS)
    assert exc.value.reason == "wrong_product"


@pytest.mark.parametrize("raw,reason", [(None, "missing"), ("", "missing"), ("forged", "unknown")])
def test_missing_or_unknown_state(raw, reason, tenant_a, owner_a):
    with pytest.raises(OAuthStateError) as exc:
        consume(raw, owner_a, tenant_a)
    assert exc.value.reason == reason


def test_pkce_verifier_is_kept_encrypted(tenant_a, owner_a):
    from django.db import connection

    issued = issue(tenant_a, owner_a, pkce=True)
    assert 43 <= len(issued.code_verifier) <= 128
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pkce_verifier FROM integrations_oauthstate WHERE id = %s", [issued.record.pk]
        )
        stored = cursor.fetchone()[0]
    assert issued.code_verifier not in stored
    assert (
        OAuthState.objects.get(pk=issued.record.pk).pkce_verifier.reveal() == issued.code_verifier
    )


def test_prune_deletes_only_long_expired_states(tenant_a, owner_a):
    old = issue(tenant_a, owner_a)
    fresh = issue(tenant_a, owner_a)
    OAuthState.objects.filter(pk=old.record.pk).update(
        expires_at=timezone.now() - timedelta(days=2)
    )
    assert oauth_state_prune() == 1
    assert list(OAuthState.objects.values_list("pk", flat=True)) == [fresh.record.pk]
