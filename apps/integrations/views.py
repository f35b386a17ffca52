"""The hub page, the OAuth entry and callback views, and the card actions.

Views parse, check access, call a service and render a partial; logic lives in
services. Card actions answer htmx with the re-rendered card and plain form
posts with a redirect, so the essential actions work without JavaScript.
"""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from apps.tenants.access import tenant_admin_required, tenant_member_required

from . import scheduling, services
from .adapters import AuthorizationDenied
from .health import health_report
from .http import ProviderError
from .models import Connection, SyncRun
from .oauth import OAuthStateError
from .registry import Provider, providers
from .selectors import TAB_PANELS, hub_card, hub_cards, hub_tabs, sync_history

logger = logging.getLogger(__name__)


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    healthy, report = health_report()
    return JsonResponse(report, status=200 if healthy else 503)


def _hub_url(tab: str | None = None) -> str:
    url = reverse("integrations:hub")
    return f"{url}?tab={tab}" if tab else url


@tenant_member_required
def hub(request: HttpRequest) -> HttpResponse:
    """The hub page; an htmx tab switch gets only the panel back."""
    tabs = hub_tabs()
    active = request.GET.get("tab") or tabs[0].key
    if active not in {t.key for t in tabs}:
        raise Http404
    context = {"tabs": tabs, "active_tab": active, "cards": []}
    if active == "sync":
        context.update(_sync_history_context(request))
    elif active in TAB_PANELS:
        context.update(import_string(TAB_PANELS[active])(request))
    else:
        context["cards"] = hub_cards(tenant=request.tenant, platform_key=active)
    if request.htmx and request.htmx.target == "hub-panel":
        return render(request, "integrations/_panel.html", context)
    return render(request, "integrations/hub.html", context)


def _sync_history_context(request: HttpRequest) -> dict:
    product = request.GET.get("product", "")
    status = request.GET.get("status", "")
    if product and product not in providers:
        product = ""
    if status not in SyncRun.Status.values:
        status = ""
    try:
        number = max(1, int(request.GET.get("page") or 1))
    except ValueError:
        number = 1
    page = sync_history(tenant=request.tenant, product=product, status=status, page=number)
    return {
        "runs_page": page,
        "filter_product": product,
        "filter_status": status,
        "products": providers.all(),
        "run_statuses": SyncRun.Status.choices,
    }


def _provider_or_404(product: str) -> Provider:
    if product not in providers:
        raise Http404
    return providers.get(product)


def _connection_or_404(request: HttpRequest, provider: Provider, pk: int) -> Connection:
    return get_object_or_404(provider.model.objects.for_tenant(request.tenant), pk=pk)


def _render_card(request: HttpRequest, provider: Provider) -> HttpResponse:
    card = hub_card(tenant=request.tenant, provider=provider)
    return render(request, provider.card_template, {"card": card})


def _after_action(request: HttpRequest, provider: Provider) -> HttpResponse:
    if request.htmx:
        return _render_card(request, provider)
    return redirect(_hub_url(provider.platform.key))


# --- OAuth ---------------------------------------------------------------------------


@require_POST
@tenant_admin_required
def connect(request: HttpRequest, product: str) -> HttpResponse:
    provider = _provider_or_404(product)
    connection = None
    if request.POST.get("connection"):
        try:
            connection = _connection_or_404(request, provider, int(request.POST["connection"]))
        except ValueError:
            raise Http404 from None
    elif not provider.many_connections:
        connection = provider.model.objects.for_tenant(request.tenant).live().first()
    try:
        url = services.connection_authorize_start(
            provider=provider,
            tenant=request.tenant,
            user=request.user,
            pack_keys=request.POST.getlist("packs"),
            confirm_sensitive=request.POST.get("confirm_sensitive") == "on",
            connection=connection,
        )
    except services.ConnectError as exc:
        messages.error(request, str(exc))
        return redirect(_hub_url(provider.platform.key))
    # htmx cannot follow a redirect to another origin itself: ask for a full navigation.
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)


@login_required
@require_GET
def oauth_callback(request: HttpRequest) -> HttpResponse:
    """Shared callback: the TikTok products share one URL, the state says which one."""
    candidates = [p for p in providers.all() if p.callback_path == request.path]
    keys = [p.key for p in candidates]
    if not keys:
        raise Http404
    if not request.GET.get("state", "").strip():
        # Started outside the hub: the product that expects such callbacks takes them.
        stateless = next((p for p in candidates if p.stateless_callback_path), None)
        if stateless is not None:
            return import_string(stateless.stateless_callback_path)(request)
    fallback_tab = providers.get(keys[0]).platform.key
    try:
        outcome = services.connection_authorize_complete(
            provider_keys=keys, params=request.GET.dict(), tenant=request.tenant, user=request.user
        )
    except OAuthStateError as exc:
        logger.warning("oauth callback refused path=%s reason=%s", request.path, exc.reason)
        messages.error(request, str(exc))
        return redirect(_hub_url(fallback_tab))
    except AuthorizationDenied as exc:
        logger.info("oauth callback denied path=%s", request.path)
        messages.error(request, _("The authorization was declined: %(reason)s") % {"reason": exc})
        return redirect(_hub_url(fallback_tab))
    except ProviderError as exc:
        logger.warning(
            "oauth callback provider error path=%s code=%s request_id=%s",
            request.path,
            exc.code,
            exc.request_id,
        )
        messages.error(
            request,
            _("The provider refused the connection (%(code)s). Try again in a moment.")
            % {"code": exc.code or _("network error")},
        )
        return redirect(_hub_url(fallback_tab))
    provider = outcome.provider
    messages.success(request, _("%(label)s connected.") % {"label": provider.label})
    if outcome.missing_packs:
        messages.warning(
            request,
            _("Some permissions were not granted: %(packs)s. Reconnect to grant them.")
            % {"packs": ", ".join(outcome.missing_packs)},
        )
    return redirect(_hub_url(provider.platform.key))


# --- card actions ----------------------------------------------------------------


@tenant_member_required
@require_GET
def card(request: HttpRequest, product: str) -> HttpResponse:
    return _render_card(request, _provider_or_404(product))


@require_POST
@tenant_admin_required
def test_connection(request: HttpRequest, product: str, pk: int) -> HttpResponse:
    provider = _provider_or_404(product)
    connection = _connection_or_404(request, provider, pk)
    try:
        summary = services.connection_test(connection=connection)
    except (ProviderError, services.ConnectError) as exc:
        messages.error(
            request, _("Test failed: %(error)s") % {"error": connection.last_error or exc}
        )
    else:
        messages.success(request, _("Connection works: %(summary)s") % {"summary": summary})
    return _after_action(request, provider)


@require_POST
@tenant_admin_required
def sync_now(request: HttpRequest, product: str, pk: int) -> HttpResponse:
    provider = _provider_or_404(product)
    connection = _connection_or_404(request, provider, pk)
    started = scheduling.sync_enqueue_all(connection=connection, trigger=SyncRun.Trigger.MANUAL)
    if started:
        messages.success(request, _("Sync started."))
    else:
        messages.info(request, _("Nothing to sync for this product yet."))
    return _after_action(request, provider)


@require_POST
@tenant_admin_required
def disconnect(request: HttpRequest, product: str, pk: int) -> HttpResponse:
    provider = _provider_or_404(product)
    connection = _connection_or_404(request, provider, pk)
    services.connection_disconnect(connection=connection)
    messages.success(request, _("Disconnected. Synced data is kept."))
    return _after_action(request, provider)
