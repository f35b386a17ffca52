"""Import a catalog CSV: validate every row, upsert the good ones in bulk, report the rest.

The file has a header row. Columns (names are case-insensitive):

============================ ========= ===============================================
column                       required  value
============================ ========= ===============================================
``sku``                      yes       the tenant's SKU, unique in the file
``title``                    yes       up to 255 characters
``price``                    yes       a non-negative amount, at most 2 decimals
``currency``                 yes       ISO 4217 code (``USD``, ``BRL``...)
``stock``                    yes       a whole number, 0 or more
``description``              no        plain text
``images``                   no        http(s) URLs separated by ``|``
``category``                 no        the tenant's own category name
``weight_kg``                no        package weight, at most 3 decimals
``category:<channel>``       no        the category id on a channel, e.g.
                                       ``category:tiktok_shop``; an empty cell removes it
============================ ========= ===============================================

Nothing is lost: a bad row is reported with its line, column and why, and the
good rows land. A SKU repeated in the file is refused on its later lines. A
missing required column or an unreadable file refuses the whole file before
anything is written (:class:`ImportFileError`).

Rows are compared with what is stored, in batches of :data:`BATCH_SIZE`
(one query to read a batch's existing items, one bulk upsert for the rows
that changed), so a rerun of the same file writes nothing and reports every
row unchanged. A stock that changed moves ``stock_changed_at``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.integrations.upsert import bulk_upsert
from apps.tenants.models import Tenant

from .models import SKU_MAX_LENGTH, CatalogItem
from .services import listings_match

#: Rows compared and written per round trip.
BATCH_SIZE = 1000
REQUIRED_COLUMNS = ("sku", "title", "price", "currency", "stock")
OPTIONAL_COLUMNS = ("description", "images", "category", "weight_kg")
CHANNEL_CATEGORY_PREFIX = "category:"
IMAGE_SEPARATOR = "|"
#: TikTok Shop takes 9 main images; other channels a few more. Beyond this is a typo.
MAX_IMAGES = 20
MAX_PRICE = Decimal("9999999999.99")
MAX_WEIGHT = Decimal("99999.999")
MAX_STOCK = 2_147_483_647
TITLE_MAX_LENGTH = 255
CATEGORY_MAX_LENGTH = 255
CHANNEL_CATEGORY_MAX_LENGTH = 64
URL_MAX_LENGTH = 2000
#: Delimiters a spreadsheet export may use (Brazilian Excel writes ``;``).
DELIMITERS = ",;\t"

#: The columns compared to decide whether a stored item changed.
COMPARED_FIELDS = (
    "title",
    "description",
    "price",
    "currency",
    "stock",
    "images",
    "category",
    "category_mapping",
    "weight_kg",
)

_url = URLValidator(schemes=["http", "https"])


class ImportFileError(Exception):
    """The file as a whole cannot be imported (unreadable, required columns missing)."""


@dataclass(frozen=True)
class RowError:
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return _("line %(line)d, column %(column)s: %(message)s") % {
            "line": self.line,
            "column": self.column,
            "message": self.message,
        }


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)
    #: column names the file has that the import does not know (ignored)
    ignored_columns: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def rows(self) -> int:
        return self.created + self.updated + self.unchanged + self.rejected


@dataclass(frozen=True)
class _Row:
    line: int
    values: dict[str, Any]
    #: channel key -> category id ("" removes the mapping)
    channel_categories: dict[str, str]


ProgressCallback = Callable[[int, int], None]


def catalog_import_csv(
    *,
    tenant: Tenant,
    file: IO[str] | IO[bytes],
    dry_run: bool = False,
    on_progress: ProgressCallback | None = None,
) -> ImportReport:
    """Validate and upsert a catalog CSV for ``tenant``; see the module docstring.

    ``on_progress(rows_done, rows_total)`` is called after each batch.
    With ``dry_run`` everything is validated and compared, nothing is written.
    """
    text = _read_text(file)
    reader = csv.reader(io.StringIO(text, newline=""), dialect=_dialect(text))
    columns = _check_header(next(reader, None))
    report = ImportReport(dry_run=dry_run, ignored_columns=columns.ignored)

    seen: dict[str, int] = {}
    valid: list[_Row] = []
    records = list(_records(reader, columns.header))
    for line, record in records:
        row, errors = _validate(line=line, record=record, columns=columns, seen=seen)
        if errors:
            report.rejected += 1
            report.errors.extend(errors)
        else:
            valid.append(row)

    done = report.rejected
    total = len(records)
    for start in range(0, len(valid), BATCH_SIZE):
        batch = valid[start : start + BATCH_SIZE]
        _import_batch(tenant=tenant, batch=batch, report=report, dry_run=dry_run)
        done += len(batch)
        if on_progress is not None:
            on_progress(done, total)
    if not valid and on_progress is not None:
        on_progress(done, total)
    return report


# --- reading -------------------------------------------------------------------------


def _read_text(file: IO[str] | IO[bytes]) -> str:
    content = file.read()
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ImportFileError(
                _("The file is not UTF-8 text (byte %(position)d). Save it as CSV UTF-8.")
                % {"position": exc.start}
            ) from None
    return content.removeprefix("\ufeff")


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    first_line = text.split("\n", 1)[0]
    try:
        return csv.Sniffer().sniff(first_line, delimiters=DELIMITERS)
    except csv.Error:
        return csv.excel


@dataclass(frozen=True)
class _Columns:
    #: normalised name -> name as written in the file
    names: dict[str, str]
    #: channel key -> name as written in the file
    channel_categories: dict[str, str]
    ignored: list[str]
    header: list[str]


def _check_header(fieldnames: Iterable[str] | None) -> _Columns:
    if not fieldnames:
        raise ImportFileError(_("The file is empty: it needs a header row."))
    names: dict[str, str] = {}
    channel_categories: dict[str, str] = {}
    ignored: list[str] = []
    for raw in fieldnames:
        name = (raw or "").strip().lower()
        if name in REQUIRED_COLUMNS or name in OPTIONAL_COLUMNS:
            if name in names:
                raise ImportFileError(_("The column %(name)s appears twice.") % {"name": name})
            names[name] = raw
        elif name.startswith(CHANNEL_CATEGORY_PREFIX) and name[len(CHANNEL_CATEGORY_PREFIX) :]:
            channel_categories[name[len(CHANNEL_CATEGORY_PREFIX) :]] = raw
        elif name:
            ignored.append(raw)
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    if missing:
        raise ImportFileError(
            _("Required column(s) missing: %(columns)s. The header must name %(required)s.")
            % {"columns": ", ".join(missing), "required": ", ".join(REQUIRED_COLUMNS)}
        )
    return _Columns(
        names=names,
        channel_categories=channel_categories,
        ignored=ignored,
        header=list(fieldnames),
    )


def _records(reader, header: list[str]) -> Iterable[tuple[int, dict]]:
    """``(line, record)`` for every non-blank row; ``line`` is where the row starts.

    Cells beyond the header land under the key ``None``, as ``csv.DictReader`` does.
    """
    line = reader.line_num + 1
    for cells in reader:
        if any(cell.strip() for cell in cells):
            record: dict = dict(zip(header, cells, strict=False))
            if len(cells) > len(header):
                record[None] = cells[len(header) :]
            yield line, record
        line = reader.line_num + 1


# --- validation ----------------------------------------------------------------------


def _validate(
    *, line: int, record: dict, columns: _Columns, seen: dict[str, int]
) -> tuple[_Row | None, list[RowError]]:
    errors: list[RowError] = []

    def cell(name: str) -> str:
        raw_name = columns.names.get(name)
        value = record.get(raw_name) if raw_name is not None else None
        return (value or "").strip()

    def fail(column: str, message: str) -> None:
        errors.append(RowError(line=line, column=column, message=message))

    if any((extra or "").strip() for extra in record.get(None) or []):
        fail("-", _("more cells than columns in the header (check the delimiter and quotes)"))

    sku = cell("sku")
    if not sku:
        fail("sku", _("is empty"))
    elif len(sku) > SKU_MAX_LENGTH:
        fail("sku", _("is longer than %(max)d characters") % {"max": SKU_MAX_LENGTH})
    elif any(ch.isspace() for ch in sku):
        fail("sku", _("contains spaces"))
    elif sku in seen:
        fail("sku", _("%(sku)s already appears on line %(line)d") % {"sku": sku, "line": seen[sku]})
    else:
        seen[sku] = line

    title = cell("title")
    if not title:
        fail("title", _("is empty"))
    elif len(title) > TITLE_MAX_LENGTH:
        fail("title", _("is longer than %(max)d characters") % {"max": TITLE_MAX_LENGTH})

    price = _decimal(cell("price"), places=2, maximum=MAX_PRICE, column="price", fail=fail)
    currency = cell("currency").upper()
    if not (len(currency) == 3 and currency.isascii() and currency.isalpha()):
        fail("currency", _("must be a 3-letter ISO code such as USD or BRL"))

    stock = _stock(cell("stock"), fail=fail)
    images = _images(cell("images"), fail=fail)

    category = cell("category")
    if len(category) > CATEGORY_MAX_LENGTH:
        fail("category", _("is longer than %(max)d characters") % {"max": CATEGORY_MAX_LENGTH})

    weight_text = cell("weight_kg")
    weight = None
    if weight_text:
        weight = _decimal(weight_text, places=3, maximum=MAX_WEIGHT, column="weight_kg", fail=fail)

    channel_categories = {}
    for channel, raw_name in columns.channel_categories.items():
        value = (record.get(raw_name) or "").strip()
        if len(value) > CHANNEL_CATEGORY_MAX_LENGTH:
            fail(
                raw_name,
                _("is longer than %(max)d characters") % {"max": CHANNEL_CATEGORY_MAX_LENGTH},
            )
        channel_categories[channel] = value

    if errors:
        return None, errors
    values = {
        "sku": sku,
        "title": title,
        "description": cell("description"),
        "price": price,
        "currency": currency,
        "stock": stock,
        "images": images,
        "category": category,
        "weight_kg": weight,
    }
    return _Row(line=line, values=values, channel_categories=channel_categories), []


def _decimal(
    text: str, *, places: int, maximum: Decimal, column: str, fail: Callable[[str, str], None]
) -> Decimal | None:
    if not text:
        fail(column, _("is empty"))
        return None
    try:
        value = Decimal(text.replace(" ", ""))
    except InvalidOperation:
        fail(column, _("%(value)r is not a number (use a dot for decimals)") % {"value": text})
        return None
    if not value.is_finite():
        fail(column, _("%(value)r is not a number") % {"value": text})
        return None
    if value < 0:
        fail(column, _("cannot be negative"))
        return None
    if value > maximum:
        fail(column, _("is larger than %(max)s") % {"max": maximum})
        return None
    if -value.as_tuple().exponent > places:
        fail(column, _("has more than %(places)d decimals") % {"places": places})
        return None
    return value.quantize(Decimal(1).scaleb(-places))


def _stock(text: str, *, fail: Callable[[str, str], None]) -> int | None:
    if not text:
        fail("stock", _("is empty"))
        return None
    if not text.isdigit():
        fail("stock", _("%(value)r is not a whole number of 0 or more") % {"value": text})
        return None
    value = int(text)
    if value > MAX_STOCK:
        fail("stock", _("is larger than %(max)d") % {"max": MAX_STOCK})
        return None
    return value


def _images(text: str, *, fail: Callable[[str, str], None]) -> list[str]:
    urls = [part.strip() for part in text.split(IMAGE_SEPARATOR) if part.strip()]
    if len(urls) > MAX_IMAGES:
        fail("images", _("has more than %(max)d images") % {"max": MAX_IMAGES})
        return []
    for url in urls:
        if len(url) > URL_MAX_LENGTH:
            fail("images", _("a URL is longer than %(max)d characters") % {"max": URL_MAX_LENGTH})
            continue
        try:
            _url(url)
        except ValidationError:
            fail("images", _("%(url)r is not an http(s) URL") % {"url": url[:80]})
    return urls


# --- writing -------------------------------------------------------------------------


def _import_batch(
    *, tenant: Tenant, batch: list[_Row], report: ImportReport, dry_run: bool
) -> None:
    """One query to read the batch's stored items, one bulk upsert of what changed."""
    existing = {
        item.sku: item
        for item in CatalogItem.objects.for_tenant(tenant).filter(
            sku__in=[row.values["sku"] for row in batch]
        )
    }
    now = timezone.now()
    rows: list[dict] = []
    created_skus: list[str] = []
    for row in batch:
        stored = existing.get(row.values["sku"])
        mapping = dict(stored.category_mapping) if stored is not None else {}
        for channel, category_id in row.channel_categories.items():
            if category_id:
                mapping[channel] = category_id
            else:
                mapping.pop(channel, None)
        values = {**row.values, "category_mapping": mapping}
        if stored is None:
            report.created += 1
            created_skus.append(values["sku"])
            stock_changed_at = now
        elif _same(stored, values):
            report.unchanged += 1
            continue
        else:
            report.updated += 1
            stock_changed = stored.stock != values["stock"]
            stock_changed_at = now if stock_changed else stored.stock_changed_at
        rows.append({**values, "tenant_id": tenant.pk, "stock_changed_at": stock_changed_at})
    if dry_run or not rows:
        return
    with transaction.atomic():
        bulk_upsert(model=CatalogItem, rows=rows, unique_fields=("tenant", "sku"))
        if created_skus:
            listings_match(tenant=tenant, skus=created_skus)


def _same(stored: CatalogItem, values: dict[str, Any]) -> bool:
    return all(getattr(stored, name) == values[name] for name in COMPARED_FIELDS)
