"""The Conversions tab of the hub and its actions.

The tab itself is rendered by the hub (``/integrations/?tab=conversions``):
:func:`conversions_panel` gives it its context (registered in
``CapiConfig.ready()``). The actions below are plain form posts that work
without JavaScript (they redirect back to the tab) and answer htmx with the
re-rendered panel. Members look; tenant admins resend, test, change the
mapping and rotate the lead webhook URL.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from apps.integrations.selectors import hub_tabs
from apps.tenants.access import tenant_admin_required

from . import platforms, selectors, services
from .models import ConversionDestination, ConversionEvent, ConversionMapping, Platform

TAB = "conversions"


def _filters(params: QueryDict) -> selectors.LogFilters:
    platform = params.get("platform", "")
    status = params.get("status", "")
    return selectors.LogFilters(
        platform=platform if platform in Platform.values else "",
        status=status if status in ConversionEvent.Status.values else "",
        event_name=params.get("event", "")[:64],
        since=parse_date(params.get("since", "") or "") if _is_date(params.get("since")) else None,
        until=parse_date(params.get("until", "") or "") if _is_date(params.get("until")) else None,
    )


def _is_date(value: str | None) -> bool:
    try:
        return bool(value) and parse_date(value) is not None
    except ValueError:
        return False


def _page(params: QueryDict) -> int:
    try:
        return max(1, int(params.get("page") or 1))
    except ValueError:
        return 1


def _mapping_fields(mapping: ConversionMapping) -> list[dict]:
    fields = []
    for platform in Platform:
        for stage in services.CONVERTING_STAGES:
            name = f"{platform.value}_{stage}"
            fields.append(
                {
                    "name": name,
                    "platform": platform.label,
                    "stage": _("Qualified") if stage == "qualified" else _("Won"),
                    "value": getattr(mapping, name),
                    "choices": platforms.STAGE_EVENT_CHOICES[(platform.value, stage)],
                }
            )
    return fields


def _lead_webhook_url(request: HttpRequest) -> str:
    endpoint = services.lead_endpoint_for(request.tenant)
    path = reverse(
        "webhooks:receive_routed",
        kwargs={"source_key": "tiktok-ads", "route_key": endpoint.token},
    )
    return f"{settings.PUBLIC_BASE_URL}{path}"


def conversions_panel(request: HttpRequest, params: QueryDict | None = None) -> dict:
    """The tab's context: health, event log page, mapping, lead webhook URL."""
    params = params if params is not None else request.GET
    tenant = request.tenant
    filters = _filters(params)
    mapping = services.mapping_for(tenant)
    context = {
        "panel_template": "capi/_panel.html",
        "health": selectors.destinations_health(tenant=tenant, mapping=mapping),
        "events_page": selectors.event_log(tenant=tenant, filters=filters, page=_page(params)),
        "filters": filters,
        "filter_query": urlencode(filters.as_params()),
        "event_names": selectors.event_names(tenant=tenant),
        "platforms": Platform.choices,
        "statuses": ConversionEvent.Status.choices,
        "mapping": mapping,
        "mapping_fields": _mapping_fields(mapping),
        "meta_targets": ConversionMapping.MetaTarget.choices,
        "resendable": services.RESENDABLE,
        "is_admin": request.membership.is_admin,
    }
    if request.membership.is_admin:
        context["lead_webhook_url"] = _lead_webhook_url(request)
    return context


def _back(request: HttpRequest) -> HttpResponse:
    """htmx: the re-rendered panel; a plain post: back to the tab with its filters."""
    if request.htmx:
        context = {
            "tabs": hub_tabs(),
            "active_tab": TAB,
            "cards": [],
            **conversions_panel(request, params=request.POST),
        }
        return render(request, "integrations/_panel.html", context)
    query = urlencode({"tab": TAB, **_filters(request.POST).as_params()})
    return redirect(f"{reverse('integrations:hub')}?{query}")


@require_POST
@tenant_admin_required
def resend(request: HttpRequest) -> HttpResponse:
    """Resend the ticked failed events, or every failed event the filters show (``all``)."""
    events = ConversionEvent.objects.for_tenant(request.tenant)
    if request.POST.get("all"):
        events = events.filter(_filters(request.POST).query())
    else:
        ids = [int(v) for v in request.POST.getlist("event") if v.isdigit()]
        events = events.filter(pk__in=ids)
    count = services.events_resend(events=events)
    if count:
        messages.success(
            request,
            ngettext("%(n)d event queued again.", "%(n)d events queued again.", count)
            % {"n": count},
        )
    else:
        messages.info(request, _("No failed event to resend."))
    return _back(request)


def _destination_for_test(request: HttpRequest) -> ConversionDestination:
    """A destination row of this tenant, created for a target its platform app lists."""
    platform = request.POST.get("platform", "")
    external_id = request.POST.get("external_id", "")
    if platform not in Platform.values or not external_id:
        raise Http404
    row = (
        ConversionDestination.objects.for_tenant(request.tenant)
        .filter(platform=platform, external_id=external_id)
        .first()
    )
    if row is not None:
        return row
    mapping = services.mapping_for(request.tenant)
    for known_platform, target in selectors.configured_targets(
        tenant=request.tenant, mapping=mapping
    ):
        if known_platform == platform and target.external_id == external_id:
            return services.destination_for(tenant=request.tenant, platform=platform, target=target)
    raise Http404


@require_POST
@tenant_admin_required
def test_event(request: HttpRequest) -> HttpResponse:
    destination = _destination_for_test(request)
    try:
        result = services.destination_test_event(
            destination=destination, test_event_code=request.POST.get("test_event_code", "")
        )
    except services.TestEventError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("Test event sent to %(destination)s: %(result)s")
            % {"destination": destination, "result": result},
        )
    return _back(request)


@require_POST
@tenant_admin_required
def mapping(request: HttpRequest) -> HttpResponse:
    try:
        services.mapping_save(tenant=request.tenant, values=request.POST.dict())
    except services.MappingError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Conversion events saved."))
    return _back(request)


@require_POST
@tenant_admin_required
def lead_webhook_rotate(request: HttpRequest) -> HttpResponse:
    services.lead_endpoint_rotate(tenant=request.tenant)
    messages.warning(
        request,
        _("New lead webhook URL: update it in TikTok's lead subscription; the old one stops now."),
    )
    return _back(request)
