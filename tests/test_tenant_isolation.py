"""Every URL that names a tenant-owned object answers 404 to another tenant.

The sweep walks the URL configuration: a new URL with an object id must be
added to OBJECT_FACTORIES (what to create in tenant B) or this test fails.
"""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from apps.tenants.models import Membership

pytestmark = pytest.mark.django_db

# url name -> (kwarg name -> callable(tenant_b, make_member) returning the object id)
OBJECT_FACTORIES = {
    "tenants:change_role": {
        "membership_id": lambda tenant, make_member: (
            Membership.objects.get(user=make_member(tenant)).pk
        )
    },
    "tenants:remove_member": {
        "membership_id": lambda tenant, make_member: (
            Membership.objects.get(user=make_member(tenant)).pk
        )
    },
}


def _walk(patterns, namespace=None):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace == "admin":
                continue  # staff only, guarded by Django's admin
            ns = entry.namespace or namespace
            yield from _walk(entry.url_patterns, ns)
        elif isinstance(entry, URLPattern) and entry.name:
            yield (f"{namespace}:{entry.name}" if namespace else entry.name), entry


def object_urls() -> list[str]:
    return sorted(
        name for name, pattern in _walk(get_resolver().url_patterns) if pattern.pattern.converters
    )


def test_every_object_url_is_covered_by_the_sweep():
    assert object_urls() == sorted(OBJECT_FACTORIES)


@pytest.mark.parametrize("url_name", sorted(OBJECT_FACTORIES))
@pytest.mark.parametrize("method", ["get", "post"])
def test_tenant_b_object_is_404_for_admin_of_tenant_a(
    url_name, method, owner_client, tenant_b, make_member
):
    kwargs = {
        name: factory(tenant_b, make_member) for name, factory in OBJECT_FACTORIES[url_name].items()
    }
    response = getattr(owner_client, method)(reverse(url_name, kwargs=kwargs))
    # Views that only take POST say 405 to GET before looking anything up: no leak either.
    assert response.status_code in ({404} if method == "post" else {404, 405})
