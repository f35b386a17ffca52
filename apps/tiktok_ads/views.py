"""The Ads page (campaigns -> ad groups -> ads, with pause/resume and daily budgets) and the
card's own actions (active advertisers, conversion pixel).

Thin views: parse, check access, call :mod:`.actions` or :mod:`.selectors`,
render. Members can look; only tenant admins can act. Every lookup goes
through ``for_tenant``, so another tenant's id is a 404.

htmx requests get partials: a drill-down table, the re-rendered row after an
action (errors inline, HTTP 200 so htmx swaps it), the re-rendered card after
a card action. Plain requests get full pages and redirects, so everything
works without JavaScript.
"""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from apps.integrations.registry import providers
from apps.integrations.selectors import hub_card
from apps.tenants.access import tenant_admin_required, tenant_member_required

from . import actions, selectors
from .models import TikTokAd, TikTokAdGroup, TikTokAdsCampaign, TikTokAdsConnection, TikTokPixel

PROVIDER_KEY = "tiktok_ads"
#: The default range: the last 30 days, today included.
DEFAULT_RANGE_DAYS = 30
#: The longest range the page accepts.
MAX_RANGE_DAYS = 366
#: The drill-downs look the object up before checking the method, so another
#: tenant's id is a 404 whatever the method (the isolation sweep posts too).
READ_METHODS = ["GET", "HEAD"]


