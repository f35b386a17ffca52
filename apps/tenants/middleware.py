"""Sets ``request.tenant`` and ``request.membership`` for logged-in users."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from .selectors import memberships_of_user

SESSION_KEY = "tenant_id"


class CurrentTenantMiddleware:
    """Resolve the current tenant from the user's memberships.

    A user in several tenants picks one (stored in the session); otherwise the
    first membership by tenant name is used. Anonymous requests (webhooks,
    health checks) cost no query.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.memberships = []
        request.membership = None
        request.tenant = None
        if request.user.is_authenticated:
            memberships = memberships_of_user(user=request.user)
            request.memberships = memberships
            chosen = request.session.get(SESSION_KEY)
            membership = next((m for m in memberships if m.tenant_id == chosen), None)
            if membership is None and memberships:
                membership = memberships[0]
            if membership is not None:
                request.membership = membership
                request.tenant = membership.tenant
        return self.get_response(request)
