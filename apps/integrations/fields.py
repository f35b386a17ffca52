"""A model field that keeps secrets encrypted in the database.

Reading the attribute gives a :class:`Secret`, never a ``str``: its ``repr``
and ``str`` are masked, so a token cannot slip into a log line, an error
message or a template by accident. Code that needs the plaintext asks for it
with ``.reveal()``.
"""

from __future__ import annotations

from django.db import models
from django.db.models.query_utils import DeferredAttribute
from django.utils.translation import gettext_lazy as _

from . import crypto

MASK = "********"


class Secret:
    __slots__ = ("_plaintext",)

    def __init__(self, plaintext: str) -> None:
        self._plaintext = plaintext

    def reveal(self) -> str:
        return self._plaintext

    def __repr__(self) -> str:
        return f"Secret({MASK})"

    def __str__(self) -> str:
        return MASK

    def __bool__(self) -> bool:
        return bool(self._plaintext)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            return self._plaintext == other._plaintext
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._plaintext)


class UndecryptableSecret(Secret):
    """A stored value no configured key decrypts; listing pages still render."""

    def __init__(self) -> None:
        super().__init__("")

    def reveal(self) -> str:
        raise crypto.DecryptionError(
            "This secret was encrypted with a key that is no longer in FIELD_ENCRYPTION_KEYS."
        )

    def __bool__(self) -> bool:
        return True


def _as_secret(value) -> Secret | None:
    if value is None or isinstance(value, Secret):
        return value
    return Secret(str(value))


class SecretDescriptor(DeferredAttribute):
    """Wraps whatever is assigned in a :class:`Secret`, so the attribute is never a bare str."""

    def __set__(self, instance, value) -> None:
        instance.__dict__[self.field.attname] = _as_secret(value)


class EncryptedTextField(models.TextField):
    """Fernet ciphertext in the column, :class:`Secret` on the instance.

    Only ``isnull`` lookups make sense on ciphertext; others are refused.
    Serialisation (``dumpdata``) writes the ciphertext, and loading it back
    recognises ciphertext and decrypts it.
    """

    description = _("Text encrypted at rest")
    descriptor_class = SecretDescriptor

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        try:
            return Secret(crypto.decrypt(value))
        except crypto.DecryptionError:
            return UndecryptableSecret()

    def to_python(self, value):
        if isinstance(value, str) and value.startswith(crypto.TOKEN_PREFIX):
            try:
                return Secret(crypto.decrypt(value))
            except crypto.DecryptionError:
                pass
        return _as_secret(value)

    def get_prep_value(self, value):
        value = _as_secret(value)
        if value is None or not value:
            return None
        return crypto.encrypt(value.reveal())

    def value_to_string(self, obj) -> str | None:
        return self.get_prep_value(self.value_from_object(obj))

    def get_lookup(self, lookup_name):
        if lookup_name != "isnull":
            return None
        return super().get_lookup(lookup_name)

    def formfield(self, **kwargs):
        return None  # secrets are never edited in forms or the admin
