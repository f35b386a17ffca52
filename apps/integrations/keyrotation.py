"""Re-encrypt every encrypted column of every model with the newest key.

Reads the ciphertext as plain text (a ``Cast`` bypasses the field's
decryption), skips values already under the newest key, and writes each
batch back with one ``UPDATE ... CASE`` per column. Safe to rerun: a second
run finds everything current.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.apps import apps
from django.db import models, transaction
from django.db.models import Case, TextField, Value, When
from django.db.models.functions import Cast

from . import crypto
from .fields import EncryptedTextField

BATCH_SIZE = 500


@dataclass
class RotationStats:
    rows: int = 0
    rotated: int = 0
    current: int = 0
    empty: int = 0
    undecryptable: list[tuple[str, object, str]] = field(default_factory=list)

    def add(self, other: RotationStats) -> None:
        self.rows += other.rows
        self.rotated += other.rotated
        self.current += other.current
        self.empty += other.empty
        self.undecryptable.extend(other.undecryptable)


def encrypted_models() -> Iterator[tuple[type[models.Model], list[str]]]:
    for model in apps.get_models():
        names = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        if names:
            yield model, names


def _raw_batches(model, names: list[str]) -> Iterator[list[tuple]]:
    raw = {f"raw_{name}": Cast(name, output_field=TextField()) for name in names}
    queryset = model._base_manager.annotate(**raw).order_by("pk")
    columns = ["pk", *raw]
    last_pk = None
    while True:
        page = queryset if last_pk is None else queryset.filter(pk__gt=last_pk)
        rows = list(page.values_list(*columns)[:BATCH_SIZE])
        if not rows:
            return
        yield rows
        last_pk = rows[-1][0]


def _rotate_value(token: str | None) -> tuple[str, str | None]:
    """('empty'|'current'|'rotated', new token) for one stored value."""
    if not token:
        return "empty", None
    if crypto.is_encrypted_with_newest_key(token):
        return "current", None
    return "rotated", crypto.reencrypt(token)


def rotate_model(
    model, names: list[str], progress: Callable[[int], None] | None = None
) -> RotationStats:
    stats = RotationStats()
    label = model._meta.label
    for rows in _raw_batches(model, names):
        updates: dict[str, dict] = {name: {} for name in names}
        for pk, *tokens in rows:
            stats.rows += 1
            for name, token in zip(names, tokens, strict=True):
                try:
                    outcome, new_token = _rotate_value(token)
                except crypto.DecryptionError:
                    stats.undecryptable.append((label, pk, name))
                    continue
                setattr(stats, outcome, getattr(stats, outcome) + 1)
                if new_token is not None:
                    updates[name][pk] = new_token
        _write(model, updates)
        if progress:
            progress(len(rows))
    return stats


@transaction.atomic
def _write(model, updates: dict[str, dict]) -> None:
    for name, by_pk in updates.items():
        if not by_pk:
            continue
        # Value(..., TextField()) writes the ciphertext as is, not through the field's encryption.
        case = Case(
            *[
                When(pk=pk, then=Value(token, output_field=TextField()))
                for pk, token in by_pk.items()
            ],
            output_field=TextField(),
        )
        model._base_manager.filter(pk__in=list(by_pk)).update(**{name: case})
