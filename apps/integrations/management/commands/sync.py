"""``manage.py sync PRODUCT KIND [--tenant SLUG]``: run a sync kind now, in this process.

Runs the kind for every live connection of the product (or the tenant's),
one after the other, printing a line per page and a stats line per
connection. A connection whose kind is already running elsewhere is
reported and left alone. Exits non-zero if any run failed.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.integrations.models import Connection, SyncRun
from apps.integrations.registry import Provider, providers
from apps.integrations.sync import (
    STAT_KEYS,
    SyncKind,
    SyncProgress,
    SyncWindow,
    sync_kinds,
    sync_run_for_connection_now,
)
from apps.tenants.models import Tenant

BAR_WIDTH = 10


def progress_line(progress: SyncProgress) -> str:
    """``[#####.....] page 3/7 fetched 300``; the bar only when the provider gave a total."""
    parts = []
    if progress.window_count > 1:
        parts.append(f"window {progress.window_index + 1}/{progress.window_count}")
    if progress.total_pages:
        done = min(progress.page, progress.total_pages)
        filled = round(BAR_WIDTH * done / progress.total_pages)
        parts.append(f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}]")
        parts.append(f"page {progress.page}/{progress.total_pages}")
    else:
        parts.append(f"page {progress.page}")
    parts.append(f"fetched {progress.stats['fetched']}")
    return " ".join(parts)


class Command(BaseCommand):
    help = (
        "Run a sync kind now for every live connection of a product (or one tenant's), "
        "in this process, with progress output."
    )
    trigger = SyncRun.Trigger.MANUAL

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("product", help="Product key, e.g. tiktok_ads.")
        parser.add_argument("kind", help="Sync kind of the product, e.g. campaigns.")
        parser.add_argument("--tenant", metavar="SLUG", help="Only this tenant's connections.")

    def handle(self, *args, **options) -> None:
        provider, sync_kind = self.resolve(options["product"], options["kind"])
        connections = self.connections(provider, options["tenant"])
        if not connections:
            self.stdout.write(f"No live {provider.key} connection: nothing to sync.")
            return
        self.run_all(provider=provider, sync_kind=sync_kind, connections=connections, window=None)

    # --- shared with ``backfill`` ------------------------------------------------------

    def resolve(self, product: str, kind: str) -> tuple[Provider, SyncKind]:
        valid = [key for key in sync_kinds.products() if key in providers]
        if product not in valid:
            raise CommandError(
                f"Unknown product {product!r}. Products with sync kinds: {', '.join(valid) or 'none'}."
            )
        kinds = [k.kind for k in sync_kinds.for_product(product)]
        if kind not in kinds:
            raise CommandError(
                f"Unknown kind {kind!r} for {product}. Kinds of {product}: {', '.join(kinds)}."
            )
        return providers.get(product), sync_kinds.get(product, kind)

    def connections(self, provider: Provider, tenant_slug: str | None) -> list[Connection]:
        live = provider.model.objects.live().select_related("tenant").order_by("tenant__slug", "pk")
        if tenant_slug is None:
            return list(live)
        tenant = Tenant.objects.filter(slug=tenant_slug).first()
        if tenant is None:
            raise CommandError(f"No tenant with slug {tenant_slug!r}.")
        connections = list(live.for_tenant(tenant))
        if not connections:
            raise CommandError(f"Tenant {tenant_slug!r} has no live {provider.key} connection.")
        return connections

    def run_all(
        self,
        *,
        provider: Provider,
        sync_kind: SyncKind,
        connections: list[Connection],
        window: SyncWindow | None,
    ) -> None:
        failed = 0
        for connection in connections:
            run = self.run_one(
                provider=provider, sync_kind=sync_kind, connection=connection, window=window
            )
            failed += run.status == SyncRun.Status.FAILED
        if failed:
            raise CommandError(
                f"{failed} of {len(connections)} run(s) failed; see the errors above."
            )

    def run_one(
        self,
        *,
        provider: Provider,
        sync_kind: SyncKind,
        connection: Connection,
        window: SyncWindow | None,
    ) -> SyncRun:
        who = f"tenant={connection.tenant.slug}"
        if provider.many_connections:
            who += f" connection={connection.pk}"
        started = time.monotonic()
        run_ids: list[int] = []

        def on_page(progress: SyncProgress) -> None:
            if not run_ids:
                run_ids.append(progress.run_id)
                if progress.resumed_from:
                    self.stdout.write(f"{who} resuming run #{progress.resumed_from}")
            self.stdout.write(f"{who} {progress_line(progress)}")

        try:
            run = sync_run_for_connection_now(
                connection=connection,
                kind=sync_kind.kind,
                trigger=self.trigger,
                window=window,
                on_page=on_page,
            )
        except KeyboardInterrupt:
            where = f"run #{run_ids[0]}" if run_ids else "the run"
            self.stderr.write(
                f"{who} kind={sync_kind.kind} interrupted: {where} keeps its checkpoint; "
                "run the same command again to resume."
            )
            raise CommandError("Interrupted.", returncode=130) from None

        if run.status in SyncRun.ACTIVE:
            self.stdout.write(
                f"{who} kind={sync_kind.kind} skipped: run #{run.pk} is already {run.status} "
                f"(trigger {run.trigger})."
            )
            return run
        stats = " ".join(f"{key}={run.stats.get(key, 0)}" for key in STAT_KEYS)
        line = f"{who} kind={sync_kind.kind} {stats} in {time.monotonic() - started:.1f}s"
        if run.status != SyncRun.Status.SUCCEEDED:
            line += f" status={run.status}"
        self.stdout.write(line)
        if run.status == SyncRun.Status.FAILED:
            self.stderr.write(f"{who} kind={sync_kind.kind} run #{run.pk} failed: {run.error}")
        return run
