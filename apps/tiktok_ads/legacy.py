"""Import TikTok Ads connections from the legacy ``marketing_integrations`` export.

Phase 1 of the migration plan (seed 000) moves each tenant's TikTok Ads
authorization out of the legacy table's ``tiktok_*`` columns into
:class:`~apps.tiktok_ads.models.TikTokAdsConnection`. An operator exports those
columns (CSV, or JSON as an array of objects) and runs
``manage.py import_legacy_tiktok_ads FILE``; the command is thin and calls
:func:`legacy_file_read` then :func:`legacy_import_run`.

Rules (the README's "Importing legacy TikTok Ads connections" has the column
table):

- **One file, one pass, row by row.** A row that fails validation, names an
  unknown tenant or is refused by the database is an ``error`` for that row
  only; the other rows still import. Each row is applied in its own
  transaction, so a failure never leaves half a row behind.
- **Columns are explicit.** ``tenant_slug`` and ``tiktok_access_token`` are
  required; :data:`USED_COLUMNS` are read; :data:`IGNORED_COLUMNS` are legacy
  columns accepted and dropped on purpose. Any other ``tiktok_*`` column stops
  the whole file before anything is written (a misspelt column must not drop
  data silently). Columns without the ``tiktok_`` prefix (``id``,
  ``tenant_id``, ``created_at``, other platforms' columns) are ignored.
- **The first row of a tenant wins.** A later row for a tenant slug already seen
  in the file is ``skipped`` as a duplicate, whatever happened to the first one.
- **Idempotent.** A row whose values the hub already holds is ``skipped:
  unchanged``; a changed token (or advertiser, pixel, date, user id, scopes)
  is ``updated``.
- **The newer authorization wins.** A hub connection connected (typically
  through OAuth) or disconnected after the row's ``tiktok_connected_at`` is
  left alone and the row ``skipped`` with that reason. A row without
  ``tiktok_connected_at`` only updates a connection that has no date either
  (one imported from a dateless row); otherwise which is newer is unknown and
  the row is skipped.
- **Advertisers and the pixel.** Every advertiser id gets a
  :class:`TikTokAdvertiser` row (active, no name until the next sync) unless
  the tenant has it already. A pixel id gets a :class:`TikTokPixel` row marked
  as the conversion pixel, unless the tenant already chose another one (one
  conversion pixel per tenant): then it is created unmarked and the line says so.
- **Tokens never leave.** The token goes to the model's encrypted field and
  nowhere else: reasons name columns, never echo cell values (a shifted CSV
  cell could hold a token), and every line still goes through
  :func:`~apps.integrations.redaction.redact_text` with all the file's tokens.
- **Dry run** applies each row exactly as a real run would, inside a
  transaction that is rolled back, so the report is exact and nothing stays.
"""

from __future__ import annotations

import csv
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from django.db import DatabaseError, transaction
from django.utils import timezone

from apps.integrations import crypto
from apps.integrations.fields import Secret
from apps.integrations.models import ConnectionStatus
from apps.integrations.redaction import redact_text
from apps.tenants.models import Tenant

from .models import TikTokAdsConnection, TikTokAdvertiser, TikTokPixel

logger = logging.getLogger(__name__)

FORMATS = ("csv", "json")
#: ``assets["imported_from"]`` of a connection whose token came from this import.
IMPORTED_FROM = "legacy"

TENANT_SLUG = "tenant_slug"
ACCESS_TOKEN = "tiktok_access_token"  # noqa: S105 (a column name)
ADVERTISER_ID = "tiktok_advertiser_id"
ADVERTISER_IDS = "tiktok_advertiser_ids"
PIXEL_ID = "tiktok_pixel_id"
PIXEL_CODE = "tiktok_pixel_code"
CONNECTED_AT = "tiktok_connected_at"
USER_ID = "tiktok_user_id"
SCOPE = "tiktok_scope"

