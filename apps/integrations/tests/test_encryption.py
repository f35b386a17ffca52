"""Secrets at rest: never plaintext in the database, dumps, repr or errors; keys rotate."""

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core import serializers
from django.core.management import CommandError, call_command
from django.db import connection as db

from apps.integrations import crypto
from apps.integrations.fields import Secret, UndecryptableSecret
from apps.tiktok_content.models import TikTokContentConnection

pytestmark = pytest.mark.django_db

ACCESS = "act.plaintext-access-token-1234567890"
REFRESH = "rft.plaintext-refresh-token-0987654321"
KEY1 = Fernet.generate_key().decode()
KEY2 = Fernet.generate_key().decode()


def raw_row(pk: int) -> tuple:
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT access_token, refresh_token FROM tiktok_content_tiktokcontentconnection WHERE id = %s",
            [pk],
        )
        return cursor.fetchone()


@pytest.fixture
def conn(tenant_a):
    return TikTokContentConnection.objects.create(
        tenant=tenant_a, access_token=ACCESS, refresh_token=REFRESH
    )


def test_column_holds_ciphertext_and_attribute_a_masked_secret(conn):
    stored_access, stored_refresh = raw_row(conn.pk)
    assert ACCESS not in stored_access and REFRESH not in stored_refresh
    assert stored_access.startswith(crypto.TOKEN_PREFIX)
    loaded = TikTokContentConnection.objects.get(pk=conn.pk)
    assert isinstance(loaded.access_token, Secret)
    assert loaded.access_token.reveal() == ACCESS
    for text in (repr(loaded.access_token), str(loaded.access_token), repr(loaded), str(loaded)):
        assert ACCESS not in text
    assert f"{loaded.access_token}" == "********"


def test_dumpdata_contains_no_plaintext_and_loads_back(conn):
    out = StringIO()
    call_command("dumpdata", "tiktok_content", stdout=out)
    dumped = out.getvalue()
    assert ACCESS not in dumped and REFRESH not in dumped
    assert crypto.TOKEN_PREFIX in dumped
    TikTokContentConnection.objects.all().delete()
    for obj in serializers.deserialize("json", dumped):
        obj.save()
    assert TikTokContentConnection.objects.get(pk=conn.pk).access_token.reveal() == ACCESS


def test_only_isnull_lookups_are_allowed(conn):
    assert TikTokContentConnection.objects.filter(access_token__isnull=False).count() == 1
    with pytest.raises(Exception, match="Unsupported lookup"):
        list(TikTokContentConnection.objects.filter(access_token__exact=ACCESS))


def test_empty_secret_is_stored_as_null(tenant_a):
    row = TikTokContentConnection.objects.create(tenant=tenant_a, access_token="")
    assert raw_row(row.pk) == (None, None)


def test_value_under_a_lost_key_reads_as_undecryptable_not_a_crash(conn, settings):
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    loaded = TikTokContentConnection.objects.get(pk=conn.pk)
    assert isinstance(loaded.access_token, UndecryptableSecret)
    assert bool(loaded.access_token)
    with pytest.raises(crypto.DecryptionError) as exc:
        loaded.access_token.reveal()
    assert ACCESS not in str(exc.value)


def test_key_rotation_end_to_end(tenant_a, settings):
    settings.FIELD_ENCRYPTION_KEYS = [KEY1]
    row = TikTokContentConnection.objects.create(
        tenant=tenant_a, access_token=ACCESS, refresh_token=REFRESH
    )
    before = raw_row(row.pk)

    settings.FIELD_ENCRYPTION_KEYS = [KEY2, KEY1]
    out = StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    assert "rotated 2" in out.getvalue()
    after = raw_row(row.pk)
    assert after != before
    assert all(crypto.is_encrypted_with_newest_key(v) for v in after)

    # Idempotent: a second run finds everything current.
    out = StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    assert "rotated 0" in out.getvalue() and "already current 2" in out.getvalue()
    assert raw_row(row.pk) == after

    settings.FIELD_ENCRYPTION_KEYS = [KEY2]
    loaded = TikTokContentConnection.objects.get(pk=row.pk)
    assert loaded.access_token.reveal() == ACCESS
    assert loaded.refresh_token.reveal() == REFRESH


def test_rotation_reports_values_no_key_decrypts(tenant_a, settings):
    settings.FIELD_ENCRYPTION_KEYS = [KEY1]
    TikTokContentConnection.objects.create(tenant=tenant_a, access_token=ACCESS)
    settings.FIELD_ENCRYPTION_KEYS = [KEY2]
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="could not be decrypted"):
        call_command("rotate_encryption_keys", stdout=out, stderr=err)
    assert "undecryptable 1" in out.getvalue()
    assert ACCESS not in out.getvalue() + err.getvalue()


def test_assigning_plaintext_gives_a_secret_at_once(tenant_a):
    row = TikTokContentConnection(tenant=tenant_a, access_token=ACCESS)
    assert isinstance(row.access_token, Secret)
    row.refresh_token = REFRESH
    assert isinstance(row.refresh_token, Secret) and row.refresh_token.reveal() == REFRESH
    row.refresh_token = None
    assert row.refresh_token is None
