"""The Leads page (tickets by stage, filters), the ticket page, stage moves and settings.

Thin views: parse, check access, call :mod:`.actions` / :mod:`.services` or
:mod:`.selectors`, render. Members look at tickets and move them between
stages; only tenant admins change the settings. Every lookup is scoped to the
tenant, so another tenant's ticket id is a 404.

htmx requests get partials (the ticket's row on the list, the stage panel on
the ticket page, the settings panel); plain posts get redirects with a
message, so every action works without JavaScript.

**Live updates.** The list's rows and the ticket's thread poll a fragment
every 3 seconds with the version they show (``?v=``); the fragment answers
204 (htmx swaps nothing) after one aggregate query when nothing changed, and
the re-rendered fragment, in a constant number of queries, when something did.

**Replies** are written on the ticket page (channels with a registered
replier: TikTok Shop) and queued; the thread shows them queued, sent,
delivered or failed with the reason as the polling picks the states up.
"""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from apps.tenants.access import tenant_admin_required, tenant_member_required

from . import actions, replies, selectors, services
from .channels import ReplyRefused, channels
from .forms import LeadSettingsForm, StageMoveForm
from .models import Channel, LeadSettings, Ticket

#: The ticket page looks the ticket up before checking the method, so another
#: tenant's id is a 404 whatever the method.
READ_METHODS = ["GET", "HEAD"]


def _ticket_or_404(request: HttpRequest, pk: int) -> Ticket:
    ticket = selectors.ticket_for(tenant=request.tenant, pk=pk)
    if ticket is None:
        raise Http404(_("No such ticket."))
    return ticket


def _is_admin(request: HttpRequest) -> bool:
    return bool(request.membership and request.membership.is_admin)


def _settings_context(request: HttpRequest, form: LeadSettingsForm | None = None) -> dict:
    current = services.lead_settings_for(request.tenant)
    if form is None and _is_admin(request):
        form = LeadSettingsForm(
            initial={
                "ticket_expiration_days": current.ticket_expiration_days,
                "default_currency": current.default_currency,
            }
        )
    return {"lead_settings": current, "settings_form": form, "can_admin": _is_admin(request)}


def _move_context(request: HttpRequest, settings: services.EffectiveSettings) -> dict:
    return {
        "stage_choices": Ticket.Stage.choices,
        "currencies": actions.CURRENCIES,
        "default_currency": settings.default_currency,
    }


# --- pages ---------------------------------------------------------------------------


@tenant_member_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """Tickets by stage with filters, one page at a time."""
    filters = selectors.TicketFilters.from_query(request.GET)
    board = selectors.ticket_board(
        tenant=request.tenant, filters=filters, page_number=request.GET.get("page") or 1
    )
    context = _settings_context(request)
    context.update(_move_context(request, context["lead_settings"]))
    context.update(_board_poll_context(request, filters))
    context.update(
        {
            "notices": channels.notices(tenant=request.tenant, channel=filters.channel),
            "board": board,
            "filters": filters,
            "channel_choices": Channel.choices,
            "status_choices": Ticket.Status.choices,
            "page_query": urlencode(filters.query()),
            "stage_links": [
                (tab, urlencode(filters.query(stage=tab.stage))) for tab in board.stages
            ],
            "all_stages_query": urlencode(filters.query(stage="")),
        }
    )
    return render(request, "leads/index.html", context)


def _board_poll_context(
    request: HttpRequest, filters: selectors.TicketFilters, version: str | None = None
) -> dict:
    """What the list polls with; ``version`` when the caller has already read it."""
    query = {**filters.query(), "page": request.GET.get("page") or ""}
    if version is None:
        version = selectors.board_version(tenant=request.tenant, filters=filters)
    return {
        "board_version": version,
        "board_query": urlencode({k: v for k, v in query.items() if v}),
    }


@tenant_member_required
@require_GET
def board(request: HttpRequest) -> HttpResponse:
    """The list's rows, polled: 204 when nothing changed since ``?v=``, else the rows."""
    filters = selectors.TicketFilters.from_query(request.GET)
    version = selectors.board_version(tenant=request.tenant, filters=filters)
    if request.GET.get("v") == version:
        return HttpResponse(status=204)
    board = selectors.ticket_board(
        tenant=request.tenant, filters=filters, page_number=request.GET.get("page") or 1
    )
    context = {"board": board, "filters": filters}
    context.update(_move_context(request, services.lead_settings_for(request.tenant)))
    context.update(_board_poll_context(request, filters, version))
    return render(request, "leads/_board_rows.html", context)


def _thread_context(ticket: Ticket, version: str | None = None) -> dict:
    """The thread fragment's context; ``version`` when the caller has already read it."""
    messages_, hidden = selectors.thread_messages(ticket=ticket)
    return {
        "ticket": ticket,
        "thread_messages": messages_,
        "messages_hidden": hidden,
        "thread_version": version or selectors.thread_version(ticket=ticket),
    }


