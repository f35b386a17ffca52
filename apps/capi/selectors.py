"""Reads of the Conversions tab, each a fixed number of queries whatever the volume.

- the event log: one query a page (51 rows read, 50 shown: no COUNT over the log);
- destination health: the tenant's destinations, and one grouped count of
  their events sent or failed in the last 24 hours (by ``updated_at``, the
  time of the outcome) or pending, served by the ``(tenant, status,
  updated_at)`` index; plus what the registered platforms say is set up (one
  or two queries each);
- the event names used, for the filter: one query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q
from django.utils import timezone

from apps.tenants.models import Tenant

from .models import ConversionDestination, ConversionEvent, ConversionMapping, Platform
from .registry import Target, conversion_platforms

Status = ConversionEvent.Status
PER_PAGE = 50
HEALTH_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class LogFilters:
    platform: str = ""
    status: str = ""
    event_name: str = ""
    since: date | None = None
    until: date | None = None

    def query(self) -> Q:
        q = Q()
        if self.platform:
            q &= Q(platform=self.platform)
        if self.status:
            q &= Q(status=self.status)
        if self.event_name:
            q &= Q(event_name=self.event_name)
        if self.since:
            q &= Q(created_at__gte=_day_start(self.since))
        if self.until:
            q &= Q(created_at__lt=_day_start(self.until + timedelta(days=1)))
        return q

    def as_params(self) -> dict[str, str]:
        return {
            "platform": self.platform,
            "status": self.status,
            "event": self.event_name,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
        }


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


@dataclass
class EventPage:
    events: list[ConversionEvent]
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def event_log(*, tenant: Tenant, filters: LogFilters, page: int = 1) -> EventPage:
    start = (page - 1) * PER_PAGE
    rows = list(
        ConversionEvent.objects.for_tenant(tenant)
        .filter(filters.query())
        .select_related("destination")
        .order_by("-created_at", "-pk")[start : start + PER_PAGE + 1]
    )
    return EventPage(events=rows[:PER_PAGE], number=page, has_next=len(rows) > PER_PAGE)


def event_names(*, tenant: Tenant) -> list[str]:
    return list(
        ConversionEvent.objects.for_tenant(tenant)
        .order_by("event_name")
        .values_list("event_name", flat=True)
        .distinct()
    )


@dataclass
class DestinationHealth:
    platform: str
    external_id: str
    label: str
    kind: str
    destination: ConversionDestination | None = None
    sent_24h: int = 0
    failed_24h: int = 0
    pending: int = 0
    #: set up on the platform's card (a destination may also only exist from past events)
    configured: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def platform_label(self) -> str:
        return Platform(self.platform).label

    @property
    def breaker_state(self) -> str:
        return self.destination.breaker_state if self.destination else "closed"

    @property
    def breaker_label(self) -> str:
        return ConversionDestination.Breaker(self.breaker_state).label


def destinations_health(
    *, tenant: Tenant, mapping: ConversionMapping, now: datetime | None = None
) -> list[DestinationHealth]:
    now = now or timezone.now()
    since = now - HEALTH_WINDOW
    counts: dict[tuple[int, str], int] = {
        (row["destination_id"], row["status"]): row["n"]
        for row in ConversionEvent.objects.for_tenant(tenant)
        .filter(
            Q(status__in=[Status.SENT, Status.FAILED], updated_at__gte=since)
            | Q(status=Status.PENDING)
        )
        .exclude(destination=None)
        .values("destination_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    }
    health: dict[tuple[str, str], DestinationHealth] = {}
    for row in ConversionDestination.objects.for_tenant(tenant).order_by(
        "platform", "label", "external_id"
    ):
        health[(row.platform, row.external_id)] = DestinationHealth(
            platform=row.platform,
            external_id=row.external_id,
            label=row.label,
            kind=row.kind,
            destination=row,
            sent_24h=counts.get((row.pk, Status.SENT), 0),
            failed_24h=counts.get((row.pk, Status.FAILED), 0),
            pending=counts.get((row.pk, Status.PENDING), 0),
        )
    for platform, target in configured_targets(tenant=tenant, mapping=mapping):
        key = (platform, target.external_id)
        if key in health:
            health[key].configured = True
            continue
        health[key] = DestinationHealth(
            platform=platform,
            external_id=target.external_id,
            label=target.label,
            kind=target.kind,
            configured=True,
        )
    return sorted(health.values(), key=lambda h: (h.platform, h.label, h.external_id))


def configured_targets(*, tenant: Tenant, mapping: ConversionMapping) -> list[tuple[str, Target]]:
    """What each registered platform app says the tenant has set up."""
    found = []
    for platform in conversion_platforms.platforms():
        source = conversion_platforms.get(platform)
        if source is None:
            continue
        found.extend(
            (platform, target) for target in source.targets(tenant=tenant, mapping=mapping)
        )
    return found
