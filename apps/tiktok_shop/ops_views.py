"""TikTok Shop operations pages: an order's Fulfillment section, Returns, Finance.

Thin views (parse, check access, call :mod:`.fulfillment`, :mod:`.returns`,
:mod:`.finance`, render). Members look; tenant admins ship and decide
returns. Every object is looked up with ``for_tenant`` before anything
else, so another tenant's id is a 404 whatever the method. Forms are plain
POSTs with a CSRF token that htmx enhances (``hx-post`` swapping the
section); without JavaScript they redirect back to the page.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from apps.integrations.http import ProviderError
from apps.tenants.access import tenant_member_required

from . import finance, fulfillment, returns
from .models import RETURN_STATUSES, Order, Package, ReturnRequest, ShippingProvider, Shop

logger = logging.getLogger(__name__)

READ_METHODS = ["GET", "HEAD"]
RETURNS_PER_PAGE = 50


def _is_admin(request: HttpRequest) -> bool:
    return bool(request.membership and request.membership.is_admin)


def _refused(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "tiktok_shop/_refused.html",
        {"message": _("Only tenant admins can do this.")},
        status=403,
    )


# --- fulfillment (a section of the order page) ---------------------------------------------


def fulfillment_context(order: Order) -> dict:
    """What the Fulfillment section shows: 3 queries (packages, providers, settlement lines)."""
    packages = list(Package.objects.filter(order=order).order_by("package_id"))
    providers = list(ShippingProvider.objects.filter(shop_id=order.shop_id).order_by("name"))
    open_packages = [p for p in packages if p.status not in fulfillment.SHIPPED_PACKAGE_STATUSES]
    return {
        "order": order,
        "packages": packages,
        "open_packages": open_packages,
        "providers": providers,
        "shippable": order.status in fulfillment.SHIPPABLE_STATUSES
        and (open_packages or not packages),
        "platform_shipping": order.shipping_type == "TIKTOK",
        "handover_methods": [
            ("PICKUP", gettext_lazy("Pick-up by the carrier")),
            ("DROP_OFF", gettext_lazy("Drop-off at the carrier")),
        ],
        "transactions": finance.order_transactions(order=order),
    }


def _fulfillment_response(
    request: HttpRequest, order: Order, *, done: str = "", error: str = ""
) -> HttpResponse:
    if request.htmx:
        context = fulfillment_context(order) | {"done": done, "error": error}
        return render(request, "tiktok_shop/_fulfillment.html", context)
    if done:
        messages.success(request, done)
    if error:
        messages.error(request, error)
    return redirect(f"{reverse('tiktok_shop:order', args=[order.pk])}#fulfillment")


@tenant_member_required
def order_fulfillment(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the section. POST ``action``: ``refresh``, ``ship``, ``label`` (admins only)."""
    order = get_object_or_404(
        Order.objects.for_tenant(request.tenant).select_related("shop", "shop__connection"), pk=pk
    )
    if request.method in READ_METHODS:
        return render(request, "tiktok_shop/_fulfillment.html", fulfillment_context(order))
    if request.method != "POST":
        return HttpResponseNotAllowed([*READ_METHODS, "POST"])
    if not _is_admin(request):
        return _refused(request)
    action = request.POST.get("action", "")
    try:
        if action == "refresh":
            fulfillment.providers_refresh(shop=order.shop)
            order = fulfillment.order_packages_refresh(order=order)
            return _fulfillment_response(
                request, order, done=_("Packages and shipping providers fetched from TikTok.")
            )
        if action == "label":
            package = get_object_or_404(
                Package.objects.filter(order=order), pk=_int(request.POST.get("package"))
            )
            url = fulfillment.package_label(package=package)
            if not url:
                return _fulfillment_response(
                    request, order, error=_("TikTok has no shipping label for this package yet.")
                )
            return _fulfillment_response(request, order, done=_("Shipping label ready."))
        if action == "ship":
            return _ship(request, order)
    except ProviderError as exc:
        logger.warning("tiktok_shop fulfillment %s failed code=%s", action, exc.code)
        return _fulfillment_response(request, order, error=fulfillment._provider_message(exc))
    return _fulfillment_response(request, order, error=_("Unknown action."))


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def _ship(request: HttpRequest, order: Order) -> HttpResponse:
    package = None
    if request.POST.get("package"):
        package = get_object_or_404(
            Package.objects.filter(order=order), pk=_int(request.POST.get("package"))
        )
    handover = request.POST.get("handover_method", "")
    provider_id = ""
    if not handover:
        provider = ShippingProvider.objects.filter(
            shop_id=order.shop_id, pk=_int(request.POST.get("provider"))
        ).first()
        provider_id = provider.provider_id if provider else ""
    try:
        order = fulfillment.order_ship(
            user=request.user,
            order=order,
            package=package,
            tracking_number=request.POST.get("tracking_number", ""),
            provider_id=provider_id,
            handover_method=handover,
        )
    except fulfillment.ShipFailed as exc:
        return _fulfillment_response(request, order, error=str(exc))
    return _fulfillment_response(
        request,
        order,
        done=_("Shipped. TikTok now says the order is %(status)s.")
        % {"status": order.status_label},
    )


