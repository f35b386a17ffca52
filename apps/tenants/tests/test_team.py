import pytest
from django.urls import reverse

from apps.tenants.models import Membership
from apps.tenants.services import TeamRuleViolation, membership_change_role, membership_remove

pytestmark = pytest.mark.django_db


def _membership(user):
    return Membership.objects.get(user=user)


def test_team_page_lists_only_this_tenants_members(member_client, owner_a, tenant_b, make_member):
    make_member(tenant_b, email="someone@globex.example")
    page = member_client.get(reverse("tenants:team")).content.decode()
    assert "owner@acme.example" in page
    assert "member@acme.example" in page
    assert "someone@globex.example" not in page
    # Members look; they get no role forms.
    assert 'name="role"' not in page


def test_admin_promotes_a_member(owner_client, member_a):
    membership = _membership(member_a)
    response = owner_client.post(
        reverse("tenants:change_role", args=[membership.pk]), {"role": "admin"}, follow=True
    )
    assert "Role updated." in response.content.decode()
    membership.refresh_from_db()
    assert membership.role == Membership.Role.ADMIN


def test_the_last_owner_cannot_be_demoted_or_removed(owner_a):
    owner = _membership(owner_a)
    with pytest.raises(TeamRuleViolation, match="at least one owner"):
        membership_change_role(actor=owner, membership=owner, role=Membership.Role.ADMIN)
    with pytest.raises(TeamRuleViolation, match="at least one owner"):
        membership_remove(actor=owner, membership=owner)


def test_an_admin_cannot_touch_ownership(make_member, tenant_a, owner_a):
    admin = _membership(make_member(tenant_a, Membership.Role.ADMIN))
    member = _membership(make_member(tenant_a))
    with pytest.raises(TeamRuleViolation, match="Only an owner"):
        membership_change_role(actor=admin, membership=member, role=Membership.Role.OWNER)
    with pytest.raises(TeamRuleViolation, match="Only an owner"):
        membership_remove(actor=admin, membership=_membership(owner_a))


def test_rule_violation_is_shown_not_raised(owner_client, owner_a):
    membership = _membership(owner_a)
    response = owner_client.post(
        reverse("tenants:remove_member", args=[membership.pk]), follow=True
    )
    assert response.status_code == 200
    assert "at least one owner" in response.content.decode()
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_admin_removes_a_member(owner_client, member_a):
    membership = _membership(member_a)
    owner_client.post(reverse("tenants:remove_member", args=[membership.pk]))
    assert not Membership.objects.filter(pk=membership.pk).exists()