@tenant_member_required
def ticket(request: HttpRequest, pk: int) -> HttpResponse:
    """One ticket: messages, attribution with its history, stage and its history."""
    obj = _ticket_or_404(request, pk)
    if request.method not in READ_METHODS:
        return HttpResponseNotAllowed(READ_METHODS)
    context = {
        "detail": selectors.ticket_detail(ticket=obj),
        "ticket": obj,
        "thread_version": selectors.thread_version(ticket=obj),
        "can_reply": channels.can_reply(obj.channel),
        "reply_max_length": replies.REPLY_MAX_LENGTH,
    }
    context.update(_move_context(request, services.lead_settings_for(request.tenant)))
    return render(request, "leads/ticket.html", context)


@tenant_member_required
def ticket_thread(request: HttpRequest, pk: int) -> HttpResponse:
    """The ticket's messages, polled: 204 when nothing changed since ``?v=``."""
    obj = _ticket_or_404(request, pk)
    if request.method not in READ_METHODS:
        return HttpResponseNotAllowed(READ_METHODS)
    version = selectors.thread_version(ticket=obj)
    if request.GET.get("v") == version:
        return HttpResponse(status=204)
    return render(request, "leads/_thread.html", _thread_context(obj, version))


@require_POST
@tenant_member_required
def ticket_reply(request: HttpRequest, pk: int) -> HttpResponse:
    """A member replies; the reply is queued and shows in the thread with its delivery state."""
    obj = _ticket_or_404(request, pk)
    text = request.POST.get("text", "")
    error = None
    try:
        replies.reply_create(ticket=obj, user=request.user, text=text)
    except ReplyRefused as exc:
        error = str(exc)
    if not request.htmx:
        if error:
            messages.error(request, error)
        else:
            messages.success(request, _("Reply queued."))
        return redirect(reverse("leads:ticket", args=[obj.pk]))
    context = _thread_context(obj)
    context.update(
        {
            "oob": True,
            "reply_error": error,
            "reply_text": text if error else "",
            "reply_max_length": replies.REPLY_MAX_LENGTH,
        }
    )
    return render(request, "leads/_thread_and_form.html", context)


# --- actions -------------------------------------------------------------------------


def _wanted_move(form: StageMoveForm) -> tuple[str, Decimal | None, str]:
    """The stage, value and currency asked for, or ActionRefused with what is missing."""
    if not form.is_valid():
        raise actions.ActionRefused(_("Choose a stage."))
    stage = form.cleaned_data["stage"]
    if stage != Ticket.Stage.WON:
        return stage, None, ""
    raw_value = form.cleaned_data["value"]
    currency = form.cleaned_data["currency"]
    if not raw_value or not currency:
        raise actions.ActionRefused(_("Enter the deal value and currency to mark the ticket won."))
    return stage, actions.deal_value_parse(raw_value), currency


def _back_url(request: HttpRequest, ticket: Ticket) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("leads:ticket", args=[ticket.pk])


@require_POST
@tenant_member_required
def ticket_stage(request: HttpRequest, pk: int) -> HttpResponse:
    """Move a ticket to another stage (members may); won asks for value and currency."""
    obj = _ticket_or_404(request, pk)
    form = StageMoveForm(request.POST)
    wanted = request.POST.get("stage", "")
    error = done = None
    try:
        stage, value, currency = _wanted_move(form)
        actions.ticket_move_stage(
            ticket=obj, to_stage=stage, user=request.user, value=value, currency=currency
        )
    except actions.ActionRefused as exc:
        error = str(exc)
    else:
        done = _("Ticket moved to %(stage)s.") % {"stage": Ticket.Stage(stage).label}
    if not request.htmx:
        if error:
            messages.error(request, error)
            if wanted == Ticket.Stage.WON:
                return redirect(f"{reverse('leads:ticket', args=[obj.pk])}#won")
        else:
            messages.success(request, done)
        return redirect(_back_url(request, obj))
    context = {
        "ticket": selectors.ticket_for(tenant=request.tenant, pk=obj.pk),
        "move_error": error,
        "move_message": done,
        "ask_won": bool(error and wanted == Ticket.Stage.WON),
        "won_value": request.POST.get("value", ""),
        "next_url": request.POST.get("next", ""),
    }
    context.update(_move_context(request, services.lead_settings_for(request.tenant)))
    if request.POST.get("view") == "row":
        return render(request, "leads/_ticket_row.html", context)
    context["stage_changes"] = selectors.stage_history(ticket=obj)
    return render(request, "leads/_stage_panel.html", context)


@require_POST
@tenant_admin_required
def settings_save(request: HttpRequest) -> HttpResponse:
    """Tenant admins set the ticket expiration and the default deal currency."""
    form = LeadSettingsForm(
        request.POST, instance=LeadSettings.objects.filter(tenant=request.tenant).first()
    )
    saved = form.is_valid()
    if saved:
        services.lead_settings_save(
            tenant=request.tenant,
            user=request.user,
            ticket_expiration_days=form.cleaned_data["ticket_expiration_days"],
            default_currency=form.cleaned_data["default_currency"],
        )
    if not request.htmx:
        if saved:
            messages.success(request, _("Lead settings saved."))
        else:
            errors = " ".join(str(e) for errs in form.errors.values() for e in errs)
            messages.error(
                request, _("The settings were not saved: %(errors)s") % {"errors": errors}
            )
        return redirect("leads:index")
    context = _settings_context(request, None if saved else form)
    context["settings_saved"] = saved
    return render(request, "leads/_settings.html", context)
