"""Queue failed conversion events again (same event ids), then send them."""

from __future__ import annotations

from datetime import datetime, time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date

from apps.capi.dispatch import dispatch
from apps.capi.models import ConversionEvent, Platform
from apps.capi.services import RESENDABLE, events_resend
from apps.tenants.models import Tenant


class Command(BaseCommand):
    help = "Put failed conversion events back in the queue (attempts reset) and send them."

    def add_arguments(self, parser):
        parser.add_argument(
            "--status",
            default="failed",
            choices=[s.value for s in RESENDABLE],
            help="which events to resend (default: failed)",
        )
        parser.add_argument("--since", help="created on or after this date (YYYY-MM-DD)")
        parser.add_argument("--platform", choices=Platform.values, help="only this platform")
        parser.add_argument("--tenant", help="only this tenant (slug)")
        parser.add_argument("--dry-run", action="store_true", help="count, change nothing")
        parser.add_argument(
            "--queue", action="store_true", help="leave sending to the worker (default: now)"
        )

    def handle(self, *args, **options):
        events = ConversionEvent.objects.filter(status=options["status"])
        if options["since"]:
            day = parse_date(options["since"]) if _looks_like_date(options["since"]) else None
            if day is None:
                raise CommandError(
                    f"--since must be a date (YYYY-MM-DD), not {options['since']!r}."
                )
            events = events.filter(
                created_at__gte=timezone.make_aware(datetime.combine(day, time.min))
            )
        if options["platform"]:
            events = events.filter(platform=options["platform"])
        if options["tenant"]:
            tenant = Tenant.objects.filter(slug=options["tenant"]).first()
            if tenant is None:
                raise CommandError(f"No tenant with slug {options['tenant']!r}.")
            events = events.for_tenant(tenant)
        count = events.count()
        if options["dry_run"]:
            self.stdout.write(f"{count} event(s) would be resent.")
            return
        queued = events_resend(events=events)
        self.stdout.write(f"{queued} event(s) queued again.")
        if options["queue"] or not queued:
            return
        self.stdout.write("Sending ...")
        result = dispatch(progress=lambda r: self.stdout.write(f"  ... {r.summary()}"))
        self.stdout.write(self.style.SUCCESS(result.summary()))


def _looks_like_date(value: str) -> bool:
    try:
        return parse_date(value) is not None
    except ValueError:
        return False
