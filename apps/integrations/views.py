from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.tenants.access import tenant_member_required

from .health import health_report
from .selectors import hub_cards, hub_tabs


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    healthy, report = health_report()
    return JsonResponse(report, status=200 if healthy else 503)


@tenant_member_required
def hub(request: HttpRequest) -> HttpResponse:
    """The hub page; an htmx tab switch gets only the panel back."""
    tabs = hub_tabs()
    active = request.GET.get("tab") or tabs[0].key
    if active not in {t.key for t in tabs}:
        raise Http404
    context = {
        "tabs": tabs,
        "active_tab": active,
        "cards": hub_cards(tenant=request.tenant, platform_key=active),
    }
    if request.htmx and request.htmx.target == "hub-panel":
        return render(request, "integrations/_panel.html", context)
    return render(request, "integrations/hub.html", context)
