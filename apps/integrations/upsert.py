"""Insert-or-update many rows on their natural key in a constant number of queries.

Sync pages land here: a page of provider records becomes one upsert keyed on
the provider's id, never a query per row.

Two paths, chosen by the connection:

- **PostgreSQL (psycopg 3)**: ``COPY`` the rows into a session-long staging table, then one
  ``INSERT ... SELECT ... ON CONFLICT (...) DO UPDATE ... RETURNING (xmax = 0)``
  that reports how many rows were created (``xmax = 0`` marks a freshly
  inserted tuple; an updated one carries the updating transaction's id).
- **Everything else that speaks ``ON CONFLICT``** (SQLite, PostgreSQL on
  psycopg 2): count the keys that already exist in one query, then one
  ``executemany`` of ``INSERT ... ON CONFLICT (...) DO UPDATE``.

Both run in one transaction per call. Values go through each field's
``get_db_prep_save`` (skipped where it is the identity: plain text, integers,
booleans, integer foreign keys, aware datetimes on PostgreSQL), so JSON,
decimals and datetimes are stored exactly as ``Model.save()`` would store them. Fields missing from the rows get their
model default on insert, exactly as ``save()`` would write them (``""`` for
text, ``NULL`` otherwise; ``auto_now``/``auto_now_add`` as in ``save()``) and
are left alone on update.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import NotSupportedError, connections, models, router, transaction
from django.db.models.fields import AutoFieldMixin, Field
from django.utils import timezone

# Rows per statement. A sync page is usually smaller; bigger inputs (backfills,
# benchmarks) are cut into batches of this size, each one COPY + one INSERT.
DEFAULT_BATCH_SIZE = 2000


@dataclass(frozen=True)
class UpsertResult:
    """Rows inserted and rows that matched an existing key (and were updated)."""

    created: int = 0
    updated: int = 0

    def __add__(self, other: UpsertResult) -> UpsertResult:
        return UpsertResult(self.created + other.created, self.updated + other.updated)

    @property
    def total(self) -> int:
        return self.created + self.updated


@dataclass(frozen=True)
class _Plan:
    """Which columns an upsert writes, resolved once per call from the model's ``_meta``."""

    table: str
    # (field, key in the row dicts, or None for a column filled from the model default)
    columns: list[tuple[Field, str | None]]
    unique: list[Field]
    update: list[Field]


