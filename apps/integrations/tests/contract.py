"""The battery of tests every provider must pass, end to end through the sandbox.

A product's test module subclasses :class:`ProviderContract`, names its
product and sandbox, and inherits the rest: connect through the real views and
the emulated consent screen, tokens stored encrypted, state single use, denial,
partial grants, refresh (with rotation where the provider rotates), test
connection, disconnect revokes and wipes.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from django.conf import settings
from django.db import connection as db
from django.test import Client
from django.urls import reverse

from apps.integrations import services
from apps.integrations.http import TokenExpired
from apps.integrations.models import ConnectionStatus, OAuthState
from apps.integrations.registry import providers
from apps.sandbox import generator


def raw_tokens(model, pk: int) -> tuple:
    table = model._meta.db_table
    with db.cursor() as cursor:
        cursor.execute(f"SELECT access_token, refresh_token FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()


class ProviderContract:
    provider_key: str = ""
    #: the sandbox's name for the provider
    sandbox_provider: str = ""
    #: packs asked for on connect
    packs: tuple[str, ...] = ()
    #: a provider scope the consent screen lets the user untick, to produce a partial grant
    declinable_scope: str | None = None
    #: the sandbox path of the endpoint the adapter's test() calls
    test_path: str = ""
    #: the sandbox path of the token refresh endpoint (refreshable providers)
    refresh_path: str = ""
    #: the sandbox path of the revoke endpoint, when the provider has one
    revoke_path: str = ""

    # --- the walk a browser makes -----------------------------------------------------

    @property
    def provider(self):
        return providers.get(self.provider_key)

    def start(self, client: Client, packs=None) -> str:
        response = client.post(
            reverse("integrations:connect", args=[self.provider_key]),
            {"packs": list(packs if packs is not None else self.packs), "confirm_sensitive": "on"},
        )
        assert response.status_code == 302, response.content
        return response["Location"]

    def consent(self, authorize_url: str, *, decision: str = "authorize", decline=()) -> str:
        """Answer the sandbox consent screen; return the hub callback path with its query."""
        parts = urlsplit(authorize_url)
        assert authorize_url.startswith(settings.SANDBOX_BASE_URL), authorize_url
        query = dict(parse_qsl(parts.query))
        identity = generator.identities(self.sandbox_provider)[0]
        if self.sandbox_provider == "meta":
            query["sandbox_user"] = identity.account_id
        path = f"{parts.path}?{urlencode(query)}"
        browser = Client()
        assert browser.get(path).status_code == 200
        requested = [s for s in query.get("scope", "").split(",") if s]
        form = {
            "decision": decision,
            "account_id": identity.account_id,
            "scopes": [s for s in requested if s not in decline],
        }
        answer = browser.post(path, form)
        assert answer.status_code == 302, answer.content
        back = urlsplit(answer["Location"])
        return f"{back.path}?{back.query}"

    def connect(self, client: Client, **consent_kwargs):
        callback = self.consent(self.start(client), **consent_kwargs)
        response = client.get(callback, follow=True)
        assert response.status_code == 200
        return self.provider.model.objects.get(), response

    # --- the contract -------------------------------------------------------------------

    def test_connect_stores_tokens_encrypted_only(self, owner_client, owner_a, sandbox):
        conn, response = self.connect(owner_client)
        assert "connected" in response.content.decode()
        assert conn.status in (ConnectionStatus.CONNECTED, ConnectionStatus.EXPIRING)
        assert conn.connected_by == owner_a
        assert conn.scope_packs == list(self.packs)
        plaintext = conn.access_token.reveal()
        assert plaintext and plaintext not in repr(conn)
        stored = raw_tokens(type(conn), conn.pk)
        assert plaintext not in (stored[0] or "")
        if conn.refresh_token:
            assert conn.refresh_token.reveal() not in (stored[1] or "")
        from io import StringIO

        from django.core.management import call_command

        dump = StringIO()
        call_command("dumpdata", type(conn)._meta.app_label, stdout=dump)
        assert plaintext not in dump.getvalue()

    def test_reused_callback_is_refused_and_writes_nothing(self, owner_client, sandbox):
        callback = self.consent(self.start(owner_client))
        owner_client.get(callback)
        self.provider.model.objects.all().delete()
        response = owner_client.get(callback, follow=True)
        assert "already used" in response.content.decode()
        assert not self.provider.model.objects.exists()

    def test_denied_consent_ends_on_the_hub_with_a_message(self, owner_client, sandbox):
        callback = self.consent(self.start(owner_client), decision="deny")
        response = owner_client.get(callback, follow=True)
        assert response.status_code == 200
        assert response.redirect_chain[-1][0].startswith(reverse("integrations:hub"))
        body = response.content.decode()
        assert "declined" in body or "refused" in body
        assert not self.provider.model.objects.exists()
        assert OAuthState.objects.get().consumed_at is not None

    def test_callback_of_another_user_is_refused(
        self, owner_client, tenant_a, make_member, client, sandbox
    ):
        callback = self.consent(self.start(owner_client))
        intruder = make_member(tenant_a, "admin")
        other = Client()
        other.force_login(intruder)
        response = other.get(callback, follow=True)
        assert "started by another user" in response.content.decode()
        assert not self.provider.model.objects.exists()
        # The rightful user can still finish.
        owner_client.get(callback)
        assert self.provider.model.objects.count() == 1

    def test_partial_grant_is_recorded_pack_by_pack(self, owner_client, sandbox):
        if not self.declinable_scope:
            pytest.skip("this provider's consent screen grants all or nothing")
        conn, response = self.connect(owner_client, decline=(self.declinable_scope,))
        assert self.declinable_scope not in conn.granted_scopes
        assert "not granted" in response.content.decode()
        card = owner_client.get(reverse("integrations:hub") + self.tab_query()).content.decode()
        assert "partly granted" in card or "not granted" in card

    def tab_query(self) -> str:
        return f"?tab={self.provider.platform.key}"

    def test_test_connection_keeps_a_working_connection_connected(self, owner_client, sandbox):
        conn, _ = self.connect(owner_client)
        summary = services.connection_test(connection=conn)
        assert summary
        conn.refresh_from_db()
        assert conn.status in (ConnectionStatus.CONNECTED, ConnectionStatus.EXPIRING)
        assert conn.last_error == ""

    def test_a_refused_token_turns_the_card_expired(self, owner_client, sandbox):
        conn, _ = self.connect(owner_client)
        sandbox.inject(
            provider=self.sandbox_provider,
            path_contains=self.test_path,
            kind="expired_token",
            times=10,
        )
        with pytest.raises(TokenExpired):
            services.connection_test(connection=conn)
        conn.refresh_from_db()
        assert conn.status == ConnectionStatus.EXPIRED
        assert conn.last_error
        response = owner_client.get(reverse("integrations:hub") + self.tab_query())
        assert "Expired" in response.content.decode()

    def test_expired_access_token_is_refreshed_once_and_the_call_retried(
        self, owner_client, sandbox
    ):
        if not self.provider.adapter.refreshable:
            pytest.skip("this provider's tokens are not refreshed")
        conn, _ = self.connect(owner_client)
        old_access = conn.access_token.reveal()
        old_refresh = conn.refresh_token.reveal()
        sandbox.inject(
            provider=self.sandbox_provider, path_contains=self.test_path, kind="expired_token"
        )
        before = sandbox.calls(self.refresh_path)
        services.connection_test(connection=conn)
        assert sandbox.calls(self.refresh_path) - before == 1
        conn.refresh_from_db()
        assert conn.access_token.reveal() != old_access
        assert conn.status in (ConnectionStatus.CONNECTED, ConnectionStatus.EXPIRING)
        self.assert_refresh_rotation(conn, old_refresh)

    def assert_refresh_rotation(self, conn, old_refresh: str) -> None:
        """Providers that rotate refresh tokens override this to prove the old one died."""

    def test_disconnect_revokes_wipes_tokens_and_keeps_the_row(self, owner_client, sandbox):
        conn, _ = self.connect(owner_client)
        before = sandbox.calls(self.revoke_path) if self.revoke_path else 0
        response = owner_client.post(
            reverse("integrations:disconnect", args=[self.provider_key, conn.pk]), follow=True
        )
        assert "Disconnected" in response.content.decode()
        conn.refresh_from_db()
        assert conn.status == ConnectionStatus.DISCONNECTED
        assert conn.access_token is None and conn.refresh_token is None
        assert raw_tokens(type(conn), conn.pk) == (None, None)
        if self.revoke_path:
            assert sandbox.calls(self.revoke_path) - before == 1

    def test_plain_member_cannot_connect(self, member_client, sandbox):
        response = member_client.post(
            reverse("integrations:connect", args=[self.provider_key]), {"packs": list(self.packs)}
        )
        assert response.status_code == 403
        assert not OAuthState.objects.exists()

    token_exchange_path: str = ""

    @pytest.mark.parametrize("fault", ["500", "timeout"])
    def test_provider_or_network_error_at_the_token_exchange_writes_nothing(
        self, fault, owner_client, sandbox
    ):
        callback = self.consent(self.start(owner_client))
        sandbox.inject(
            provider=self.sandbox_provider,
            path_contains=self.token_exchange_path,
            kind=fault,
            times=5,
        )
        response = owner_client.get(callback, follow=True)
        assert response.status_code == 200
        assert "refused the connection" in response.content.decode()
        assert not self.provider.model.objects.exists()
        # A code is single use: the exchange is never retried, so one call reached the provider.
        assert sandbox.calls(self.token_exchange_path) == 1

    def test_tokens_survive_key_rotation_and_calls_still_work(
        self, owner_client, sandbox, settings
    ):
        from io import StringIO

        from cryptography.fernet import Fernet
        from django.core.management import call_command

        key1, key2 = Fernet.generate_key().decode(), Fernet.generate_key().decode()
        settings.FIELD_ENCRYPTION_KEYS = [key1]
        conn, _ = self.connect(owner_client)
        settings.FIELD_ENCRYPTION_KEYS = [key2, key1]
        call_command("rotate_encryption_keys", stdout=StringIO())
        settings.FIELD_ENCRYPTION_KEYS = [key2]
        conn = self.provider.model.objects.get(pk=conn.pk)
        assert services.connection_test(connection=conn)
