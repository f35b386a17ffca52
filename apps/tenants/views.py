from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from .access import tenant_admin_required, tenant_member_required
from .forms import EmailAuthenticationForm, RoleForm, SwitchTenantForm
from .middleware import SESSION_KEY
from .models import Membership
from .selectors import memberships_of_tenant
from .services import TeamRuleViolation, membership_change_role, membership_remove


class LoginView(auth_views.LoginView):
    template_name = "tenants/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.throttled:
            response.status_code = 429
        return response


@require_POST
@tenant_member_required
def switch_tenant(request: HttpRequest) -> HttpResponse:
    form = SwitchTenantForm(request.POST)
    if not form.is_valid():
        raise Http404
    tenant_id = form.cleaned_data["tenant_id"]
    if not any(m.tenant_id == tenant_id for m in request.memberships):
        raise Http404
    request.session[SESSION_KEY] = tenant_id
    target = form.cleaned_data["next"]
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = "integrations:hub"
    return redirect(target)


@tenant_member_required
def team(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "tenants/team.html",
        {
            "memberships": memberships_of_tenant(tenant=request.tenant),
            "role_choices": Membership.Role.choices,
        },
    )


def _teammate(request: HttpRequest, membership_id: int) -> Membership:
    return get_object_or_404(
        Membership.objects.for_tenant(request.tenant).select_related("tenant"), pk=membership_id
    )


@require_POST
@tenant_admin_required
def change_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = _teammate(request, membership_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a valid role."))
        return redirect("tenants:team")
    try:
        membership_change_role(
            actor=request.membership, membership=membership, role=form.cleaned_data["role"]
        )
    except TeamRuleViolation as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Role updated."))
    return redirect("tenants:team")


@require_POST
@tenant_admin_required
def remove_member(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = _teammate(request, membership_id)
    try:
        membership_remove(actor=request.membership, membership=membership)
    except TeamRuleViolation as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Member removed."))
    return redirect("tenants:team")
