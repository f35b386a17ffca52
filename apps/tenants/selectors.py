"""Reads about tenants and memberships, each with a known query cost."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from .models import Membership, Tenant


def memberships_of_user(*, user: AbstractBaseUser) -> list[Membership]:
    """Every membership of ``user`` with its tenant: one query."""
    return list(
        Membership.objects.filter(user=user).select_related("tenant").order_by("tenant__name")
    )


def memberships_of_tenant(*, tenant: Tenant) -> list[Membership]:
    """The tenant's team with each user: one query."""
    return list(
        Membership.objects.for_tenant(tenant).select_related("user").order_by("user__username")
    )
