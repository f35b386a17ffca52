from django.http import HttpRequest


def tenancy(request: HttpRequest) -> dict:
    """The current tenant and membership for every template (no extra query)."""
    return {
        "current_tenant": getattr(request, "tenant", None),
        "current_membership": getattr(request, "membership", None),
        "user_memberships": getattr(request, "memberships", []),
    }
