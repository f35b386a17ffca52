"""``manage.py backfill PRODUCT KIND --tenant SLUG --since DATE [--until DATE]``.

Fetches a past window (whole days, ``--until`` included, default today) for
one tenant, cut into the kind's window steps. Interruptible: Ctrl-C leaves the
run ``interrupted`` with its checkpoint. Rerunnable: the same command resumes
where the last one stopped (same dates, same window), and upserts mean a
rerun never duplicates rows.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.core.management.base import CommandError, CommandParser

from apps.integrations.models import SyncRun
from apps.integrations.sync import InvalidWindow, sync_window_for_dates

from .sync import Command as SyncCommand


def parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise CommandError(f"{option} must be a date as YYYY-MM-DD, not {value!r}.") from None


class Command(SyncCommand):
    help = (
        "Backfill a sync kind for one tenant over past days. Interrupt with Ctrl-C and "
        "run the same command again to resume."
    )
    trigger = SyncRun.Trigger.BACKFILL

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("product", help="Product key, e.g. tiktok_ads.")
        parser.add_argument("kind", help="Sync kind of the product, e.g. insights.")
        parser.add_argument("--tenant", metavar="SLUG", required=True, help="The tenant's slug.")
        parser.add_argument("--since", metavar="DATE", required=True, help="First day, YYYY-MM-DD.")
        parser.add_argument(
            "--until", metavar="DATE", help="Last day, YYYY-MM-DD (included; default today)."
        )

    def handle(self, *args, **options) -> None:
        provider, sync_kind = self.resolve(options["product"], options["kind"])
        since = parse_date(options["since"], "--since")
        until = parse_date(options["until"], "--until")
        try:
            window = sync_window_for_dates(sync_kind=sync_kind, since=since, until=until)
        except InvalidWindow as exc:
            raise CommandError(str(exc)) from None
        connections = self.connections(provider, options["tenant"])

        first_day, last_day = window.start.date(), (window.end - timedelta(days=1)).date()
        detail = f"{(last_day - first_day).days + 1} day(s)"
        pieces = window.split(sync_kind.window_step)
        if len(pieces) > 1:
            detail += f" in {len(pieces)} windows of {sync_kind.window_step.days} day(s)"
        self.stdout.write(
            f"Backfill {provider.key}/{sync_kind.kind} for {options['tenant']}: "
            f"{first_day} to {last_day} ({detail})"
        )
        self.run_all(provider=provider, sync_kind=sync_kind, connections=connections, window=window)
