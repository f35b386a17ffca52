"""Reads the Leads pages need, each with a fixed query budget.

- :func:`ticket_board`: 4 queries whatever the number of tickets (stage
  counts, campaign choices, the page's count and its rows with contact and
  tracking joined).
- :func:`ticket_detail`: 4 queries (the ticket with contact and tracking, its
  latest messages, its attribution history, its stage history with who moved it).
- :func:`thread_version` and :func:`board_version`: one aggregate each, what
  the polling fragments compare to answer "nothing changed" (204) cheaply.
- :func:`thread_messages`: 1 query (the ticket's latest messages with who wrote them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.paginator import Page, Paginator
from django.db.models import Count, Max, QuerySet

from apps.tenants.models import Tenant

from .models import AttributionChange, Channel, Message, StageChange, Ticket, TicketTracking

TICKETS_PER_PAGE = 25
#: The ticket page shows this many of the latest messages.
MESSAGES_SHOWN = 200


@dataclass(frozen=True)
class TicketFilters:
    """What the Leads page narrows tickets to; empty strings mean "any"."""

    channel: str = ""
    stage: str = ""
    campaign: str = ""
    status: str = ""

    @classmethod
    def from_query(cls, data) -> TicketFilters:
        """Known values only: anything else is ignored rather than failing the page."""

        def pick(name: str, allowed) -> str:
            value = data.get(name, "") or ""
            return value if value in allowed else ""

        campaign = (data.get("campaign", "") or "")[:64]
        return cls(
            channel=pick("channel", Channel.values),
            stage=pick("stage", Ticket.Stage.values),
            campaign=campaign if campaign.isdigit() or campaign == "none" else "",
            status=pick("status", Ticket.Status.values),
        )

    def apply(self, tickets: QuerySet[Ticket], *, with_stage: bool = True) -> QuerySet[Ticket]:
        if self.channel:
            tickets = tickets.filter(channel=self.channel)
        if self.status:
            tickets = tickets.filter(status=self.status)
        if self.campaign == "none":
            tickets = tickets.filter(tracking__isnull=True)
        elif self.campaign:
            tickets = tickets.filter(tracking__campaign_id=self.campaign)
        if with_stage and self.stage:
            tickets = tickets.filter(stage=self.stage)
        return tickets

    def query(self, **overrides: str) -> dict[str, str]:
        """The filters as query parameters (for links), with some replaced."""
        values = {
            "channel": self.channel,
            "stage": self.stage,
            "campaign": self.campaign,
            "status": self.status,
        }
        values.update(overrides)
        return {key: value for key, value in values.items() if value}


@dataclass
class StageTab:
    stage: str
    label: str
    count: int
    active: bool


@dataclass
class TicketBoard:
    filters: TicketFilters
    page: Page
    stages: list[StageTab] = field(default_factory=list)
    total: int = 0
    campaigns: list[tuple[str, str]] = field(default_factory=list)


def ticket_board(*, tenant: Tenant, filters: TicketFilters, page_number=1) -> TicketBoard:
    """Tickets by stage: the counts per stage and one page of the chosen stage (4 queries)."""
    tickets = filters.apply(Ticket.objects.for_tenant(tenant), with_stage=False)
    counts = dict(
        tickets.order_by().values_list("stage").annotate(n=Count("pk")).values_list("stage", "n")
    )
    stages = [
        StageTab(
            stage=value, label=label, count=counts.get(value, 0), active=filters.stage == value
        )
        for value, label in Ticket.Stage.choices
    ]
    rows = (
        filters.apply(tickets)
        .select_related("contact", "tracking")
        .order_by("-last_message_at", "-pk")
    )
    page = Paginator(rows, TICKETS_PER_PAGE).get_page(page_number)
    return TicketBoard(
        filters=filters,
        page=page,
        stages=stages,
        total=sum(counts.values()),
        campaigns=campaign_choices(tenant=tenant),
    )


def campaign_choices(*, tenant: Tenant) -> list[tuple[str, str]]:
    """(campaign id, name) of every campaign a ticket is attributed to, by name (1 query)."""
    rows = (
        TicketTracking.objects.for_tenant(tenant)
        .exclude(campaign_id="")
        .order_by("campaign_id", "-enriched_at")
        .values_list("campaign_id", "campaign_name")
    )
    names: dict[str, str] = {}
    for campaign_id, name in rows:
        names.setdefault(campaign_id, name or campaign_id)
    return sorted(names.items(), key=lambda item: (item[1].lower(), item[0]))


@dataclass
class TicketDetail:
    ticket: Ticket
    tracking: TicketTracking | None
    messages: list[Message]
    messages_hidden: bool
    attribution_changes: list[AttributionChange]
    stage_changes: list[StageChange]


def ticket_for(*, tenant: Tenant, pk: int) -> Ticket | None:
    """The tenant's ticket with its contact and tracking (1 query); None for another tenant's id."""
    return (
        Ticket.objects.for_tenant(tenant)
        .select_related("contact", "tracking")
        .filter(pk=pk)
        .first()
    )


def ticket_detail(*, ticket: Ticket) -> TicketDetail:
    """What the ticket page shows besides the ticket itself (3 queries)."""
    messages, hidden = thread_messages(ticket=ticket)
    return TicketDetail(
        ticket=ticket,
        tracking=tracking_of(ticket),
        messages=messages,
        messages_hidden=hidden,
        attribution_changes=list(AttributionChange.objects.filter(ticket=ticket)),
        stage_changes=stage_history(ticket=ticket),
    )


def stage_history(*, ticket: Ticket) -> list[StageChange]:
    return list(StageChange.objects.filter(ticket=ticket).select_related("by"))


def tracking_of(ticket: Ticket) -> TicketTracking | None:
    """The ticket's tracking, None for a ticket no ad brought (no query once joined)."""
    try:
        return ticket.tracking
    except TicketTracking.DoesNotExist:
        return None


def thread_messages(*, ticket: Ticket) -> tuple[list[Message], bool]:
    """The latest messages, oldest first, and whether older ones were left out (1 query)."""
    latest = list(
        Message.objects.filter(ticket=ticket)
        .select_related("sent_by")
        .order_by("-sent_at", "-pk")[: MESSAGES_SHOWN + 1]
    )
    return list(reversed(latest[:MESSAGES_SHOWN])), len(latest) > MESSAGES_SHOWN


def _stamp(value) -> str:
    return value.isoformat() if value is not None else "-"


def thread_version(*, ticket: Ticket) -> str:
    """Changes when a message arrives or a delivery state moves (1 query)."""
    row = Message.objects.filter(ticket=ticket).aggregate(
        n=Count("pk"), top=Max("pk"), changed=Max("delivery_updated_at")
    )
    return f"{row['n']}.{row['top'] or 0}.{_stamp(row['changed'])}"


def board_version(*, tenant: Tenant, filters: TicketFilters) -> str:
    """Changes when a ticket opens or gets a message within the filters (1 query)."""
    row = (
        filters.apply(Ticket.objects.for_tenant(tenant))
        .order_by()
        .aggregate(n=Count("pk"), top=Max("pk"), last=Max("last_message_at"))
    )
    return f"{row['n']}.{row['top'] or 0}.{_stamp(row['last'])}"
