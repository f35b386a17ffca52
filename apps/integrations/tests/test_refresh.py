"""Token refresh: serialised per connection by a lease, so a refresh token is spent once."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection as db_connection
from django.utils import timezone

from apps.integrations import services
from apps.integrations.adapters import ProviderAdapter, TokenGrant
from apps.integrations.http import ProviderError, TokenExpired
from apps.integrations.models import ConnectionStatus
from apps.integrations.registry import providers
from apps.tiktok_content.models import TikTokContentConnection

OLD_ACCESS = "old-access-token-aaaaaaaa"
OLD_REFRESH = "old-refresh-token-bbbbbbbb"


class RotatingAdapter(ProviderAdapter):
    """Behaves like Login Kit: each refresh rotates the refresh token; a spent one is refused."""

    provider_key = "tiktok_content"

    def __init__(self, delay: float = 0.0, refuse: Exception | None = None):
        self.delay = delay
        self.refuse = refuse
        self.calls = 0
        self.spent: set[str] = set()
        self._lock = threading.Lock()

    def authorization_url(self, **kwargs) -> str:
        return "https://provider.example/authorize"

    def exchange_code(self, **kwargs) -> TokenGrant:
        return TokenGrant(access_token="unused")

    def test(self, *, connection) -> str:
        return "ok"

    def refresh(self, *, connection) -> TokenGrant:
        refresh_token = connection.refresh_token.reveal()
        with self._lock:
            self.calls += 1
            n = self.calls
            if refresh_token in self.spent:
                raise TokenExpired("refresh token already used", code="invalid_grant")
            self.spent.add(refresh_token)
        time.sleep(self.delay)
        if self.refuse:
            raise self.refuse
        now = timezone.now()
        return TokenGrant(
            access_token=f"new-access-{n}",
            refresh_token=f"new-refresh-{n}",
            access_expires_at=now + timedelta(hours=2),
            refresh_expires_at=now + timedelta(days=180),
        )


@pytest.fixture
def adapter(monkeypatch):
    def install(**kwargs) -> RotatingAdapter:
        fake = RotatingAdapter(**kwargs)
        monkeypatch.setitem(providers.get("tiktok_content").__dict__, "adapter", fake)
        return fake

    return install


@pytest.fixture
def connection(tenant_a):
    return TikTokContentConnection.objects.create(
        tenant=tenant_a,
        access_token=OLD_ACCESS,
        refresh_token=OLD_REFRESH,
        access_expires_at=timezone.now() + timedelta(minutes=5),
        refresh_expires_at=timezone.now() + timedelta(days=100),
    )


@pytest.mark.django_db(transaction=True)
def test_two_workers_refreshing_at_once_make_one_call_and_share_the_new_token(adapter, connection):
    fake = adapter(delay=0.5)
    barrier = threading.Barrier(2)
    seen: list[str] = []
    errors: list[BaseException] = []

    def worker():
        try:
            # Each worker has its own instance, as separate processes would.
            mine = TikTokContentConnection.objects.get(pk=connection.pk)
            refresher = services.connection_token_refresher(mine)
            barrier.wait()
            seen.append(refresher())
        except BaseException as exc:
            errors.append(exc)
        finally:
            # A thread's connection outlives it under CONN_MAX_AGE; close it so the
            # test database can be dropped at the end of the run.
            db_connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert not errors, errors
    assert fake.calls == 1
    assert seen == ["new-access-1", "new-access-1"]
    stored = TikTokContentConnection.objects.get(pk=connection.pk)
    assert stored.access_token.reveal() == "new-access-1"
    assert stored.refresh_token.reveal() == "new-refresh-1"
    assert stored.refresh_lease_token == "" and stored.refresh_lease_until is None


@pytest.mark.django_db
def test_a_caller_with_an_already_replaced_token_does_not_refresh_again(adapter, connection):
    fake = adapter()
    first = TikTokContentConnection.objects.get(pk=connection.pk)
    late = TikTokContentConnection.objects.get(pk=connection.pk)
    services.connection_token_refresher(first)()
    # ``late`` still holds the old token: it re-reads and finds the new one.
    assert services.connection_token_refresher(late)() == "new-access-1"
    assert fake.calls == 1


@pytest.mark.django_db
def test_refresh_only_when_expiring_soon_without_a_stale_token(adapter, connection):
    fake = adapter()
    connection.access_expires_at = timezone.now() + timedelta(hours=5)
    connection.save()
    services.connection_refresh(connection=connection)
    assert fake.calls == 0
    connection.access_expires_at = timezone.now() + timedelta(minutes=10)
    connection.save()
    services.connection_refresh(connection=connection)
    assert fake.calls == 1
    assert connection.access_expires_at > timezone.now() + timedelta(hours=1)


@pytest.mark.django_db
def test_a_refused_refresh_turns_the_card_expired_with_the_reason(adapter, connection):
    adapter(refuse=TokenExpired("refresh_token is invalid", code="invalid_grant"))
    services.connection_refresh(connection=connection, stale_token=OLD_ACCESS)
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.EXPIRED
    assert "refresh_token is invalid" in connection.last_error
    assert connection.refresh_lease_until is None


@pytest.mark.django_db
def test_a_transient_failure_keeps_the_status_and_raises(adapter, connection):
    adapter(refuse=ProviderError("upstream 503", code="503"))
    with pytest.raises(ProviderError):
        services.connection_refresh(connection=connection, stale_token=OLD_ACCESS)
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.CONNECTED
    assert connection.refresh_lease_until is None
    assert connection.access_token.reveal() == OLD_ACCESS


@pytest.mark.django_db
def test_a_crashed_workers_lease_lapses(adapter, connection):
    fake = adapter()
    TikTokContentConnection.objects.filter(pk=connection.pk).update(
        refresh_lease_token="dead", refresh_lease_until=timezone.now() - timedelta(seconds=1)
    )
    services.connection_refresh(connection=connection, stale_token=OLD_ACCESS)
    assert fake.calls == 1


@pytest.mark.django_db
def test_refresh_token_close_to_its_end_marks_the_card_expiring(adapter, connection):
    adapter()
    connection.refresh_expires_at = timezone.now() + timedelta(days=2)
    connection.save()
    marked = services.connection_mark_expiring(provider=providers.get("tiktok_content"))
    assert marked == 1
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.EXPIRING


@pytest.mark.django_db
def test_sweep_lists_only_live_connections_expiring_soon(adapter, connection, tenant_b):
    adapter()
    TikTokContentConnection.objects.create(
        tenant=tenant_b,
        access_token="later",
        refresh_token="r",
        access_expires_at=timezone.now() + timedelta(days=1),
    )
    due = services.connection_refresh_due_ids(provider=providers.get("tiktok_content"))
    assert due == [connection.pk]


@pytest.mark.django_db
def test_a_token_past_its_end_turns_the_card_expired(tenant_a):
    from apps.meta_ads.models import MetaProfile

    ended = MetaProfile.objects.create(
        tenant=tenant_a,
        access_token="t1",
        external_user_id="1",
        access_expires_at=timezone.now() - timedelta(minutes=1),
    )
    soon = MetaProfile.objects.create(
        tenant=tenant_a,
        access_token="t2",
        external_user_id="2",
        access_expires_at=timezone.now() + timedelta(days=3),
    )
    later = MetaProfile.objects.create(
        tenant=tenant_a,
        access_token="t3",
        external_user_id="3",
        access_expires_at=timezone.now() + timedelta(days=30),
    )
    assert services.connection_mark_expiring(provider=providers.get("meta_ads")) == 2
    statuses = dict(MetaProfile.objects.values_list("pk", "status"))
    assert statuses == {ended.pk: "expired", soon.pk: "expiring", later.pk: "connected"}
    assert "Reconnect" in MetaProfile.objects.get(pk=ended.pk).last_error


@pytest.mark.django_db
def test_a_missing_permission_marks_the_card_error_not_expired(adapter, connection, monkeypatch):
    from apps.integrations.http import PermissionDenied

    fake = adapter()

    def refuse(*, connection):
        raise PermissionDenied("scope video.list not authorized", code="scope_not_authorized")

    monkeypatch.setattr(fake, "test", refuse)
    with pytest.raises(PermissionDenied):
        services.connection_test(connection=connection)
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.ERROR
    assert "video.list" in connection.last_error


@pytest.mark.django_db
def test_a_failed_revoke_still_wipes_the_tokens(adapter, connection, monkeypatch):
    fake = adapter()

    def refuse(*, connection):
        raise ProviderError("revoke endpoint down", code="500")

    monkeypatch.setattr(fake, "revoke", refuse)
    services.connection_disconnect(connection=connection)
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.DISCONNECTED
    assert connection.access_token is None and connection.refresh_token is None