def bulk_upsert(
    *,
    model: type[models.Model],
    rows: list[dict[str, Any]],
    unique_fields: Sequence[str],
    update_fields: Sequence[str] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> UpsertResult:
    """Insert ``rows`` into ``model``'s table, updating the rows whose unique key exists.

    ``rows`` are dicts of field names (or attnames: ``tenant_id``) to Python
    values; every row must have the same keys. ``unique_fields`` must match a
    unique constraint of the table. ``update_fields`` defaults to every given
    column outside the key. A key repeated in ``rows`` is written once, with
    its last row, and counted once.
    """
    if not rows:
        return UpsertResult()
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1.")
    using = router.db_for_write(model)
    connection = connections[using]
    plan = _plan(
        model=model, keys=list(rows[0]), unique_fields=unique_fields, update_fields=update_fields
    )
    values = _prepare(plan=plan, rows=rows, connection=connection)

    result = UpsertResult()
    if not connection.in_atomic_block and connection.connection is not None:
        _staging_tables(connection).filled.clear()  # a new transaction: every table is empty
    with transaction.atomic(using=using, savepoint=False):
        if connection.vendor == "postgresql" and _is_psycopg3():
            upsert_batch = _PostgresCopyUpsert(plan=plan, connection=connection)
        elif connection.features.supports_update_conflicts_with_target:
            upsert_batch = _OnConflictUpsert(plan=plan, connection=connection)
        else:
            raise NotSupportedError(
                f"bulk_upsert needs INSERT ... ON CONFLICT; {connection.vendor} does not offer it."
            )
        with upsert_batch:
            for start in range(0, len(values), batch_size):
                result += upsert_batch(values[start : start + batch_size])
    return result


def _is_psycopg3() -> bool:
    try:
        from django.db.backends.postgresql.psycopg_any import is_psycopg3
    except ImportError:  # no PostgreSQL driver installed at all
        return False
    return is_psycopg3


def _plan(
    *,
    model: type[models.Model],
    keys: list[str],
    unique_fields: Sequence[str],
    update_fields: Sequence[str] | None,
) -> _Plan:
    meta = model._meta

    def concrete(name: str) -> Field:
        field = meta.get_field(name)
        if not getattr(field, "concrete", False) or field.many_to_many:
            raise ValueError(f"{meta.label}.{name} is not a column bulk_upsert can write.")
        return field

    given: dict[str, str] = {}
    for key in keys:
        field = concrete(key)
        if field.attname in given:
            raise ValueError(
                f"Rows name {meta.label}.{field.name} twice ({given[field.attname]!r}, {key!r})."
            )
        given[field.attname] = key
    unique = [concrete(name) for name in unique_fields]
    if not unique:
        raise ValueError("unique_fields must name at least one field.")
    missing = [f.name for f in unique if f.attname not in given]
    if missing:
        raise ValueError(f"Rows lack the unique field(s) {missing} of {meta.label}.")

    columns: list[tuple[Field, str | None]] = []
    auto_now: list[Field] = []
    for field in meta.concrete_fields:
        if field.attname in given:
            columns.append((field, given[field.attname]))
        elif field.primary_key and isinstance(field, AutoFieldMixin):
            continue  # the database numbers new rows
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            columns.append((field, None))
            if field.auto_now:
                auto_now.append(field)
        elif field.has_db_default():
            continue  # the database fills it
        else:
            # What Model.save() would write: the default, "" for text, else NULL.
            columns.append((field, None))

    if update_fields is None:
        unique_names = {f.attname for f in unique}
        update = [f for f, key in columns if key is not None and f.attname not in unique_names]
    else:
        update = [concrete(name) for name in update_fields]
        absent = [f.name for f in update if f.attname not in given]
        if absent:
            raise ValueError(f"update_fields {absent} are not in the rows.")
    update += [f for f in auto_now if f not in update]
    return _Plan(table=meta.db_table, columns=columns, unique=unique, update=update)


def _prepare(*, plan: _Plan, rows: list[dict[str, Any]], connection) -> list[tuple]:
    """Database values for each row, in ``plan.columns`` order, last row winning per key.

    This loop is the hot path of a sync page: the per-column work is bound once.
    """
    keys = {key for _, key in plan.columns if key is not None}
    now = timezone.now()
    columns: list[tuple[Callable[..., Any], str | None, Callable[[], Any] | None, bool]] = []
    for field, key in plan.columns:
        default = None
        if key is None:
            default = (lambda: now) if _is_auto_time(field) else field.get_default
        columns.append((_converter(field, connection), key, default, field.is_relation))
    unique_positions = [i for i, (f, _) in enumerate(plan.columns) if f in plan.unique]
    by_key: dict[tuple, tuple] = {}
    for number, row in enumerate(rows):
        if row.keys() != keys:
            raise ValueError(
                f"Row {number} has keys {sorted(row)}; every row must have {sorted(keys)}."
            )
        prepared = []
        for prep, key, default, is_relation in columns:
            if default is not None:
                value = default()
            else:
                value = row[key]
                if is_relation and isinstance(value, models.Model):
                    value = value.pk
            prepared.append(prep(value))
        row_key = tuple(_hashable(prepared[i]) for i in unique_positions)
        by_key.pop(row_key, None)  # re-insert so the surviving row keeps the latest position
        by_key[row_key] = tuple(prepared)
    return list(by_key.values())


#: field types whose ``get_db_prep_save`` hands back a value of these Python types unchanged
#: (exact types: a subclass such as an encrypted text field may prepare values its own way)
_PASS_THROUGH: dict[type[Field], tuple[type, ...]] = {
    models.CharField: (str,),
    models.TextField: (str,),
    models.SlugField: (str,),
    models.IntegerField: (int,),
    models.BigIntegerField: (int,),
    models.SmallIntegerField: (int,),
    models.PositiveIntegerField: (int,),
    models.PositiveBigIntegerField: (int,),
    models.PositiveSmallIntegerField: (int,),
    models.BooleanField: (bool,),
    models.AutoField: (int,),
    models.BigAutoField: (int,),
}


_PASS_THROUGH_POSTGRES: dict[type[Field], tuple[type, ...]] = {
    models.DateTimeField: (datetime,),
    models.DateField: (date,),
    models.DecimalField: (Decimal,),
}


def _converter(field: Field, connection) -> Callable[[Any], Any]:
    """The per-value preparation of one column, skipping Django's when it is the identity.

    ``get_db_prep_save`` costs microseconds a call, and a page of orders makes
    tens of thousands: for plain text, numbers, booleans, foreign keys to
    integer keys and (on PostgreSQL) aware datetimes, dates and decimals, the
    value already is what the driver takes. Anything else, or a value of
    another type, goes through Django.
    """
    prep = field.get_db_prep_save
    target = field.target_field if field.is_relation else field
    natural = _PASS_THROUGH.get(type(target))
    if natural is None and connection.vendor == "postgresql":
        # psycopg adapts these itself; Django's PostgreSQL operations pass them through.
        natural = _PASS_THROUGH_POSTGRES.get(type(target))
    if natural is None or (field.is_relation and type(field) is not models.ForeignKey):
        return lambda value: prep(value, connection)
    aware_only = natural == (datetime,)

    def convert(value: Any) -> Any:
        if value is None:
            return None
        if type(value) in natural and not (aware_only and value.tzinfo is None):
            return value
        return prep(value, connection)

    return convert


def _is_auto_time(field: Field) -> bool:
    return bool(getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False))


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


