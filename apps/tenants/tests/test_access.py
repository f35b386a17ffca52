import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from apps.tenants.models import Membership

pytestmark = pytest.mark.django_db


def test_anonymous_user_is_sent_to_login(client):
    response = client.get(reverse("integrations:hub"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("tenants:login"))
    assert "next=/integrations/" in response["Location"]


def test_login_with_email_and_password_lands_on_the_hub(client, owner_a):
    response = client.post(
        reverse("tenants:login"),
        {"username": "owner@acme.example", "password": "correct horse battery staple"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("integrations:hub")


def test_wrong_password_is_refused_with_a_message(client, owner_a):
    response = client.post(
        reverse("tenants:login"), {"username": "owner@acme.example", "password": "nope"}
    )
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()


def test_user_without_tenant_sees_why(client):
    user = get_user_model().objects.create_user("lonely@example.com", password="x")
    client.force_login(user)
    response = client.get(reverse("integrations:hub"))
    assert response.status_code == 403
    assert "not a member of any tenant" in response.content.decode()


def test_plain_member_gets_403_on_admin_only_action(member_client, tenant_a, owner_a):
    owner_membership = Membership.objects.get(user=owner_a, tenant=tenant_a)
    response = member_client.post(
        reverse("tenants:change_role", args=[owner_membership.pk]), {"role": "member"}
    )
    assert response.status_code == 403
    owner_membership.refresh_from_db()
    assert owner_membership.role == Membership.Role.OWNER


def test_member_of_a_gets_404_for_tenant_b_membership(owner_client, tenant_b, make_member):
    stranger = make_member(tenant_b, Membership.Role.MEMBER)
    membership_b = Membership.objects.get(user=stranger)
    for name in ("tenants:change_role", "tenants:remove_member"):
        response = owner_client.post(reverse(name, args=[membership_b.pk]), {"role": "admin"})
        assert response.status_code == 404, name
    membership_b.refresh_from_db()
    assert membership_b.role == Membership.Role.MEMBER


def test_switching_to_a_tenant_you_do_not_belong_to_is_404(owner_client, tenant_b):
    response = owner_client.post(reverse("tenants:switch"), {"tenant_id": tenant_b.pk})
    assert response.status_code == 404


def test_user_in_two_tenants_can_switch(client, tenant_a, tenant_b, make_member):
    user = make_member(tenant_a, Membership.Role.MEMBER, "both@example.com")
    Membership.objects.create(user=user, tenant=tenant_b, role=Membership.Role.ADMIN)
    client.force_login(user)
    assert client.get(reverse("integrations:hub")).context["current_tenant"] == tenant_a

    response = client.post(
        reverse("tenants:switch"), {"tenant_id": tenant_b.pk, "next": "/integrations/?tab=meta"}
    )
    assert response["Location"] == "/integrations/?tab=meta"
    assert client.get(reverse("integrations:hub")).context["current_tenant"] == tenant_b


def test_switch_never_redirects_off_site(client, tenant_a, make_member):
    user = make_member(tenant_a)
    client.force_login(user)
    response = client.post(
        reverse("tenants:switch"), {"tenant_id": tenant_a.pk, "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("integrations:hub")


def test_state_changing_views_refuse_get(owner_client, tenant_a, owner_a):
    membership = Membership.objects.get(user=owner_a)
    assert owner_client.get(reverse("tenants:switch")).status_code == 405
    assert owner_client.get(reverse("tenants:change_role", args=[membership.pk])).status_code == 405


def test_forms_refuse_posts_without_csrf_token(owner_a, tenant_a):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(owner_a)
    response = client.post(reverse("tenants:switch"), {"tenant_id": tenant_a.pk})
    assert response.status_code == 403