class DateRangeForm(forms.Form):
    date_from = forms.DateField(
        label=gettext_lazy("From"), widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=gettext_lazy("To"), widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict:
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end:
            if start > end:
                raise forms.ValidationError(_("The start date must be on or before the end date."))
            if (end - start).days + 1 > MAX_RANGE_DAYS:
                raise forms.ValidationError(_("Choose a range of at most one year."))
        return cleaned


def _default_range() -> tuple[date, date]:
    today = timezone.localdate()
    return today - timedelta(days=DEFAULT_RANGE_DAYS - 1), today


def _date_range(data) -> tuple[DateRangeForm, date, date, bool]:
    """The form, the range to show and whether it is valid (missing dates: the default)."""
    start, end = _default_range()
    if not data.get("date_from") and not data.get("date_to"):
        form = DateRangeForm(initial={"date_from": start, "date_to": end})
        return form, start, end, True
    form = DateRangeForm(data)
    if form.is_valid():
        return form, form.cleaned_data["date_from"], form.cleaned_data["date_to"], True
    return form, start, end, False


def _range_context(request: HttpRequest, data) -> dict:
    form, start, end, valid = _date_range(data)
    return {
        "range_form": form,
        "range_valid": valid,
        "date_from": start,
        "date_to": end,
        "range_query": urlencode({"date_from": start.isoformat(), "date_to": end.isoformat()}),
        "can_act": bool(request.membership and request.membership.is_admin),
    }


def _connection(request: HttpRequest) -> TikTokAdsConnection | None:
    return TikTokAdsConnection.objects.for_tenant(request.tenant).first()


# --- pages -------------------------------------------------------------------------------


@tenant_member_required
@require_GET
def ads(request: HttpRequest) -> HttpResponse:
    """Campaigns with their metrics over the chosen range."""
    context = _range_context(request, request.GET)
    connection = _connection(request)
    context["connection"] = connection
    context["can_act"] = context["can_act"] and connection is not None and connection.is_live
    if context["range_valid"]:
        context["report"] = selectors.campaign_report(
            tenant=request.tenant, date_from=context["date_from"], date_to=context["date_to"]
        )
    return render(request, "tiktok_ads/ads.html", context)


@tenant_member_required
def campaign(request: HttpRequest, pk: int) -> HttpResponse:
    """The ad groups of one campaign: a partial for htmx, a page otherwise."""
    obj = get_object_or_404(
        TikTokAdsCampaign.objects.for_tenant(request.tenant).select_related("connection"), pk=pk
    )
    if request.method not in READ_METHODS:
        return HttpResponseNotAllowed(READ_METHODS)
    context = _range_context(request, request.GET)
    context["campaign"] = obj
    context["can_act"] = context["can_act"] and obj.connection.is_live
    if context["range_valid"]:
        context["report"] = selectors.adgroup_report(
            tenant=request.tenant,
            campaign=obj,
            date_from=context["date_from"],
            date_to=context["date_to"],
        )
    template = "tiktok_ads/_adgroups.html" if request.htmx else "tiktok_ads/campaign.html"
    return render(request, template, context)


@tenant_member_required
def adgroup(request: HttpRequest, pk: int) -> HttpResponse:
    """The ads of one ad group: a partial for htmx, a page otherwise."""
    obj = get_object_or_404(
        TikTokAdGroup.objects.for_tenant(request.tenant).select_related("connection"), pk=pk
    )
    if request.method not in READ_METHODS:
        return HttpResponseNotAllowed(READ_METHODS)
    context = _range_context(request, request.GET)
    context["adgroup"] = obj
    context["can_act"] = context["can_act"] and obj.connection.is_live
    context["campaign"] = (
        TikTokAdsCampaign.objects.for_tenant(request.tenant)
        .filter(campaign_id=obj.campaign_id)
        .first()
    )
    if context["range_valid"]:
        context["report"] = selectors.ad_report(
            tenant=request.tenant,
            adgroup=obj,
            date_from=context["date_from"],
            date_to=context["date_to"],
        )
    template = "tiktok_ads/_ads.html" if request.htmx else "tiktok_ads/adgroup.html"
    return render(request, template, context)


# --- row actions -------------------------------------------------------------------------


def _row_report(request: HttpRequest, obj, context: dict) -> selectors.Report:
    """The report narrowed to the one object an action changed (3 queries)."""
    span = {
        "tenant": request.tenant,
        "date_from": context["date_from"],
        "date_to": context["date_to"],
    }
    if isinstance(obj, TikTokAdsCampaign):
        return selectors.campaign_report(**span, campaign_ids=[obj.campaign_id])
    campaign = TikTokAdsCampaign(campaign_id=obj.campaign_id)
    if isinstance(obj, TikTokAdGroup):
        return selectors.adgroup_report(**span, campaign=campaign, adgroup_ids=[obj.adgroup_id])
    adgroup = TikTokAdGroup(adgroup_id=obj.adgroup_id)
    return selectors.ad_report(**span, adgroup=adgroup, ad_ids=[obj.ad_id])


def _back_url(request: HttpRequest) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("tiktok_ads:ads")


def _after_row_action(
    request: HttpRequest, obj, *, done: str | None = None, error: str | None = None
) -> HttpResponse:
    if not request.htmx:
        if error:
            messages.error(request, error)
        else:
            messages.success(request, done)
        return redirect(_back_url(request))
    context = _range_context(request, request.POST)
    report = _row_report(request, obj, context)
    context.update(
        {
            "row": report.rows[0] if report.rows else None,
            "row_error": error,
            "row_message": done,
            "next_url": request.POST.get("next", ""),
        }
    )
    return render(request, "tiktok_ads/_row.html", context)


def _wanted_status(request: HttpRequest) -> bool | None:
    value = request.POST.get("status", "")
    if value == actions.ENABLE:
        return True
    if value == actions.DISABLE:
        return False
    return None


def _status_action(request: HttpRequest, obj) -> HttpResponse:
    enabled = _wanted_status(request)
    if enabled is None:
        return HttpResponseBadRequest(_("Choose ENABLE or DISABLE."))
    try:
        actions.object_set_status(user=request.user, obj=obj, enabled=enabled)
    except actions.ActionError as exc:
        return _after_row_action(request, obj, error=str(exc))
    done = _("“%(name)s” resumed.") if enabled else _("“%(name)s” paused.")
    return _after_row_action(request, obj, done=done % {"name": obj})


@require_POST
@tenant_admin_required
def campaign_status(request: HttpRequest, pk: int) -> HttpResponse:
    obj = get_object_or_404(
        TikTokAdsCampaign.objects.for_tenant(request.tenant).select_related("connection"), pk=pk
    )
    return _status_action(request, obj)


@require_POST
@tenant_admin_required
def adgroup_status(request: HttpRequest, pk: int) -> HttpResponse:
    obj = get_object_or_404(
        TikTokAdGroup.objects.for_tenant(request.tenant).select_related("connection"), pk=pk
    )
    return _status_action(request, obj)


@require_POST
@tenant_admin_required
def ad_status(request: HttpRequest, pk: int) -> HttpResponse:
    obj = get_object_or_404(
        TikTokAd.objects.for_tenant(request.tenant).select_related("connection"), pk=pk
    )
    return _status_action(request, obj)


@require_POST
@tenant_admin_required
def adgroup_budget(request: HttpRequest, pk: int) -> HttpResponse:
    obj = get_object_or_404(
        TikTokAdGroup.objects.for_tenant(request.tenant).select_related("connection"), pk=pk
    )
    try:
        budget = actions.budget_parse(request.POST.get("budget"))
        actions.adgroup_set_daily_budget(user=request.user, adgroup=obj, budget=budget)
    except actions.ActionError as exc:
        return _after_row_action(request, obj, error=str(exc))
    return _after_row_action(
        request,
        obj,
        done=_("Daily budget of “%(name)s” set to %(budget)s.")
        % {"name": obj, "budget": f"{obj.budget:.2f}"},
    )


# --- card actions -------------------------------------------------------------------------


def _after_card_action(request: HttpRequest) -> HttpResponse:
    """Like the core's card actions: htmx gets the card back, a plain post the hub."""
    provider = providers.get(PROVIDER_KEY)
    if request.htmx:
        card = hub_card(tenant=request.tenant, provider=provider)
        return render(request, provider.card_template, {"card": card})
    return redirect(f"{reverse('integrations:hub')}?tab={provider.platform.key}")


@require_POST
@tenant_admin_required
def advertisers_active(request: HttpRequest) -> HttpResponse:
    chosen = [int(v) for v in request.POST.getlist("advertiser") if v.isdigit()]
    try:
        count = actions.advertisers_set_active(tenant=request.tenant, advertiser_pks=chosen)
    except actions.ActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("Active advertisers saved (%(count)d shown on the Ads page).") % {"count": count},
        )
    return _after_card_action(request)


@require_POST
@tenant_admin_required
def conversion_pixel(request: HttpRequest) -> HttpResponse:
    value = request.POST.get("pixel", "")
    pixel = None
    if value:
        if not value.isdigit():
            return HttpResponseBadRequest(_("Unknown pixel."))
        pixel = get_object_or_404(TikTokPixel.objects.for_tenant(request.tenant), pk=int(value))
    actions.conversion_pixel_choose(tenant=request.tenant, pixel=pixel)
    if pixel is None:
        messages.success(request, _("No conversion pixel: conversions are not sent to TikTok."))
    else:
        messages.success(request, _("Conversion pixel set to %(name)s.") % {"name": pixel})
    return _after_card_action(request)
