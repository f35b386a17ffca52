"""django-q2 entry points of analytics: thin, safe to run twice."""

from __future__ import annotations


def refresh_rollups() -> int:
    """Every 5 minutes: fold newly synced insights into every tenant's rollups."""
    from .rollup import rollup_refresh_all

    return rollup_refresh_all()


def refresh_tenant(tenant_id: int) -> str:
    """Queued by the dashboards when a tenant has never been rolled up."""
    from apps.tenants.models import Tenant

    from .rollup import rollup_refresh

    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        return "no such tenant"
    stats = rollup_refresh(tenant=tenant)
    return f"{stats.spend_days} spend days"
