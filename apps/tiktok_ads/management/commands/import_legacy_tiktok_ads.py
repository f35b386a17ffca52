"""``manage.py import_legacy_tiktok_ads FILE [--format csv|json] [--dry-run]``.

Thin: reads the legacy export, hands it to :mod:`apps.tiktok_ads.legacy`, prints a
line per row as it goes (``row 12: acme created``) and a final summary
(``created=3 updated=1 skipped=2 errors=1``). Every row is processed; the
command then exits non-zero if any row errored. Safe to rerun: rows already
imported report ``skipped: unchanged``.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.tiktok_ads.legacy import (
    FORMATS,
    LegacyFileError,
    RowOutcome,
    legacy_file_read,
    legacy_import_run,
)


class Command(BaseCommand):
    help = (
        "Create or update tenants' TikTok Ads connections from an export of the legacy "
        "marketing_integrations tiktok_* columns (CSV, or JSON array of objects). Idempotent."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="The export: .csv or .json.")
        parser.add_argument(
            "--format",
            choices=FORMATS,
            help="The file's format, when its extension does not say it.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Validate and report what would happen, writing nothing.",
        )

    def handle(self, *args, **options) -> None:
        dry_run: bool = options["dry_run"]
        try:
            rows = legacy_file_read(path=options["file"], fmt=options["format"])
        except LegacyFileError as exc:
            raise CommandError(str(exc)) from None
        if dry_run:
            self.stdout.write("Dry run: every row is checked and rolled back; nothing is written.")
        self.stdout.write(f"{len(rows)} row(s) in {options['file'].name}")

        def report(outcome: RowOutcome) -> None:
            line = outcome.line()
            if outcome.action == "error":
                line = self.style.ERROR(line)
            elif outcome.action in ("created", "updated"):
                line = self.style.SUCCESS(line)
            self.stdout.write(line)

        summary = legacy_import_run(rows=rows, dry_run=dry_run, on_row=report)
        self.stdout.write(summary.line() + (" (dry run: nothing was written)" if dry_run else ""))
        if summary.errors:
            raise CommandError(
                f"{summary.errors} row(s) failed; see the reasons above. Fix them and run the "
                "command again: rows already imported are skipped as unchanged."
            )
