"""Encryption of secrets at rest with MultiFernet over ``FIELD_ENCRYPTION_KEYS``.

The first key encrypts; every key decrypts. Rotating is: prepend a new key,
run ``manage.py rotate_encryption_keys``, then drop the old key. Error
messages never include a token or plaintext.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# Every Fernet token starts with the base64 of version byte 0x80.
TOKEN_PREFIX = "gAAAAA"  # noqa: S105 (a format marker, not a secret)


class DecryptionError(Exception):
    """A stored secret could not be decrypted with any configured key."""


@lru_cache(maxsize=8)
def _fernets(keys: tuple[str, ...]) -> tuple[MultiFernet, Fernet]:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty.")
    try:
        fernets = [Fernet(key.encode()) for key in keys]
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS must hold url-safe base64 Fernet keys of 32 bytes."
        ) from exc
    return MultiFernet(fernets), fernets[0]


def _current() -> tuple[MultiFernet, Fernet]:
    return _fernets(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return _current()[0].encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _current()[0].decrypt(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError(
            "A stored secret could not be decrypted: FIELD_ENCRYPTION_KEYS lacks the key that "
            "encrypted it."
        ) from None


def is_encrypted_with_newest_key(token: str) -> bool:
    try:
        _current()[1].decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def reencrypt(token: str) -> str:
    """The same secret encrypted with the newest key (raises DecryptionError)."""
    try:
        return _current()[0].rotate(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError(
            "A stored secret could not be re-encrypted: no configured key decrypts it."
        ) from None
