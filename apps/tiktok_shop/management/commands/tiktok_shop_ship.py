"""``manage.py tiktok_shop_ship FILE [--dry-run] [--tenant SLUG]``: bulk ship from a CSV.

The file has the header ``order_id,tracking_number,provider`` (provider by
name or id, as TikTok lists the shop's shipping providers). Each row is
shipped on its own: a bad row is reported and the next one goes on. Each
row's outcome (shipped, would ship, skipped or error, with the reason) is
printed as it is known, then a summary. ``--dry-run`` checks the rows
against what is stored and calls nothing, writes nothing. The exit status
is 1 when a row ended in error, so a script notices.
"""

from __future__ import annotations

from collections import Counter

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.tenants.models import Tenant
from apps.tiktok_shop import fulfillment
from apps.tiktok_shop.models import TikTokShopConnection


class Command(BaseCommand):
    help = "Ship TikTok Shop orders from a CSV of order_id, tracking_number, provider."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="CSV file with order_id,tracking_number,provider.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Check every row; ship nothing, change nothing."
        )
        parser.add_argument(
            "--tenant",
            metavar="SLUG",
            help="The tenant whose orders these are (needed when several tenants have a shop).",
        )

    def tenant(self, slug: str | None) -> Tenant:
        if slug:
            tenant = Tenant.objects.filter(slug=slug).first()
            if tenant is None:
                raise CommandError(f"No tenant {slug!r}.")
            return tenant
        tenant_ids = list(
            TikTokShopConnection.objects.order_by()
            .values_list("tenant_id", flat=True)
            .distinct()[:2]
        )
        if len(tenant_ids) != 1:
            raise CommandError(
                "Several tenants have a TikTok Shop connection: say which with --tenant SLUG."
                if tenant_ids
                else "No tenant has a TikTok Shop connection."
            )
        return Tenant.objects.get(pk=tenant_ids[0])

    def handle(self, *args, **options) -> None:
        tenant = self.tenant(options.get("tenant"))
        try:
            with open(options["file"], newline="", encoding="utf-8-sig") as handle:
                rows = fulfillment.read_ship_file(handle)
        except OSError as exc:
            raise CommandError(f"Cannot read {options['file']}: {exc.strerror}") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise CommandError(str(exc)) from None
        dry_run = options["dry_run"]
        total = len(rows)
        self.stdout.write(
            f"{'Dry run: checking' if dry_run else 'Shipping'} {total} row(s) for {tenant.slug}"
        )
        done = {"n": 0}

        def progress(outcome: fulfillment.ShipOutcome) -> None:
            done["n"] += 1
            style = {
                fulfillment.SHIPPED: self.style.SUCCESS,
                fulfillment.WOULD_SHIP: self.style.SUCCESS,
                fulfillment.ERROR: self.style.ERROR,
            }.get(outcome.outcome, self.style.WARNING)
            reason = f": {outcome.reason}" if outcome.reason else ""
            self.stdout.write(
                f"[{done['n']}/{total}] line {outcome.line} {outcome.order_id or '-'} "
                + style(outcome.outcome)
                + reason
            )

        outcomes = fulfillment.ship_rows(
            tenant=tenant, rows=rows, dry_run=dry_run, progress=progress
        )
        counts = Counter(o.outcome for o in outcomes)
        summary = ", ".join(
            f"{counts.get(name, 0)} {name}"
            for name in (
                fulfillment.WOULD_SHIP if dry_run else fulfillment.SHIPPED,
                fulfillment.SKIPPED,
                fulfillment.ERROR,
            )
        )
        self.stdout.write(f"Done: {summary} ({total} row(s)).")
        if counts.get(fulfillment.ERROR):
            raise SystemExit(1)
