import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

URL = reverse("tenants:login")
PW = "correct horse battery staple"


def attempt(client, username, password, address="10.0.0.1"):
    return client.post(URL, {"username": username, "password": password}, REMOTE_ADDR=address)


def test_account_is_blocked_after_too_many_failures_even_with_the_right_password(
    client, owner_a, settings
):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    for _ in range(3):
        assert attempt(client, owner_a.email, "wrong").status_code == 200

    blocked = attempt(client, owner_a.email, PW)

    assert blocked.status_code == 429
    assert b"Too many failed sign-in attempts" in blocked.content
    assert "_auth_user_id" not in client.session


def test_other_accounts_are_not_blocked_by_one_accounts_failures(
    client, owner_a, make_member, tenant_b, settings
):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    other = make_member(tenant_b, email="other@b.example")
    for _ in range(3):
        attempt(client, owner_a.email, "wrong", address="10.0.0.2")

    response = attempt(client, other.email, PW, address="10.0.0.3")

    assert response.status_code == 302


def test_one_address_guessing_many_accounts_is_blocked(client, owner_a, settings):
    settings.LOGIN_FAILURES_PER_ADDRESS = 4
    for n in range(4):
        attempt(client, f"guess{n}@example.com", "wrong", address="10.9.9.9")

    assert attempt(client, owner_a.email, PW, address="10.9.9.9").status_code == 429
    assert attempt(client, owner_a.email, PW, address="10.8.8.8").status_code == 302


def test_failures_below_the_limit_still_let_the_owner_in(client, owner_a, settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    attempt(client, owner_a.email, "wrong")
    attempt(client, owner_a.email, "wrong")

    assert attempt(client, owner_a.email, PW).status_code == 302