@dataclass
class _StagingTables:
    """What one database session knows of its staging tables (see ``_PostgresCopyUpsert``)."""

    #: the psycopg connection these facts are about; a reconnect starts afresh
    raw: Any
    #: created by a committed transaction, so they last as long as the session
    created: set[str]
    #: filled by the transaction in progress (forgotten when the next one starts: a
    #: commit empties the tables, a rollback takes their rows away)
    filled: set[str]


def _staging_tables(connection) -> _StagingTables:
    state = getattr(connection, "_upsert_staging_tables", None)
    if state is None or state.raw is not connection.connection:
        state = _StagingTables(raw=connection.connection, created=set(), filled=set())
        connection._upsert_staging_tables = state
    return state


class _PostgresCopyUpsert:
    """A session-long staging table per (table, columns); per batch one COPY and one INSERT.

    Creating and dropping a temporary table costs more than the COPY itself
    for a sync page of a hundred rows (catalog writes each time), so the
    staging table lives as long as the database session, ``ON COMMIT DELETE
    ROWS``: the commit empties it, without a statement or dead rows (a temporary
    table is never vacuumed). ``CREATE ... IF NOT EXISTS`` is sent until a
    transaction that made it has committed (a rollback takes it away again),
    and a table already filled in the same transaction, by an earlier call or
    batch, is emptied with ``DELETE`` first.
    """

    def __init__(self, *, plan: _Plan, connection) -> None:
        self.plan = plan
        self.connection = connection
        quote = connection.ops.quote_name
        self.target = quote(plan.table)
        self.cols = ", ".join(quote(f.column) for f, _ in plan.columns)
        digest = hashlib.sha1(f"{plan.table}:{self.cols}".encode(), usedforsecurity=False)
        self.name = f"upsert_{digest.hexdigest()[:20]}"
        self.temp = quote(self.name)

    def __enter__(self) -> _PostgresCopyUpsert:
        self.cursor = self.connection.cursor()
        self.tables = _staging_tables(self.connection)
        if self.name not in self.tables.created:
            # Same column types as the target, no constraints.
            self.cursor.execute(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {self.temp} "  # noqa: S608 - quoted identifiers
                f"ON COMMIT DELETE ROWS AS SELECT {self.cols} FROM {self.target} WITH NO DATA"
            )
            transaction.on_commit(
                functools.partial(self.tables.created.add, self.name),
                using=self.connection.alias,
            )
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.cursor.close()

    def __call__(self, batch: list[tuple]) -> UpsertResult:
        quote = self.connection.ops.quote_name
        if self.name in self.tables.filled:
            self.cursor.execute(f"DELETE FROM {self.temp}")  # noqa: S608 - quoted identifier
        else:
            self.tables.filled.add(self.name)
        with self.cursor.copy(f"COPY {self.temp} ({self.cols}) FROM STDIN") as copy:
            for row in batch:
                copy.write_row(row)
        conflict = ", ".join(quote(f.column) for f in self.plan.unique)
        if self.plan.update:
            action = "DO UPDATE SET " + ", ".join(
                f"{quote(f.column)} = EXCLUDED.{quote(f.column)}" for f in self.plan.update
            )
        else:
            action = "DO NOTHING"
        self.cursor.execute(
            f"WITH upserted AS ("  # noqa: S608 - quoted identifiers
            f"INSERT INTO {self.target} ({self.cols}) SELECT {self.cols} FROM {self.temp} "
            f"ON CONFLICT ({conflict}) {action} RETURNING (xmax = 0) AS inserted"
            f") SELECT COUNT(*) FILTER (WHERE inserted) FROM upserted"
        )
        (created,) = self.cursor.fetchone()
        # With DO NOTHING, existing keys return no row: they still count as matched.
        return UpsertResult(created=created, updated=len(batch) - created)


