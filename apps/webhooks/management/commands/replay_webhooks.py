"""Queue stored webhook events again: after a bug fix, or once an unknown shop is connected."""

from __future__ import annotations

from datetime import datetime, time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date

from apps.webhooks.models import WebhookEvent
from apps.webhooks.registry import webhooks
from apps.webhooks.services import drain, events_replay

REPLAYABLE = [
    WebhookEvent.Status.FAILED,
    WebhookEvent.Status.UNROUTABLE,
    WebhookEvent.Status.IGNORED,
    WebhookEvent.Status.PROCESSED,
]


class Command(BaseCommand):
    help = "Put stored webhook events back in the queue (failed ones by default) and drain them."

    def add_arguments(self, parser):
        parser.add_argument("--source", help="only this source (e.g. tiktok-shop, meta)")
        parser.add_argument(
            "--status",
            action="append",
            choices=[s.value for s in REPLAYABLE],
            help="statuses to replay (repeatable; default: failed)",
        )
        parser.add_argument("--since", help="received on or after this date (YYYY-MM-DD)")
        parser.add_argument("--id", type=int, action="append", dest="ids", help="event pk")
        parser.add_argument("--dry-run", action="store_true", help="count, change nothing")
        parser.add_argument(
            "--queue", action="store_true", help="leave processing to the worker (default: now)"
        )

    def handle(self, *args, **options):
        events = self._select(options)
        count = events.count()
        if options["dry_run"]:
            self.stdout.write(f"{count} event(s) would be replayed.")
            return
        replayed = events_replay(events)
        self.stdout.write(f"{replayed} event(s) queued again.")
        if options["queue"] or not replayed:
            return
        self.stdout.write("Draining ...")
        result = drain()
        self.stdout.write(
            self.style.SUCCESS(
                f"processed {result.processed}, retried {result.retried}, failed {result.failed}, "
                f"unknown account {result.unroutable}, no handler {result.ignored}"
            )
        )

    def _select(self, options):
        events = WebhookEvent.objects.filter(status__in=options["status"] or ["failed"])
        if options["source"]:
            if webhooks.source(options["source"]) is None:
                known = ", ".join(s.key for s in webhooks.sources()) or "none"
                raise CommandError(f"Unknown source {options['source']!r} (known: {known}).")
            events = events.filter(source=options["source"])
        if options["since"]:
            day = parse_date(options["since"])
            if day is None:
                raise CommandError(
                    f"--since must be a date (YYYY-MM-DD), not {options['since']!r}."
                )
            since = timezone.make_aware(datetime.combine(day, time.min))
            events = events.filter(received_at__gte=since)
        if options["ids"]:
            events = events.filter(pk__in=options["ids"])
        return events
