"""``/sandbox/``: a staff page listing the emulated providers, live grants and faults."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from .. import faults, grants
from ..api import mount_path
from ..models import Provider, SandboxGrant

ENTRY_POINTS = {
    Provider.TIKTOK_ADS: [
        "tiktok-ads/portal/auth",
        "tiktok-ads/open_api/v1.3/oauth2/access_token/",
        "tiktok-ads/open_api/v1.3/oauth2/revoke_token/",
        "tiktok-ads/open_api/v1.3/oauth2/advertiser/get/",
        "tiktok-ads/open_api/v1.3/advertiser/info/",
        "tiktok-ads/open_api/v1.3/pixel/list/",
        "tiktok-ads/open_api/v1.3/campaign/get/",
    ],
    Provider.TIKTOK_SHOP: [
        "tiktok-shop/services/open/authorize",
        "tiktok-shop/auth/api/v2/token/get",
        "tiktok-shop/auth/api/v2/token/refresh",
        "tiktok-shop/open-api/authorization/202309/shops",
    ],
    Provider.TIKTOK_CONTENT: [
        "tiktok-content/v2/auth/authorize/",
        "tiktok-content/api/v2/oauth/token/",
        "tiktok-content/api/v2/oauth/revoke/",
        "tiktok-content/api/v2/user/info/",
    ],
    Provider.META: [
        "meta/dialog/oauth",
        "meta/graph/<version>/oauth/access_token",
        "meta/graph/<version>/me",
        "meta/graph/<version>/me/permissions",
        "meta/graph/<version>/debug_token",
    ],
}
GRANTS_SHOWN = 50


def _masked(token: str | None) -> str:
    return f"{token[:6]}…{token[-4:]}" if token else ""


@staff_member_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    rows = [
        {
            "grant": grant,
            "access": _masked(grant.access_token),
            "refresh": _masked(grant.refresh_token),
        }
        for grant in SandboxGrant.objects.exclude(access_token=None)[:GRANTS_SHOWN]
    ]
    context = {
        "providers": [(p.label, [mount_path() + e for e in ENTRY_POINTS[p]]) for p in Provider],
        "rows": rows,
        "faults": faults.active(),
        "kinds": faults.KINDS,
        "provider_keys": faults.PROVIDERS,
        "calls_total": faults.calls(),
    }
    return render(request, "sandbox/index.html", context)


@staff_member_required
@require_POST
def fault_inject(request: HttpRequest) -> HttpResponse:
    try:
        retry_after = request.POST.get("retry_after") or None
        faults.inject(
            provider=request.POST.get("provider", ""),
            path_contains=request.POST.get("path_contains", ""),
            kind=request.POST.get("kind", ""),
            times=int(request.POST.get("times") or 1),
            after=int(request.POST.get("after") or 0),
            retry_after=int(retry_after) if retry_after else None,
        )
    except ValueError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Fault injected."))
    return redirect("sandbox:index")


@staff_member_required
@require_POST
def fault_clear(request: HttpRequest) -> HttpResponse:
    faults.clear()
    messages.success(request, _("Faults and call counters cleared."))
    return redirect("sandbox:index")


@staff_member_required
@require_POST
def grant_expire(request: HttpRequest, pk: int) -> HttpResponse:
    """Expire one access token now, to watch the hub refresh it."""
    grant = SandboxGrant.objects.filter(pk=pk).first()
    if grant is not None:
        grants.expire_access(grant)
        messages.success(request, _("Access token expired."))
    return redirect("sandbox:index")