class _OnConflictUpsert:
    """Count the existing keys, then ``executemany`` an ``INSERT ... ON CONFLICT``."""

    def __init__(self, *, plan: _Plan, connection) -> None:
        self.plan = plan
        self.connection = connection
        quote = connection.ops.quote_name
        fields = [f for f, _ in plan.columns]
        self.unique_positions = [fields.index(f) for f in plan.unique]
        target = quote(plan.table)
        cols = ", ".join(quote(f.column) for f in fields)
        placeholders = ", ".join(["%s"] * len(fields))
        conflict = ", ".join(quote(f.column) for f in plan.unique)
        if plan.update:
            action = "DO UPDATE SET " + ", ".join(
                f"{quote(f.column)} = excluded.{quote(f.column)}" for f in plan.update
            )
        else:
            action = "DO NOTHING"
        self.insert_sql = (
            f"INSERT INTO {target} ({cols}) VALUES ({placeholders}) "  # noqa: S608 - quoted identifiers
            f"ON CONFLICT ({conflict}) {action}"
        )
        # Keys as a CTE joined to the table: SQLite searches the unique index this way,
        # while ``(a, b) IN (VALUES ...)`` scans it whole (3.40 plans it as a SCAN).
        key_names = [f"k{i}" for i in range(len(plan.unique))]
        self.key_cte = f"WITH k({', '.join(key_names)}) AS (VALUES "
        join = " AND ".join(
            f"t.{quote(f.column)} = k.{name}"
            for f, name in zip(plan.unique, key_names, strict=True)
        )
        self.key_tail = (
            f") SELECT COUNT(*) FROM (SELECT DISTINCT {', '.join(key_names)} FROM k) AS k "  # noqa: S608
            f"JOIN {target} AS t ON {join}"
        )

    def __enter__(self) -> _OnConflictUpsert:
        self.cursor = self.connection.cursor()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.cursor.close()

    def __call__(self, batch: list[tuple]) -> UpsertResult:
        existing = self._count_existing(
            [tuple(row[i] for i in self.unique_positions) for row in batch]
        )
        self.cursor.executemany(self.insert_sql, batch)
        return UpsertResult(created=len(batch) - existing, updated=existing)

    def _count_existing(self, keys: list[tuple]) -> int:
        """One CTE-join count per batch; split only past the driver's parameter limit."""
        width = len(self.unique_positions)
        per_query = max(1, self._max_params() // width)
        existing = 0
        for chunk in _chunks(keys, per_query):
            row = "(" + ", ".join(["%s"] * width) + ")"
            self.cursor.execute(
                self.key_cte + ", ".join([row] * len(chunk)) + self.key_tail,
                [value for key in chunk for value in key],
            )
            existing += self.cursor.fetchone()[0]
        return existing

    def _max_params(self) -> int:
        raw = self.connection.connection
        if self.connection.vendor == "sqlite":
            import sqlite3

            # Django assumes the historical 999; the linked library usually allows far more.
            return raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        return self.connection.features.max_query_params or 32767


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
