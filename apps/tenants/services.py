"""Changes to tenants and their teams."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.translation import gettext as _

from .models import Membership, Tenant


class TeamRuleViolation(Exception):
    """A team change that would leave the tenant without an owner, or exceed a role."""


@dataclass(frozen=True)
class TenantSetup:
    tenant: Tenant
    tenant_created: bool
    user_created: bool
    password: str | None


@transaction.atomic
def tenant_setup(
    *,
    slug: str,
    name: str,
    admin_email: str,
    password: str | None = None,
    superuser: bool = False,
) -> TenantSetup:
    """Create or update a tenant and make ``admin_email`` its owner; safe to repeat.

    A password is set when given. Without one, a new user gets a generated
    password (returned so the caller can print it); an existing user keeps theirs.
    """
    tenant, tenant_created = Tenant.objects.update_or_create(slug=slug, defaults={"name": name})
    User = get_user_model()
    user, user_created = User.objects.get_or_create(
        username=admin_email, defaults={"email": admin_email}
    )
    if password is None and user_created:
        password = secrets.token_urlsafe(12)
    if password is not None:
        user.set_password(password)
    if superuser:
        user.is_staff = True
        user.is_superuser = True
    user.email = admin_email
    user.save()
    Membership.objects.update_or_create(
        user=user, tenant=tenant, defaults={"role": Membership.Role.OWNER}
    )
    return TenantSetup(tenant, tenant_created, user_created, password)


def _owners_left_after(membership: Membership) -> int:
    return (
        Membership.objects.for_tenant(membership.tenant)
        .filter(role=Membership.Role.OWNER)
        .exclude(pk=membership.pk)
        .count()
    )


@transaction.atomic
def membership_change_role(*, actor: Membership, membership: Membership, role: str) -> Membership:
    """Change a teammate's role. Only owners grant or take away ownership."""
    if role not in Membership.Role.values:
        raise TeamRuleViolation(_("Unknown role."))
    touches_owner = Membership.Role.OWNER in (role, membership.role)
    if touches_owner and actor.role != Membership.Role.OWNER:
        raise TeamRuleViolation(_("Only an owner can grant or remove ownership."))
    demotes_owner = membership.role == Membership.Role.OWNER and role != Membership.Role.OWNER
    if demotes_owner and _owners_left_after(membership) == 0:
        raise TeamRuleViolation(_("A tenant needs at least one owner."))
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_remove(*, actor: Membership, membership: Membership) -> None:
    if membership.role == Membership.Role.OWNER:
        if actor.role != Membership.Role.OWNER:
            raise TeamRuleViolation(_("Only an owner can remove an owner."))
        if _owners_left_after(membership) == 0:
            raise TeamRuleViolation(_("A tenant needs at least one owner."))
    membership.delete()
