"""Refresh the analytics rollups now: ``manage.py analytics_refresh [--tenant SLUG] [--full]``."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from apps.analytics.rollup import rollup_refresh
from apps.tenants.models import Tenant


class Command(BaseCommand):
    help = "Fold newly synced insights into the analytics rollups (--full rebuilds them)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", help="tenant slug (default: every tenant)")
        parser.add_argument("--full", action="store_true", help="rebuild from all insights")

    def handle(self, *args, tenant: str | None = None, full: bool = False, **options) -> None:
        tenants = Tenant.objects.all()
        if tenant:
            tenants = tenants.filter(slug=tenant)
            if not tenants.exists():
                raise CommandError(f"No tenant {tenant!r}.")
        for t in tenants:
            stats = rollup_refresh(tenant=t, full=full)
            self.stdout.write(
                f"{t.slug}: {stats.spend_days} spend days, {stats.directory} directory rows, "
                f"rebuilt from {stats.platforms}"
            )
