"""View decorators for the two levels of tenant access.

Members can look; only tenant admins (owners and admins) can change things.
Anonymous users are sent to the login page. A logged-in user without any
tenant sees a page that says so (403).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

View = Callable[..., HttpResponse]


def tenant_member_required(view: View) -> View:
    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.tenant is None:
            return render(request, "tenants/no_tenant.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


def tenant_admin_required(view: View) -> View:
    @tenant_member_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.membership.is_admin:
            raise PermissionDenied(_("Only tenant admins can do this."))
        return view(request, *args, **kwargs)

    return wrapper
