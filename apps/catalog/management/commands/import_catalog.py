"""``manage.py import_catalog FILE.csv --tenant SLUG [--dry-run]``.

Thin: opens the file, hands it to :func:`apps.catalog.csvimport.catalog_import_csv`,
prints progress after each batch, every rejected row (line, column, why) and a
summary (``created=3 updated=1 unchanged=40 rejected=2``). Good rows land even
when others are rejected; the command then exits non-zero so a script notices.
Safe to rerun: rows already imported are reported unchanged and not written.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.catalog.csvimport import ImportFileError, catalog_import_csv
from apps.tenants.models import Tenant


class Command(BaseCommand):
    help = (
        "Create or update a tenant's catalog items from a CSV (columns: sku, title, price, "
        "currency, stock; optional description, images, category, weight_kg, "
        "category:<channel>). Idempotent."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="The CSV file (UTF-8, with a header row).")
        parser.add_argument("--tenant", metavar="SLUG", required=True, help="The tenant's slug.")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Validate and compare every row, writing nothing.",
        )

    def handle(self, *args, **options) -> None:
        path: Path = options["file"]
        dry_run: bool = options["dry_run"]
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"No tenant with slug {options['tenant']!r}.")
        if not path.is_file():
            raise CommandError(f"{path} is not a file.")
        if dry_run:
            self.stdout.write("Dry run: every row is checked and compared; nothing is written.")

        def progress(done: int, total: int) -> None:
            self.stdout.write(f"  {done}/{total} row(s) checked")

        try:
            with path.open("rb") as handle:
                report = catalog_import_csv(
                    tenant=tenant, file=handle, dry_run=dry_run, on_progress=progress
                )
        except ImportFileError as exc:
            raise CommandError(f"{path.name}: {exc} Nothing was imported.") from None

        if report.ignored_columns:
            self.stdout.write(
                self.style.WARNING(
                    "Ignored unknown column(s): " + ", ".join(report.ignored_columns)
                )
            )
        for error in report.errors:
            self.stdout.write(self.style.ERROR(f"rejected {error}"))
        summary = (
            f"{tenant.slug}: created={report.created} updated={report.updated} "
            f"unchanged={report.unchanged} rejected={report.rejected}"
        )
        self.stdout.write(summary + (" (dry run: nothing was written)" if dry_run else ""))
        if report.rejected:
            raise CommandError(
                f"{report.rejected} row(s) rejected; see the reasons above. The other rows "
                + ("would be imported." if dry_run else "were imported.")
                + " Fix the file and run the command again: imported rows stay unchanged."
            )