REQUIRED_COLUMNS: tuple[str, ...] = (TENANT_SLUG, ACCESS_TOKEN)
USED_COLUMNS: tuple[str, ...] = (
    TENANT_SLUG,
    ACCESS_TOKEN,
    ADVERTISER_ID,
    ADVERTISER_IDS,
    PIXEL_ID,
    PIXEL_CODE,
    CONNECTED_AT,
    USER_ID,
    SCOPE,
)
#: Legacy columns accepted and dropped, each with why (the README lists them).
IGNORED_COLUMNS: dict[str, str] = {
    "tiktok_refresh_token": "Marketing API advertiser tokens have no refresh token",
    "tiktok_token_expires_at": "advertiser tokens do not expire",
    "tiktok_refresh_token_expires_at": "advertiser tokens do not expire",
    "tiktok_is_active": "the hub's status comes from using the token (Test connection, sync)",
    "tiktok_connection_status": "same as tiktok_is_active",
    "tiktok_last_error": "the hub records its own errors",
    "tiktok_advertiser_name": "names come with the next sync",
    "tiktok_pixel_name": "names come with the next sync",
    "tiktok_scope_packs": "the legacy pack names were invented; granted permissions come from tiktok_scope",
    "tiktok_connected_by": "legacy user ids are not hub users",
    "tiktok_updated_at": "bookkeeping of the legacy table",
}

_SLUG = re.compile(r"^[-a-zA-Z0-9_]{1,64}$")
_NUMERIC_ID = re.compile(r"^[0-9]{1,32}$")
_PIXEL_CODE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ID_SEPARATORS = re.compile(r"[\s,;]+")

Action = Literal["created", "updated", "skipped", "error"]


class LegacyFileError(Exception):
    """The file as a whole cannot be imported; nothing was written."""


class LegacyRowInvalid(ValueError):
    """One row fails validation; the message names the column, never the value."""


@dataclass(frozen=True)
class LegacyRow:
    """One record as read: its number in the file (1-based, header and blank lines not counted)."""

    number: int
    values: Mapping[str, Any]
    #: set when the reader could not even split the record into columns
    problem: str = ""


@dataclass(frozen=True)
class LegacyRecord:
    """A validated row. The token is a :class:`Secret`, so ``repr`` never shows it."""

    number: int
    tenant_slug: str
    access_token: Secret
    advertiser_ids: tuple[str, ...]
    pixel_id: str
    pixel_code: str
    connected_at: datetime | None
    user_id: str
    #: None when the row gives no ``tiktok_scope`` (the hub's value is then kept)
    scopes: tuple[str, ...] | None


@dataclass(frozen=True)
class RowOutcome:
    number: int
    tenant_slug: str
    action: Action
    reason: str = ""
    notes: tuple[str, ...] = ()

    def line(self) -> str:
        """``row 12: acme created``, ``row 3: acme skipped: unchanged``, ``row 4: ? error: ...``."""
        text = f"row {self.number}: {self.tenant_slug or '?'} {self.action}"
        if self.reason:
            text += f" ({self.reason})" if self.action == "updated" else f": {self.reason}"
        if self.notes:
            text += "; " + "; ".join(self.notes)
        return text


@dataclass
class ImportSummary:
    outcomes: list[RowOutcome] = field(default_factory=list)
    dry_run: bool = False

    def count(self, action: Action) -> int:
        return sum(1 for outcome in self.outcomes if outcome.action == action)

    @property
    def created(self) -> int:
        return self.count("created")

    @property
    def updated(self) -> int:
        return self.count("updated")

    @property
    def skipped(self) -> int:
        return self.count("skipped")

    @property
    def errors(self) -> int:
        return self.count("error")

    def line(self) -> str:
        return (
            f"created={self.created} updated={self.updated} "
            f"skipped={self.skipped} errors={self.errors}"
        )


# --- reading ---------------------------------------------------------------------------


