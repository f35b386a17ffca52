"""Fixtures shared by every test: tenants, members and logged-in clients."""

from __future__ import annotations

import itertools
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.utils import translation

from apps.tenants.models import Membership, Tenant

_counter = itertools.count(1)


def pytest_configure(config):
    from django.conf import settings

    # Hashing real passwords dominates a suite that logs in often.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def default_language():
    """Each test starts in the default language.

    LocaleMiddleware activates the request's language in the thread that
    serves it and leaves it active: after a test client request with
    ``Accept-Language: pt-BR`` the next test would format in Portuguese.
    """
    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def isolated_cache(settings):
    """Each test gets its own cache namespace.

    Rate budgets and sandbox faults live in the cache; on Redis (CI's third pass)
    nothing rolls them back between tests, and flushing a shared Redis is not ours
    to do. A fresh key prefix per test isolates them without touching other keys.
    """
    settings.CACHES = {
        alias: {**config, "KEY_PREFIX": f"test-{uuid.uuid4().hex[:12]}"}
        for alias, config in settings.CACHES.items()
    }


@pytest.fixture
def make_tenant(db):
    def make(slug: str | None = None, name: str | None = None) -> Tenant:
        n = next(_counter)
        slug = slug or f"tenant-{n}"
        return Tenant.objects.create(slug=slug, name=name or slug.replace("-", " ").title())

    return make


@pytest.fixture
def make_member(db):
    def make(tenant: Tenant, role: str = Membership.Role.MEMBER, email: str | None = None):
        email = email or f"user{next(_counter)}@example.com"
        User = get_user_model()
        user, _ = User.objects.get_or_create(username=email, defaults={"email": email})
        user.set_password("correct horse battery staple")
        user.save()
        Membership.objects.create(user=user, tenant=tenant, role=role)
        return user

    return make


@pytest.fixture
def tenant_a(make_tenant) -> Tenant:
    return make_tenant("acme", "Acme")


@pytest.fixture
def tenant_b(make_tenant) -> Tenant:
    return make_tenant("globex", "Globex")


@pytest.fixture
def owner_a(make_member, tenant_a):
    return make_member(tenant_a, Membership.Role.OWNER, "owner@acme.example")


@pytest.fixture
def member_a(make_member, tenant_a):
    return make_member(tenant_a, Membership.Role.MEMBER, "member@acme.example")


@pytest.fixture
def owner_client(client, owner_a):
    client.force_login(owner_a)
    return client


@pytest.fixture
def member_client(client, member_a):
    client.force_login(member_a)
    return client


@pytest.fixture
def sandbox(db):
    """Provider calls routed in process to the sandbox emulator, with a clean fault table."""
    from apps.sandbox.testing import sandbox_fixture

    yield from sandbox_fixture()
