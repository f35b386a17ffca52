"""The Meta card's own actions, the WhatsApp numbers page, and Meta's signed callbacks.

Thin views: parse, check access, call :mod:`.services`, render. Members can
look; only tenant admins can act. Every lookup goes through ``for_tenant``,
so another tenant's id is a 404. htmx requests get the re-rendered ad account
row (errors inline, HTTP 200 so htmx swaps it); plain posts get a redirect
to the hub with a message, so everything works without JavaScript.

The deauthorize and data-deletion callbacks are called by Meta, not by a
user: CSRF-exempt, no session, authenticated by the ``signed_request``.
"""

from __future__ import annotations

import logging

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied as Forbidden
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from apps.integrations.http import ProviderError
from apps.tenants.access import tenant_admin_required, tenant_member_required

from . import selectors, services
from .models import MetaAdAccount, MetaDataDeletionRequest, WhatsAppNumber

logger = logging.getLogger(__name__)

HUB_TAB = "meta"


def _hub_url() -> str:
    return f"{reverse('integrations:hub')}?tab={HUB_TAB}"


def _is_admin(request: HttpRequest) -> bool:
    return bool(request.membership and request.membership.is_admin)


# --- ad accounts ------------------------------------------------------------------------


def _account_or_404(request: HttpRequest, pk: int) -> MetaAdAccount:
    return get_object_or_404(MetaAdAccount.objects.for_tenant(request.tenant), pk=pk)


def _after_account_action(
    request: HttpRequest, account: MetaAdAccount, *, done: str = "", error: str = ""
) -> HttpResponse:
    if not request.htmx:
        if error:
            messages.error(request, error)
        elif done:
            messages.success(request, done)
        return redirect(_hub_url())
    row = selectors.ad_account_row(tenant=request.tenant, pk=account.pk)
    if row is None:  # no live profile reaches it and it is not tracked: nothing left to show
        return HttpResponse("")
    context = {"row": row, "row_error": error, "row_message": done, "is_admin": True}
    return render(request, "meta_ads/_ad_account.html", context)


def _provider_message(exc: ProviderError) -> str:
    return _("Meta refused: %(error)s") % {"error": exc}


@require_POST
@tenant_admin_required
def ad_account_tracking(request: HttpRequest, pk: int) -> HttpResponse:
    """Switch tracking on (then list the account's pixels from the API) or off."""
    account = _account_or_404(request, pk)
    enabled = request.POST.get("enabled") == "on"
    try:
        services.ad_account_set_tracking(account=account, enabled=enabled)
    except services.ActionRefused as exc:
        return _after_account_action(request, account, error=str(exc))
    if not enabled:
        return _after_account_action(request, account, done=_("Tracking turned off."))
    try:
        services.ad_account_pixels_refresh(account=account)
    except ProviderError as exc:
        return _after_account_action(
            request,
            account,
            error=_("Tracking is on, but the pixels could not be listed. %(why)s")
            % {"why": _provider_message(exc)},
        )
    return _after_account_action(
        request, account, done=_("Tracking turned on: choose the pixel or dataset.")
    )


@require_POST
@tenant_admin_required
def ad_account_pixels(request: HttpRequest, pk: int) -> HttpResponse:
    """List the account's pixels/datasets from the API again."""
    account = _account_or_404(request, pk)
    try:
        pixels = services.ad_account_pixels_refresh(account=account)
    except ProviderError as exc:
        return _after_account_action(request, account, error=_provider_message(exc))
    return _after_account_action(
        request, account, done=_("%(count)d pixel(s) found.") % {"count": len(pixels)}
    )


@require_POST
@tenant_admin_required
def ad_account_pixel(request: HttpRequest, pk: int) -> HttpResponse:
    account = _account_or_404(request, pk)
    try:
        services.ad_account_choose_pixel(account=account, pixel_id=request.POST.get("pixel", ""))
    except services.ActionRefused as exc:
        return _after_account_action(request, account, error=str(exc))
    if not account.pixel_id:
        return _after_account_action(request, account, done=_("No pixel chosen."))
    return _after_account_action(
        request,
        account,
        done=_("Pixel set to %(name)s.") % {"name": account.pixel_name or account.pixel_id},
    )


# --- WhatsApp numbers ---------------------------------------------------------------------