def legacy_format_detect(*, path: Path, fmt: str | None = None) -> str:
    """``fmt`` when given, else the file's extension (``.csv`` or ``.json``)."""
    chosen = (fmt or path.suffix.lstrip(".")).lower()
    if chosen not in FORMATS:
        raise LegacyFileError(
            f"Cannot tell the format of {path.name}: name it .csv or .json, or pass --format csv|json."
        )
    return chosen


def legacy_file_read(*, path: Path, fmt: str | None = None) -> list[LegacyRow]:
    """The file's records, after checking its columns. Raises :class:`LegacyFileError`."""
    chosen = legacy_format_detect(path=path, fmt=fmt)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = _read_csv(handle) if chosen == "csv" else _read_json(handle)
    except FileNotFoundError:
        raise LegacyFileError(f"No such file: {path}") from None
    except UnicodeDecodeError:
        raise LegacyFileError(f"{path.name} is not UTF-8 text.") from None
    except OSError as exc:
        raise LegacyFileError(
            f"Cannot read {path}: {exc.strerror or type(exc).__name__}."
        ) from None
    return rows


def _normalise_column(name: object) -> str:
    return str(name).strip().lower()


def _check_columns(names: Iterable[str]) -> None:
    present = set(names)
    missing = [name for name in REQUIRED_COLUMNS if name not in present]
    if missing:
        raise LegacyFileError(f"Required column(s) missing: {', '.join(missing)}.")
    unknown = sorted(
        name
        for name in present
        if name.startswith("tiktok_") and name not in USED_COLUMNS and name not in IGNORED_COLUMNS
    )
    if unknown:
        raise LegacyFileError(
            f"Unknown column(s): {', '.join(unknown)}. Nothing was imported. Remove them from the "
            "file, or list them in IGNORED_COLUMNS (apps/tiktok_ads/legacy.py) if they may be dropped."
        )


def _read_csv(handle) -> list[LegacyRow]:
    reader = csv.reader(handle)
    try:
        header = next(reader, None)
        if header is None:
            raise LegacyFileError("The file is empty: expected a header row.")
        columns = [_normalise_column(name) for name in header]
        repeated = sorted({name for name in columns if columns.count(name) > 1})
        if repeated:
            raise LegacyFileError(f"Column(s) appear twice in the header: {', '.join(repeated)}.")
        _check_columns(columns)
        rows: list[LegacyRow] = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue  # blank lines are not records
            number = len(rows) + 1
            if len(cells) != len(columns):
                # Keep the cells by position so the line can name the tenant; the row is an error.
                problem = f"has {len(cells)} cells where the header has {len(columns)}"
                values = dict(zip(columns, cells, strict=False))
                rows.append(LegacyRow(number=number, values=values, problem=problem))
                continue
            rows.append(LegacyRow(number=number, values=dict(zip(columns, cells, strict=True))))
    except csv.Error as exc:
        raise LegacyFileError(f"Malformed CSV at line {reader.line_num}: {exc}.") from None
    return rows


def _read_json(handle) -> list[LegacyRow]:
    try:
        data = json.load(handle)
    except json.JSONDecodeError as exc:
        raise LegacyFileError(
            f"Malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}."
        ) from None
    if not isinstance(data, list):
        raise LegacyFileError("The JSON file must hold an array of objects, one per tenant.")
    objects = [item for item in data if isinstance(item, dict)]
    columns = {_normalise_column(key) for item in objects for key in item}
    if objects:
        _check_columns(columns)
    rows = []
    for number, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            rows.append(LegacyRow(number=number, values={}, problem="is not a JSON object"))
            continue
        rows.append(
            LegacyRow(number=number, values={_normalise_column(k): v for k, v in item.items()})
        )
    return rows


# --- validating ------------------------------------------------------------------------


def _text(values: Mapping[str, Any], column: str) -> str:
    """The cell as stripped text; empty when absent or null. Numbers become digits."""
    value = values.get(column)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise LegacyRowInvalid(f"{column} must be text")
    return str(value).strip()


