from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command

from apps.tenants.models import Membership, Tenant

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command("create_tenant", *args, stdout=out)
    return out.getvalue()


def test_creates_tenant_and_owner_with_given_password():
    output = run(
        "shop", "--name", "Shop", "--admin-email", "a@shop.example", "--password", "s3cret-pass"
    )
    assert "Created tenant 'shop'" in output
    tenant = Tenant.objects.get(slug="shop")
    membership = Membership.objects.get(tenant=tenant)
    assert membership.role == Membership.Role.OWNER
    assert authenticate(username="a@shop.example", password="s3cret-pass") == membership.user


def test_generates_and_prints_a_password_for_a_new_user():
    output = run("shop", "--name", "Shop", "--admin-email", "a@shop.example")
    password = output.split("Generated password: ")[1].strip()
    assert len(password) >= 12
    assert authenticate(username="a@shop.example", password=password) is not None


def test_is_idempotent_and_keeps_an_existing_password():
    run("shop", "--name", "Shop", "--admin-email", "a@shop.example", "--password", "first-pass")
    output = run("shop", "--name", "Shop Renamed", "--admin-email", "a@shop.example")
    assert "Updated tenant 'shop'" in output
    assert "Password: unchanged" in output
    assert Tenant.objects.count() == 1
    assert Tenant.objects.get().name == "Shop Renamed"
    assert Membership.objects.count() == 1
    assert authenticate(username="a@shop.example", password="first-pass") is not None


def test_superuser_flag_gives_admin_access():
    run(
        "shop",
        "--name",
        "Shop",
        "--admin-email",
        "a@shop.example",
        "--password",
        "x",
        "--superuser",
    )
    user = Membership.objects.get().user
    assert user.is_staff and user.is_superuser


@pytest.mark.parametrize(
    "args,message",
    [
        (["bad slug!", "--name", "X", "--admin-email", "a@b.example"], "slug"),
        (["ok", "--name", "X", "--admin-email", "not-an-email"], "email"),
    ],
)
def test_bad_input_is_a_clear_error(args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert not Tenant.objects.exists()
