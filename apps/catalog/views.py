"""The Products page: catalog items, their listings on each channel account, pushes.

Thin views: parse, check access, call :mod:`.services` or :mod:`.selectors`,
render. Members can look; only tenant admins push. Every lookup goes through
``for_tenant``, so another tenant's item is a 404. A push is a plain form
POST (redirect with a message) that htmx upgrades to a re-rendered row.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from apps.tenants.access import tenant_admin_required, tenant_member_required

from . import selectors, services
from .channels import PushError, UnknownChannel, channels
from .models import CatalogItem, PushResult, ReviewStatus, StockPush

VIEW_UNMATCHED = "unmatched"


def _can_act(request: HttpRequest) -> bool:
    return bool(request.membership and request.membership.is_admin)


@tenant_member_required
@require_GET
def products(request: HttpRequest) -> HttpResponse:
    """Catalog items with their channel listings, or (``?view=unmatched``) unmatched listings."""
    context = {
        "can_act": _can_act(request),
        "review_choices": ReviewStatus.choices,
        "match_choices": [
            (selectors.MATCH_LISTED, _("Listed")),
            (selectors.MATCH_UNLISTED, _("Not listed")),
        ],
    }
    page_number = request.GET.get("page")
    if request.GET.get("view") == VIEW_UNMATCHED:
        context["unmatched"] = selectors.unmatched_listings_page(
            tenant=request.tenant, data=request.GET, page_number=page_number
        )
        context["filters"] = context["unmatched"].filters
        context["choices"] = context["unmatched"].choices
        return render(request, "catalog/unmatched.html", context)
    page = selectors.products_page(tenant=request.tenant, data=request.GET, page_number=page_number)
    context.update(products=page, filters=page.filters, choices=page.choices)
    return render(request, "catalog/products.html", context)


def _back_url(request: HttpRequest) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("catalog:products")


def _split_account(value: str) -> tuple[str, str]:
    channel_key, _sep, account_ref = value.partition(":")
    return channel_key, account_ref


@require_POST
@tenant_admin_required
def item_push(request: HttpRequest, pk: int) -> HttpResponse:
    """Create or update the item's product in the posted account (``channel:ref``)."""
    item = get_object_or_404(CatalogItem.objects.for_tenant(request.tenant), pk=pk)
    channel_key, account_ref = _split_account(request.POST.get("account", ""))
    error, done, details = None, None, []
    try:
        outcome = services.catalog_item_push(
            item=item, channel_key=channel_key, account_ref=account_ref, user=request.user
        )
    except UnknownChannel:
        error = _("Unknown sales channel.")
    except PushError as exc:
        error, details = exc.message, exc.details
    else:
        done = (
            _("“%(sku)s” sent as a new product; it is now in review.")
            if outcome.action == PushResult.CREATED
            else _("“%(sku)s” updated; the channel may review it again.")
        ) % {"sku": item.sku}
        details = outcome.warnings

    if not request.htmx:
        if error:
            messages.error(request, " ".join([error, *details]))
        else:
            messages.success(request, " ".join([done, *details]))
        return redirect(_back_url(request))
    row = selectors.item_row(
        tenant=request.tenant, item=item, account=request.POST.get("shown", "")
    )
    context = {
        "row": row,
        "can_act": True,
        "row_error": error,
        "row_message": done,
        "row_details": details,
        "next_url": request.POST.get("next", ""),
        "shown": request.POST.get("shown", ""),
    }
    return render(request, "catalog/_item_row.html", context)


@require_POST
@tenant_admin_required
def stock_push(request: HttpRequest) -> HttpResponse:
    """Send the stock of every matched listing of one account now."""
    channel_key, account_ref = _split_account(request.POST.get("account", ""))
    choices = {c.value: c for c in selectors.account_choices(tenant=request.tenant)}
    choice = choices.get(request.POST.get("account", ""))
    if choice is None or channel_key not in channels:
        messages.error(request, _("Choose one of your accounts."))
        return redirect(_back_url(request))
    pushes = channels.get(channel_key).push_stock(
        tenant=request.tenant, account_ref=account_ref, trigger=StockPush.Trigger.MANUAL
    )
    sent = sum(len(push.items) for push in pushes)
    failed = [push for push in pushes if push.status != StockPush.Status.SUCCEEDED]
    if failed:
        messages.error(
            request,
            _(
                "Stock sent for %(count)d SKU(s) of %(account)s; %(failed)d call(s) failed: %(error)s"
            )
            % {
                "count": sent,
                "account": choice.label,
                "failed": len(failed),
                "error": failed[0].error,
            },
        )
    else:
        messages.success(
            request,
            _("Stock sent for %(count)d SKU(s) of %(account)s.")
            % {"count": sent, "account": choice.label},
        )
    return redirect(_back_url(request))