# --- returns ---------------------------------------------------------------------------------


class ReturnFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        required=False,
        choices=[("", gettext_lazy("Any status")), *RETURN_STATUSES],
    )
    shop = forms.TypedChoiceField(
        label=gettext_lazy("Shop"), required=False, coerce=int, empty_value=None
    )

    def __init__(self, *args, shops=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["shop"].choices = [("", _("All shops"))] + [(s.pk, str(s)) for s in shops]


@tenant_member_required
@require_GET
def returns_list(request: HttpRequest) -> HttpResponse:
    """The tenant's returns, newest first, 50 a page: 2 queries (count, page with shops)."""
    shops = list(Shop.objects.for_tenant(request.tenant).order_by("name", "shop_id"))
    form = ReturnFilterForm(request.GET or None, shops=shops)
    rows = ReturnRequest.objects.for_tenant(request.tenant).select_related("shop")
    if form.is_valid():
        if form.cleaned_data.get("status"):
            rows = rows.filter(status=form.cleaned_data["status"])
        if form.cleaned_data.get("shop"):
            rows = rows.filter(shop_id=form.cleaned_data["shop"])
    rows = rows.defer("line_items", "seller_next_actions", "reason_text").order_by(
        "-create_time", "-pk"
    )
    page = Paginator(rows, RETURNS_PER_PAGE).get_page(request.GET.get("page"))
    query = {k: v for k, v in request.GET.items() if k != "page" and v}
    context = {"form": form, "page": page, "shops": shops, "filter_query": urlencode(query)}
    if request.htmx and request.htmx.target == "returns-table":
        return render(request, "tiktok_shop/_returns_table.html", context)
    return render(request, "tiktok_shop/returns.html", context)


def _return_for(request: HttpRequest, pk: int) -> ReturnRequest:
    return get_object_or_404(
        ReturnRequest.objects.for_tenant(request.tenant).select_related(
            "shop", "shop__connection", "order"
        ),
        pk=pk,
    )


def _return_context(ret: ReturnRequest, **extra) -> dict:
    return {
        "ret": ret,
        "can_approve": bool(returns.decision_for(ret, approve=True)),
        "can_reject": bool(returns.decision_for(ret, approve=False)),
        "audit": returns.return_audit(ret=ret),
        **extra,
    }


@tenant_member_required
def return_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One return: reason, items, refund, deadline, the hub's decisions; 2 queries."""
    ret = _return_for(request, pk)
    if request.method not in READ_METHODS:
        return HttpResponseNotAllowed(READ_METHODS)
    return render(request, "tiktok_shop/return.html", _return_context(ret))


@tenant_member_required
def return_decide(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the reject form with TikTok's allowed reasons (one call). POST: approve or reject."""
    ret = _return_for(request, pk)
    if request.method not in [*READ_METHODS, "POST"]:
        return HttpResponseNotAllowed([*READ_METHODS, "POST"])
    if not _is_admin(request):
        return _refused(request)
    if request.method in READ_METHODS:
        try:
            reasons = returns.return_reject_reasons(ret=ret)
            error = ""
        except ProviderError as exc:
            reasons, error = [], returns._provider_message(exc)
        context = _return_context(ret, reasons=reasons, error=error, rejecting=True)
        template = (
            "tiktok_shop/_return_decision.html" if request.htmx else "tiktok_shop/return.html"
        )
        return render(request, template, context)
    approve = request.POST.get("decision") == "approve"
    reason, reason_text = request.POST.get("reject_reason", ""), ""
    if not approve and reason:
        # The reason's words, as TikTok listed them, for the audit entry.
        reason_text = request.POST.get(f"reason_text_{reason}", "")[:500]
    try:
        ret = returns.return_decide(
            user=request.user,
            ret=ret,
            approve=approve,
            reject_reason=reason,
            reject_reason_text=reason_text,
            comment=request.POST.get("comment", "")[:500],
        )
    except returns.ReturnDecisionFailed as exc:
        if request.htmx:
            return render(
                request, "tiktok_shop/_return_decision.html", _return_context(ret, error=str(exc))
            )
        messages.error(request, str(exc))
        return redirect("tiktok_shop:return", pk=ret.pk)
    done = _("Return approved.") if approve else _("Return rejected.")
    if request.htmx:
        return render(request, "tiktok_shop/_return_decision.html", _return_context(ret, done=done))
    messages.success(request, done)
    return redirect("tiktok_shop:return", pk=ret.pk)


# --- finance ---------------------------------------------------------------------------------


class FinanceFilterForm(forms.Form):
    period = forms.ChoiceField(
        label=gettext_lazy("Per"), required=False, choices=finance.Period.CHOICES
    )
    date_from = forms.DateField(
        label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=gettext_lazy("to"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    shop = forms.TypedChoiceField(
        label=gettext_lazy("Shop"), required=False, coerce=int, empty_value=None
    )

    def __init__(self, *args, shops=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["shop"].choices = [("", _("All shops"))] + [(s.pk, str(s)) for s in shops]

    def clean(self) -> dict:
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            raise forms.ValidationError(_("The start date must be on or before the end date."))
        return cleaned

    def filters(self) -> finance.FinanceFilters:
        if not self.is_valid():
            return finance.FinanceFilters()
        data = self.cleaned_data
        return finance.FinanceFilters(
            period=data.get("period") or finance.Period.MONTH,
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            shop=data.get("shop"),
        )


def _finance(request: HttpRequest) -> tuple[FinanceFilterForm, finance.FinanceFilters, list]:
    shops = list(Shop.objects.for_tenant(request.tenant).order_by("name", "shop_id"))
    form = FinanceFilterForm(request.GET or None, shops=shops)
    return form, form.filters(), shops


@tenant_member_required
@require_GET
def finance_page(request: HttpRequest) -> HttpResponse:
    """Totals per period, shop and currency; 2 queries (shops, the grouped totals)."""
    form, filters, shops = _finance(request)
    totals = finance.finance_totals(tenant=request.tenant, filters=filters)
    query = {k: v for k, v in request.GET.items() if v}
    context = {
        "form": form,
        "filters": filters,
        "totals": totals,
        "shops": shops,
        "export_query": urlencode(query),
    }
    if request.htmx and request.htmx.target == "finance-table":
        return render(request, "tiktok_shop/_finance_table.html", context)
    return render(request, "tiktok_shop/finance.html", context)


@tenant_member_required
@require_GET
def finance_export(request: HttpRequest) -> HttpResponse:
    """The Finance table with the same filters, as CSV."""
    _form, filters, _shops = _finance(request)
    totals = finance.finance_totals(tenant=request.tenant, filters=filters)
    response = HttpResponse(
        finance.finance_csv(totals=totals, period=filters.period),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = 'attachment; filename="tiktok-shop-finance.csv"'
    return response
