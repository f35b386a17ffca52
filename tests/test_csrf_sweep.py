"""Every state-changing request without a CSRF token is refused (403).

Walks the whole URL configuration (Django's admin aside: its views are
``csrf_protect``-ed by Django itself, and its login is checked below) and
sends POST, PUT, PATCH and DELETE to each URL, signed in as a tenant owner,
with ``Client(enforce_csrf_checks=True)`` and no token. Each must be refused by
Django's CSRF check, except the endpoints in :data:`CSRF_EXEMPT`, which are
called by providers, not browsers, and authenticate each request otherwise.
A new ``csrf_exempt`` view fails this test until it is listed there with its
reason; a listed one that starts checking CSRF fails it too.

The same requests with a valid token are not refused by the CSRF check, so a
403 here is the missing token and not something else.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.converters import IntConverter, UUIDConverter

pytestmark = pytest.mark.django_db

METHODS = ["post", "put", "patch", "delete"]

#: url name -> why it takes requests without a CSRF token
CSRF_EXEMPT: dict[str, str] = {
    "webhooks:receive": "provider webhooks: verified by the signature over the raw body",
    "webhooks:receive_routed": "per-tenant webhook URL: unguessable route key (+ signature)",
    "meta_ads:deauthorize": "Meta's deauthorize callback: a signed_request (HMAC, app secret)",
    "meta_ads:data_deletion": "Meta's data deletion callback: a signed_request (HMAC, app secret)",
}
#: The sandbox (never mounted in production) emulates the providers' server-to-server APIs,
#: which the hub's clients call without a browser: every ``sandbox:`` URL is left out of the
#: sweep except these, the pages a person uses in a browser, which must check CSRF.
SANDBOX_BROWSER_PAGES = {
    "sandbox:index",
    "sandbox:fault_inject",
    "sandbox:fault_clear",
    "sandbox:grant_expire",
    "sandbox:tiktok_ads_authorize",
    "sandbox:tiktok_shop_authorize",
    "sandbox:tiktok_content_authorize",
    "sandbox:meta_dialog",
}

#: sample values for the named groups of regex patterns (the sandbox's Graph API paths)
REGEX_SAMPLES = {
    "version": "v25.0",
    "permission": "ads_read",
    "user_id": "1",
    "object_id": "1",
    "account_id": "1",
    "waba_id": "1",
    "node_id": "1",
}


def _walk(patterns, namespace=None):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace == "admin":
                continue
            yield from _walk(entry.url_patterns, entry.namespace or namespace)
        elif isinstance(entry, URLPattern) and entry.name:
            yield (f"{namespace}:{entry.name}" if namespace else entry.name), entry


def _path(name: str, pattern: URLPattern) -> str:
    kwargs = {}
    converters = pattern.pattern.converters
    for group in pattern.pattern.regex.groupindex:
        converter = converters.get(group)
        if isinstance(converter, IntConverter):
            kwargs[group] = 1
        elif isinstance(converter, UUIDConverter):
            kwargs[group] = "00000000-0000-0000-0000-000000000001"
        elif converter is not None:
            kwargs[group] = "x"
        else:
            assert group in REGEX_SAMPLES, f"{name}: add a sample for {group!r} to REGEX_SAMPLES"
            kwargs[group] = REGEX_SAMPLES[group]
    return reverse(name, kwargs=kwargs)


def _swept(name: str) -> bool:
    return not name.startswith("sandbox:") or name in SANDBOX_BROWSER_PAGES


def all_urls() -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for name, pattern in _walk(get_resolver().url_patterns):
        if _swept(name):
            seen.setdefault(name, _path(name, pattern))
    return sorted(seen.items())


def _exempt(name: str) -> bool:
    return name in CSRF_EXEMPT


def _refused_by_csrf(response) -> bool:
    return response.status_code == 403 and b"CSRF" in response.content


@pytest.fixture
def csrf_client(owner_a):
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.force_login(owner_a)
    return client


def test_sweep_sees_the_forms():
    names = {name for name, _ in all_urls()}
    assert {"tenants:login", "integrations:connect", "webhooks:receive"} <= names
    if any(n.startswith("sandbox:") for n, _ in _walk(get_resolver().url_patterns)):
        assert names >= SANDBOX_BROWSER_PAGES, SANDBOX_BROWSER_PAGES - names


@pytest.mark.parametrize(("url_name", "path"), all_urls())
def test_state_changing_requests_need_a_csrf_token(url_name, path, csrf_client):
    answers = {method: getattr(csrf_client, method)(path) for method in METHODS}
    refused = {method: _refused_by_csrf(r) for method, r in answers.items()}
    if _exempt(url_name):
        assert not any(refused.values()), (
            f"{url_name} is listed as CSRF-exempt but checks CSRF: remove it from CSRF_EXEMPT"
        )
    else:
        statuses = {m: r.status_code for m, r in answers.items()}
        assert all(refused.values()), (
            f"{url_name} ({path}) accepted a state-changing request without a CSRF token "
            f"{statuses}: protect it, or list it in CSRF_EXEMPT with the reason"
        )


@pytest.mark.parametrize(("url_name", "path"), [(n, p) for n, p in all_urls() if not _exempt(n)])
def test_the_same_request_with_a_token_passes_the_csrf_check(url_name, path, csrf_client, sandbox):
    csrf_client.get(reverse("integrations:hub"))  # renders a form: sets the CSRF cookie
    token = csrf_client.cookies["csrftoken"].value
    response = csrf_client.post(path, headers={"X-CSRFToken": token})
    assert not _refused_by_csrf(response), url_name


def test_admin_login_needs_a_csrf_token():
    client = Client(enforce_csrf_checks=True)
    response = client.post("/admin/login/", {"username": "x", "password": "y"})
    assert _refused_by_csrf(response)
