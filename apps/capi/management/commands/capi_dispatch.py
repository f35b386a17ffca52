"""Send the conversion events that are due now, with progress; what the worker does every minute."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from apps.capi import services
from apps.capi.dispatch import dispatch, events_due_count


class Command(BaseCommand):
    help = "Send pending conversion events now (Meta Conversions API, TikTok Events API)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--reconcile-hours",
            type=float,
            default=1.0,
            help="first create the rows of stage moves of the last N hours that have none "
            "(0 skips; default 1)",
        )
        parser.add_argument(
            "--claim", type=int, default=None, help="events per claim (default CAPI_DISPATCH_CLAIM)"
        )
        parser.add_argument(
            "--time-budget", type=float, default=None, help="stop taking batches after N seconds"
        )

    def handle(self, *args, **options):
        if options["reconcile_hours"] > 0:
            since = timezone.now() - timedelta(hours=options["reconcile_hours"])
            created = services.stage_changes_reconcile(since=since)
            self.stdout.write(f"{created} missing conversion row(s) created from stage moves.")
        due = events_due_count()
        self.stdout.write(f"{due} event(s) due.")
        if not due:
            return

        def progress(result):
            self.stdout.write(f"  ... {result.summary()}")

        result = dispatch(
            claim_size=options["claim"], time_budget=options["time_budget"], progress=progress
        )
        self.stdout.write(self.style.SUCCESS(result.summary()))
