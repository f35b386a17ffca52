"""TikTok Shop pages, mounted at ``/integrations/tiktok-shop/``: Orders, one order, and the
confirmation of an authorization started in the Seller Center App Store.

Thin views: parse, check access, call :mod:`.selectors` or :mod:`.services`,
render. Members can look at orders; only tenant admins attach a shop. Every
lookup goes through ``for_tenant``, so another tenant's order id is a 404.
The Orders filter is a plain GET form that htmx enhances (it swaps the
table and pushes the URL); without JavaScript it reloads the page.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from apps.integrations import scopes
from apps.integrations.adapters import AuthorizationDenied
from apps.integrations.http import ProviderError
from apps.tenants.access import tenant_member_required
from apps.tenants.middleware import SESSION_KEY as TENANT_SESSION_KEY

from . import ops_views, selectors, services
from .models import ORDER_STATUSES

PROVIDER_KEY = "tiktok_shop"
READ_METHODS = ["GET", "HEAD"]
logger = logging.getLogger(__name__)


def _hub_url() -> str:
    return f"{reverse('integrations:hub')}?tab=tiktok"


# --- orders ------------------------------------------------------------------------------------


class OrderFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        required=False,
        choices=[("", gettext_lazy("Any status")), *ORDER_STATUSES],
    )
    date_from = forms.DateField(
        label=gettext_lazy("Created from"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    date_to = forms.DateField(
        label=gettext_lazy("to"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    shop = forms.TypedChoiceField(
        label=gettext_lazy("Shop"), required=False, coerce=int, empty_value=None
    )

    def __init__(self, *args, shops=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["shop"].choices = [("", _("All shops"))] + [
            (shop.pk, f"{shop} ({shop.region})" if shop.region else str(shop)) for shop in shops
        ]

    def clean(self) -> dict:
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            raise forms.ValidationError(_("The start date must be on or before the end date."))
        return cleaned


def _filters(form: OrderFilterForm) -> selectors.OrderFilters:
    if not form.is_valid():
        return selectors.OrderFilters()
    data = form.cleaned_data
    return selectors.OrderFilters(
        status=data.get("status") or "",
        date_from=data.get("date_from"),
        date_to=data.get("date_to"),
        shop=data.get("shop"),
    )


def _page_number(request: HttpRequest) -> int:
    try:
        return max(1, int(request.GET.get("page") or 1))
    except ValueError:
        return 1


@tenant_member_required
@require_GET
def orders(request: HttpRequest) -> HttpResponse:
    """The tenant's orders, filterable by status, creation date and shop, 50 a page."""
    shops = selectors.order_shops(tenant=request.tenant)
    form = OrderFilterForm(request.GET or None, shops=shops)
    page = selectors.orders_list(
        tenant=request.tenant, filters=_filters(form), page=_page_number(request)
    )
    query = {k: v for k, v in request.GET.items() if k != "page" and v}
    context = {
        "form": form,
        "page": page,
        "shops": shops,
        "filter_query": urlencode(query),
        "list_query": request.GET.urlencode(),
    }
    if request.htmx and request.htmx.target == "orders-table":
        return render(request, "tiktok_shop/_orders_table.html", context)
    return render(request, "tiktok_shop/orders.html", context)


@tenant_member_required
def order(request: HttpRequest, pk: int) -> HttpResponse:
    """One order: amounts, recipient, line items and status history.

    The order is looked up before the method is checked, so another tenant's
    id is a 404 whatever the method.
    """
    detail = selectors.order_detail(tenant=request.tenant, pk=pk)
    if request.method not in READ_METHODS:
        return HttpResponseNotAllowed(READ_METHODS)
    context = {
        "detail": detail,
        "order": detail.order,
        # The list's filters, to go back to the same page of the same list.
        "back_query": request.GET.get("back", ""),
        # The Fulfillment section (packages, providers, settlement lines): 3 queries.
        **ops_views.fulfillment_context(detail.order),
    }
    return render(request, "tiktok_shop/order.html", context)


# --- authorizations from the Seller Center App Store -----------------------------------------


def app_store_callback(request: HttpRequest) -> HttpResponse:
    """The shared TikTok callback hands over callbacks without ``state`` (App Store starts).

    The code is held server-side and the user is sent to pick a tenant; a
    refusal goes back to the hub with a message. The core view already
    required a logged-in user.
    """
    code = (request.GET.get("code") or "").strip()
    if request.GET.get("error") or not code or code == "null":
        messages.error(request, _("The TikTok Shop authorization was declined."))
        return redirect(_hub_url())
    token = services.app_store_authorization_hold(user=request.user, code=code)
    return redirect("tiktok_shop:app_store_confirm", token=token)


@login_required
@require_http_methods(["GET", "POST"])
def app_store_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """Ask which tenant the shop joins; only tenants the user administers are offered."""
    try:
        services.app_store_authorization_get(raw_token=token, user=request.user)
    except services.AppStoreError as exc:
        messages.error(request, str(exc))
        return redirect(_hub_url())
    tenants = services.app_store_admin_tenants(user=request.user)
    packs = scopes.packs_for(PROVIDER_KEY)
    context = {"tenants": tenants, "packs": packs, "token": token, "errors": []}
    if not tenants:
        return render(request, "tiktok_shop/app_store_confirm.html", context, status=403)
    if request.method == "GET":
        return render(request, "tiktok_shop/app_store_confirm.html", context)
    if request.POST.get("decision") == "cancel":
        messages.info(request, _("The TikTok Shop authorization was not attached to any tenant."))
        return redirect(_hub_url())
    return _app_store_complete(request, token, context)


def _app_store_complete(request: HttpRequest, token: str, context: dict) -> HttpResponse:
    try:
        tenant_id = int(request.POST.get("tenant") or 0)
    except ValueError:
        tenant_id = 0
    try:
        connection = services.app_store_authorization_complete(
            raw_token=token,
            user=request.user,
            tenant_id=tenant_id,
            pack_keys=request.POST.getlist("packs"),
            confirm_sensitive=request.POST.get("confirm_sensitive") == "on",
        )
    except services.AppStoreError as exc:
        context["errors"] = [str(exc)]
        context["chosen_tenant"] = tenant_id
        context["chosen_packs"] = request.POST.getlist("packs")
        return render(request, "tiktok_shop/app_store_confirm.html", context, status=400)
    except AuthorizationDenied as exc:
        messages.error(request, _("The authorization was declined: %(reason)s") % {"reason": exc})
        return redirect(_hub_url())
    except ProviderError as exc:
        logger.warning("app store code exchange refused code=%s", exc.code)
        messages.error(
            request,
            _("TikTok Shop refused the authorization (%(code)s). Authorize the app again.")
            % {"code": exc.code or _("network error")},
        )
        return redirect(_hub_url())
    # Show the hub of the tenant the shop joined.
    request.session[TENANT_SESSION_KEY] = connection.tenant_id
    messages.success(
        request,
        _("TikTok Shop connected to %(tenant)s.") % {"tenant": connection.tenant.name},
    )
    return redirect(_hub_url())