def _numeric_id(value: Any, column: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise LegacyRowInvalid(f"{column} must hold numeric ids")
    text = str(value).strip()
    if not _NUMERIC_ID.match(text):
        raise LegacyRowInvalid(f"{column} must hold numeric ids (digits only, at most 32)")
    return text


def _id_list(value: Any, column: str) -> list[Any]:
    """A JSON array (as a list or as text) or comma/space separated text."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise LegacyRowInvalid(f"{column} must be a JSON array or comma separated ids")
    text = str(value).strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            raise LegacyRowInvalid(f"{column} is not a valid JSON array") from None
        if not isinstance(parsed, list):
            raise LegacyRowInvalid(f"{column} is not a valid JSON array")
        return parsed
    return [part for part in _ID_SEPARATORS.split(text) if part]


def _given(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _advertiser_ids(values: Mapping[str, Any]) -> tuple[str, ...]:
    single = values.get(ADVERTISER_ID)
    ids = [_numeric_id(single, ADVERTISER_ID)] if _given(single) else []
    ids += [
        _numeric_id(item, ADVERTISER_IDS)
        for item in _id_list(values.get(ADVERTISER_IDS), ADVERTISER_IDS)
    ]
    return tuple(dict.fromkeys(ids))


def _scopes(values: Mapping[str, Any]) -> tuple[str, ...] | None:
    value = values.get(SCOPE)
    if not _given(value):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise LegacyRowInvalid(f"{SCOPE} is not a JSON array of permission ids") from None
    if not isinstance(value, list):
        raise LegacyRowInvalid(f"{SCOPE} is not a JSON array of permission ids")
    try:
        return tuple(dict.fromkeys(_numeric_id(item, SCOPE) for item in value))
    except LegacyRowInvalid:
        raise LegacyRowInvalid(f"{SCOPE} is not a JSON array of permission ids") from None


def _connected_at(values: Mapping[str, Any]) -> datetime | None:
    value = values.get(CONNECTED_AT)
    if not _given(value):
        return None
    malformed = LegacyRowInvalid(
        f"{CONNECTED_AT} is not a date (ISO 8601 or YYYY-MM-DD HH:MM:SS expected)"
    )
    if not isinstance(value, str):
        raise malformed
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise malformed from None
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def legacy_row_validate(*, row: LegacyRow) -> LegacyRecord:
    """A :class:`LegacyRecord`, or :class:`LegacyRowInvalid` naming the first problem."""
    if row.problem:
        raise LegacyRowInvalid(f"the record {row.problem}")
    values = row.values
    slug = _text(values, TENANT_SLUG)
    if not slug:
        raise LegacyRowInvalid(f"{TENANT_SLUG} is missing")
    if not _SLUG.match(slug):
        raise LegacyRowInvalid(f"{TENANT_SLUG} is not a slug (letters, digits, - and _)")
    token = _text(values, ACCESS_TOKEN)
    if not token:
        raise LegacyRowInvalid(f"{ACCESS_TOKEN} is missing")
    if any(char.isspace() for char in token):
        raise LegacyRowInvalid(f"{ACCESS_TOKEN} contains whitespace")
    pixel_id = _numeric_id(values[PIXEL_ID], PIXEL_ID) if _given(values.get(PIXEL_ID)) else ""
    pixel_code = _text(values, PIXEL_CODE)
    if pixel_code and not _PIXEL_CODE.match(pixel_code):
        raise LegacyRowInvalid(f"{PIXEL_CODE} is not a pixel code (letters and digits)")
    if pixel_code and not pixel_id:
        raise LegacyRowInvalid(
            f"{PIXEL_CODE} needs {PIXEL_ID} (both are shown in TikTok Events Manager)"
        )
    user_id = _text(values, USER_ID)
    if len(user_id) > 255:
        raise LegacyRowInvalid(f"{USER_ID} is longer than 255 characters")
    return LegacyRecord(
        number=row.number,
        tenant_slug=slug,
        access_token=Secret(token),
        advertiser_ids=_advertiser_ids(values),
        pixel_id=pixel_id,
        pixel_code=pixel_code,
        connected_at=_connected_at(values),
        user_id=user_id,
        scopes=_scopes(values),
    )


# --- applying --------------------------------------------------------------------------


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _same_token(connection: TikTokAdsConnection, token: Secret) -> bool:
    if not connection.access_token:
        return False
    try:
        return connection.access_token.reveal() == token.reveal()
    except crypto.DecryptionError:
        return False  # a token no configured key decrypts: the legacy one replaces it


def _hub_is_newer(connection: TikTokAdsConnection, record: LegacyRecord) -> str:
    """Why the hub's connection must not be overwritten by this row; empty when it may be."""
    moments = [m for m in (connection.connected_at, connection.disconnected_at) if m is not None]
    if not moments:
        return ""
    latest = max(moments)
    if connection.status == ConnectionStatus.DISCONNECTED and connection.disconnected_at == latest:
        what = "disconnected"
    elif connection.connected_by_id is not None:
        what = "connected through OAuth"
    elif connection.assets.get("imported_from") == IMPORTED_FROM:
        what = "imported"
    else:
        what = "connected"
    if record.connected_at is None:
        return (
            f"the hub connection was {what} at {_when(latest)} and this row has no "
            f"{CONNECTED_AT} to show it is newer; not overwritten"
        )
    if latest > record.connected_at:
        return (
            f"the hub connection was {what} at {_when(latest)}, after the legacy connection "
            f"at {_when(record.connected_at)}; not overwritten"
        )
    return ""


@dataclass
class _PixelPlan:
    pixel: TikTokPixel | None
    create: bool = False
    new_code: bool = False
    mark: bool = False
    note: str = ""

    @property
    def changes(self) -> bool:
        return self.create or self.new_code or self.mark


def _plan_pixel(*, tenant: Tenant, record: LegacyRecord) -> _PixelPlan | None:
    if not record.pixel_id:
        return None
    pixel = TikTokPixel.objects.for_tenant(tenant).filter(pixel_id=record.pixel_id).first()
    chosen = (
        TikTokPixel.objects.for_tenant(tenant)
        .filter(is_conversion_pixel=True)
        .exclude(pixel_id=record.pixel_id)
        .values_list("pixel_id", flat=True)
        .first()
    )
    note = (
        f"pixel {record.pixel_id} not marked for conversions: pixel {chosen} already is"
        if chosen
        else ""
    )
    if pixel is None:
        return _PixelPlan(pixel=None, create=True, mark=chosen is None, note=note)
    return _PixelPlan(
        pixel=pixel,
        new_code=bool(record.pixel_code) and pixel.pixel_code != record.pixel_code,
        mark=not pixel.is_conversion_pixel and chosen is None,
        note=note,
    )


def _apply_pixel(
    *, plan: _PixelPlan, connection: TikTokAdsConnection, record: LegacyRecord, now: datetime
) -> None:
    if plan.create:
        TikTokPixel.objects.create(
            tenant_id=connection.tenant_id,
            connection=connection,
            advertiser_id=record.advertiser_ids[0] if record.advertiser_ids else "",
            pixel_id=record.pixel_id,
            pixel_code=record.pixel_code,
            is_conversion_pixel=plan.mark,
            synced_at=now,
        )
        return
    pixel = plan.pixel
    if pixel is None:
        return
    if plan.new_code:
        pixel.pixel_code = record.pixel_code
    if plan.mark:
        pixel.is_conversion_pixel = True
    pixel.save(update_fields=["pixel_code", "is_conversion_pixel"])


def _missing_advertisers(*, tenant: Tenant, record: LegacyRecord) -> list[str]:
    if not record.advertiser_ids:
        return []
    have = set(
        TikTokAdvertiser.objects.for_tenant(tenant)
        .filter(advertiser_id__in=record.advertiser_ids)
        .values_list("advertiser_id", flat=True)
    )
    return [advertiser_id for advertiser_id in record.advertiser_ids if advertiser_id not in have]


def _create_advertisers(
    *, connection: TikTokAdsConnection, advertiser_ids: list[str], now: datetime
) -> None:
    TikTokAdvertiser.objects.bulk_create(
        [
            TikTokAdvertiser(
                tenant_id=connection.tenant_id,
                connection=connection,
                advertiser_id=advertiser_id,
                is_active=True,
                synced_at=now,
            )
            for advertiser_id in advertiser_ids
        ]
    )


def _outcome(record: LegacyRecord, action: Action, reason: str = "", notes=()) -> RowOutcome:
    return RowOutcome(
        record.number, record.tenant_slug, action, reason, tuple(n for n in notes if n)
    )


def legacy_connection_apply(*, record: LegacyRecord, tenant: Tenant, now: datetime) -> RowOutcome:
    """Create or update the tenant's TikTok Ads connection from one validated row.

    Call inside a transaction: the connection row is locked while it is compared.
    """
    existing = TikTokAdsConnection.objects.select_for_update().filter(tenant=tenant).first()
    missing_advertisers = _missing_advertisers(tenant=tenant, record=record)
    pixel_plan = _plan_pixel(tenant=tenant, record=record)
    notes = [pixel_plan.note] if pixel_plan and pixel_plan.create else []

    if existing is None:
        ids = list(record.advertiser_ids)
        connection = TikTokAdsConnection.objects.create(
            tenant=tenant,
            status=ConnectionStatus.CONNECTED,
            access_token=record.access_token,
            granted_scopes=list(record.scopes or ()),
            external_user_id=record.user_id or (ids[0] if ids else ""),
            assets={"advertiser_ids": ids, "imported_from": IMPORTED_FROM},
            connected_at=record.connected_at,
        )
        _create_advertisers(connection=connection, advertiser_ids=missing_advertisers, now=now)
        if pixel_plan:
            _apply_pixel(plan=pixel_plan, connection=connection, record=record, now=now)
        return _outcome(record, "created", notes=notes)

    connection = existing
    token_changed = not _same_token(connection, record.access_token)
    current_ids = [str(i) for i in connection.assets.get("advertiser_ids") or []]
    if token_changed and record.advertiser_ids:
        # The advertiser list belongs to the token: the new token's list replaces the old one.
        wanted_ids = list(record.advertiser_ids)
    else:
        wanted_ids = current_ids + [i for i in record.advertiser_ids if i not in current_ids]

    changed: list[str] = []
    if token_changed:
        changed.append("access token")
    if wanted_ids != current_ids:
        changed.append("advertiser_ids")
    if record.connected_at is not None and record.connected_at != connection.connected_at:
        changed.append("connected_at")
    if record.user_id and record.user_id != connection.external_user_id:
        changed.append("user id")
    if record.scopes is not None and list(record.scopes) != connection.granted_scopes:
        changed.append("granted scopes")
    if missing_advertisers:
        changed.append("advertisers")
    if pixel_plan and pixel_plan.changes:
        changed.append("pixel")
    if not changed:
        return _outcome(record, "skipped", "unchanged")
    refusal = _hub_is_newer(connection, record)
    if refusal:
        return _outcome(record, "skipped", refusal)

    if token_changed:
        connection.access_token = record.access_token
        connection.refresh_token = None
        connection.access_expires_at = None
        connection.refresh_expires_at = None
        connection.status = ConnectionStatus.CONNECTED
        connection.connected_by = None
        connection.disconnected_at = None
        connection.last_error = ""
        connection.assets = {**connection.assets, "imported_from": IMPORTED_FROM}
    connection.assets = {**connection.assets, "advertiser_ids": wanted_ids}
    if record.connected_at is not None:
        connection.connected_at = record.connected_at
    if record.user_id:
        connection.external_user_id = record.user_id
    elif not connection.external_user_id and wanted_ids:
        connection.external_user_id = wanted_ids[0]
    if record.scopes is not None:
        connection.granted_scopes = list(record.scopes)
    connection.save()
    _create_advertisers(connection=connection, advertiser_ids=missing_advertisers, now=now)
    if pixel_plan:
        _apply_pixel(plan=pixel_plan, connection=connection, record=record, now=now)
    return _outcome(record, "updated", ", ".join(changed), notes=notes)


# --- the whole file --------------------------------------------------------------------


def _file_secrets(rows: Iterable[LegacyRow]) -> list[str]:
    """Every token-looking cell of the file, for scrubbing the output by value."""
    secrets = []
    for row in rows:
        value = row.values.get(ACCESS_TOKEN)
        if isinstance(value, str) and value.strip():
            secrets.extend({value, value.strip()})
    return secrets


def _scrub(outcome: RowOutcome, secrets: list[str]) -> RowOutcome:
    return RowOutcome(
        number=outcome.number,
        tenant_slug=redact_text(outcome.tenant_slug, secrets=secrets),
        action=outcome.action,
        reason=redact_text(outcome.reason, secrets=secrets),
        notes=tuple(redact_text(note, secrets=secrets) for note in outcome.notes),
    )


def _slug_of(row: LegacyRow) -> str:
    value = row.values.get(TENANT_SLUG)
    text = value.strip() if isinstance(value, str) else ""
    return text if _SLUG.match(text) else ""


def _import_row(
    *, row: LegacyRow, tenants: Mapping[str, Tenant], first_rows: dict[str, int], dry_run: bool
) -> RowOutcome:
    slug = _slug_of(row)
    if slug in first_rows:
        return RowOutcome(
            row.number,
            slug,
            "skipped",
            f"duplicate of row {first_rows[slug]} for this tenant (the first row wins)",
        )
    if slug:
        first_rows[slug] = row.number
    try:
        record = legacy_row_validate(row=row)
    except LegacyRowInvalid as exc:
        return RowOutcome(row.number, slug, "error", str(exc))
    tenant = tenants.get(record.tenant_slug)
    if tenant is None:
        return _outcome(record, "error", f"no tenant with slug {record.tenant_slug!r} in the hub")
    try:
        with transaction.atomic():
            outcome = legacy_connection_apply(record=record, tenant=tenant, now=timezone.now())
            if dry_run:
                transaction.set_rollback(True)
    except DatabaseError as exc:
        return _outcome(record, "error", f"the database refused the row ({type(exc).__name__})")
    if not dry_run and outcome.action in ("created", "updated"):
        logger.info(
            "legacy tiktok_ads import tenant=%s row=%s %s",
            tenant.pk,
            record.number,
            outcome.action,
        )
    return outcome


def legacy_import_run(
    *,
    rows: list[LegacyRow],
    dry_run: bool = False,
    on_row: Callable[[RowOutcome], None] | None = None,
) -> ImportSummary:
    """Import every row, in file order, reporting each outcome to ``on_row`` as it is known.

    Never raises for a row: problems become ``error`` outcomes. With
    ``dry_run`` every row is applied and rolled back, so the outcomes are
    exactly those a real run would give and nothing is written.
    """
    slugs = {slug for slug in (_slug_of(row) for row in rows) if slug}
    tenants = {tenant.slug: tenant for tenant in Tenant.objects.filter(slug__in=slugs)}
    secrets = _file_secrets(rows)
    summary = ImportSummary(dry_run=dry_run)
    first_rows: dict[str, int] = {}
    for row in rows:
        outcome = _import_row(row=row, tenants=tenants, first_rows=first_rows, dry_run=dry_run)
        outcome = _scrub(outcome, secrets)
        summary.outcomes.append(outcome)
        if on_row is not None:
            on_row(outcome)
    return summary


__all__ = [
    "IGNORED_COLUMNS",
    "REQUIRED_COLUMNS",
    "USED_COLUMNS",
    "ImportSummary",
    "LegacyFileError",
    "LegacyRecord",
    "LegacyRow",
    "LegacyRowInvalid",
    "RowOutcome",
    "legacy_connection_apply",
    "legacy_file_read",
    "legacy_format_detect",
    "legacy_import_run",
    "legacy_row_validate",
]