class WhatsAppNumberForm(forms.ModelForm):
    class Meta:
        model = WhatsAppNumber
        fields = ["phone_number_id", "waba_id", "display_phone_number", "verified_name"]
        help_texts = {
            "phone_number_id": gettext_lazy(
                "The id WhatsApp Manager shows for the number (not the number itself)."
            ),
            "waba_id": gettext_lazy("The WhatsApp Business Account that owns the number."),
        }

    def _digits(self, name: str) -> str:
        value = (self.cleaned_data.get(name) or "").strip()
        if not value.isdigit():
            raise forms.ValidationError(_("Use the numeric id Meta shows."))
        return value

    def clean_phone_number_id(self) -> str:
        return self._digits("phone_number_id")

    def clean_waba_id(self) -> str:
        return self._digits("waba_id")


@tenant_member_required
def whatsapp(request: HttpRequest) -> HttpResponse:
    """The tenant's numbers; tenant admins register new ones here."""
    form = WhatsAppNumberForm()
    if request.method == "POST":
        if not _is_admin(request):
            raise Forbidden(_("Only tenant admins can do this."))
        form = WhatsAppNumberForm(request.POST, instance=WhatsAppNumber(tenant=request.tenant))
        if form.is_valid():
            number = form.save()
            messages.success(request, _("WhatsApp number %(n)s registered.") % {"n": number})
            return redirect("meta_ads:whatsapp")
    elif request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    context = {
        "numbers": selectors.whatsapp_numbers(tenant=request.tenant),
        "form": form,
        "can_act": _is_admin(request),
        "webhook_url": settings.PUBLIC_BASE_URL + reverse("webhooks:receive", args=["meta"]),
    }
    return render(request, "meta_ads/whatsapp.html", context)


def _number_or_404(request: HttpRequest, pk: int) -> WhatsAppNumber:
    return get_object_or_404(
        WhatsAppNumber.objects.for_tenant(request.tenant).select_related("tenant"), pk=pk
    )


@require_POST
@tenant_admin_required
def whatsapp_conversions(request: HttpRequest, pk: int) -> HttpResponse:
    """Conversions on (fetch or create the WABA's dataset through the API) or off."""
    number = _number_or_404(request, pk)
    enabled = request.POST.get("enabled") == "on"
    try:
        services.whatsapp_conversions_set(number=number, enabled=enabled, user=request.user)
    except ProviderError as exc:
        messages.error(request, _provider_message(exc))
    else:
        if enabled:
            messages.success(
                request,
                _("Conversions on: dataset %(id)s.") % {"id": number.conversions_dataset_id},
            )
        else:
            messages.success(request, _("Conversions off."))
    return redirect("meta_ads:whatsapp")


@require_POST
@tenant_admin_required
def whatsapp_delete(request: HttpRequest, pk: int) -> HttpResponse:
    number = _number_or_404(request, pk)
    number.delete()
    messages.success(request, _("WhatsApp number removed: its webhooks are no longer routed."))
    return redirect("meta_ads:whatsapp")


# --- Meta's callbacks (contract §1.8) -------------------------------------------------------


def _signed_user_id(request: HttpRequest) -> str | None:
    try:
        payload = services.signed_request_parse(request.POST.get("signed_request", ""))
    except services.InvalidSignedRequest as exc:
        logger.warning("meta callback refused path=%s reason=%s", request.path, exc)
        return None
    return str(payload["user_id"])


@csrf_exempt
@require_POST
def deauthorize(request: HttpRequest) -> HttpResponse:
    """The user removed the app on Facebook: their profiles are disconnected."""
    user_id = _signed_user_id(request)
    if user_id is None:
        return JsonResponse({"error": "invalid signed_request"}, status=400)
    services.profile_deauthorized(facebook_user_id=user_id)
    return JsonResponse({"success": True})


@csrf_exempt
@require_POST
def data_deletion(request: HttpRequest) -> HttpResponse:
    """The user asked for deletion: delete, then answer ``{url, confirmation_code}``."""
    user_id = _signed_user_id(request)
    if user_id is None:
        return JsonResponse({"error": "invalid signed_request"}, status=400)
    record = services.profile_data_delete(facebook_user_id=user_id)
    url = settings.PUBLIC_BASE_URL + reverse(
        "meta_ads:data_deletion_status", args=[record.confirmation_code]
    )
    return JsonResponse({"url": url, "confirmation_code": record.confirmation_code})


@require_GET
def data_deletion_status(request: HttpRequest, code: str) -> HttpResponse:
    """Public status page Meta links the user to (the code is the only key)."""
    record = MetaDataDeletionRequest.objects.filter(confirmation_code=code).first()
    status = 200 if record is not None else 404
    return render(request, "meta_ads/data_deletion_status.html", {"record": record}, status=status)
