"""Meta: Login dialog with declinable permissions, code exchange, appsecret_proof, Graph errors."""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlencode

import pytest
import requests
from django.conf import settings

from apps.sandbox import generator, grants
from apps.sandbox.models import SandboxGrant

from .flows import (
    META_CALLBACK,
    callback_params,
    first,
    meta_code,
    meta_dialog_url,
    meta_params,
    sandbox_path,
)

GRAPH = f"{settings.META_GRAPH_BASE}/{settings.META_GRAPH_VERSION}"


def proof(token: str, at: int | None = None) -> str:
    message = token if at is None else f"{token}|{at}"
    return hmac.new(settings.META_APP_SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()


def exchange(code: str, redirect_uri: str = META_CALLBACK) -> requests.Response:
    params = {
        "client_id": settings.META_APP_ID,
        "client_secret": settings.META_APP_SECRET,
        "redirect_uri": redirect_uri,
        "code": code,
    }
    return requests.get(f"{GRAPH}/oauth/access_token", params=params, timeout=5)


def graph(
    method: str, path: str, token: str, *, with_proof: bool = True, **params
) -> requests.Response:
    params = {"access_token": token, **params}
    if with_proof and "appsecret_proof" not in params:
        params["appsecret_proof"] = proof(token)
    return requests.request(method, f"{GRAPH}/{path}", params=params, timeout=5)


def login(client, ticked: list[str], **extra: str) -> str:
    got = meta_code(client, ticked, **extra)
    answer = exchange(got["code"])
    assert answer.status_code == 200, answer.content
    return answer.json()["access_token"]


def test_dialog_asks_for_a_profile_then_for_permissions(client, db):
    url = f"{sandbox_path(settings.META_DIALOG_URL)}?{urlencode(meta_params())}"
    page = client.get(url)
    assert page.status_code == 200
    assert b'name="sandbox_user"' in page.content
    permissions = client.get(meta_dialog_url(meta_params(), first("meta").account_id))
    assert b'value="ads_read"' in permissions.content
    assert b'value="business_management"' in permissions.content


def test_login_code_token_and_me(client, sandbox):
    got = meta_code(client, ["ads_read", "business_management"])
    assert got["state"] == "st-meta"
    answer = exchange(got["code"]).json()
    assert answer["token_type"] == "bearer"
    assert 590 <= answer["expires_in"] <= 600
    me = graph("GET", "me", answer["access_token"], fields="id,name")
    assert me.status_code == 200
    assert me.json() == {"id": first("meta").account_id, "name": first("meta").name}


def test_declined_permission_is_reported_and_skipped_until_rerequest(client, sandbox):
    token = login(client, ["ads_read"])
    rows = graph("GET", "me/permissions", token).json()["data"]
    assert {"permission": "ads_read", "status": "granted"} in rows
    assert {"permission": "business_management", "status": "declined"} in rows
    assert {"permission": "public_profile", "status": "granted"} in rows

    account = first("meta").account_id
    again = client.get(meta_dialog_url(meta_params(), account))
    assert b'value="business_management"' not in again.content

    rerequest = client.get(meta_dialog_url(meta_params(auth_type="rerequest"), account))
    assert b'value="business_management"' in rerequest.content
    token = login(client, ["business_management"], auth_type="rerequest")
    rows = graph("GET", "me/permissions", token).json()["data"]
    assert {"permission": "business_management", "status": "granted"} in rows


def test_cancel_sends_meta_error_params(client, db):
    url = meta_dialog_url(meta_params(), first("meta").account_id)
    response = client.post(url, {"decision": "deny"})
    assert "error_description=Permissions+error." in response["Location"]
    got = callback_params(response)
    assert got["error"] == "access_denied"
    assert got["error_reason"] == "user_denied"
    assert got["state"] == "st-meta"


def test_config_id_without_scope_uses_the_configuration(client, db):
    params = {k: v for k, v in meta_params(config_id="123").items() if k != "scope"}
    page = client.get(meta_dialog_url(params, first("meta").account_id))
    assert b'value="ads_read"' in page.content


def test_code_reuse_and_redirect_mismatch_are_graph_errors(client, sandbox):
    code = meta_code(client, ["ads_read"])["code"]
    mismatch = exchange(code, redirect_uri=META_CALLBACK + "?x=1").json()["error"]
    assert (mismatch["code"], mismatch["error_subcode"]) == (100, 36008)
    assert exchange(code).status_code == 200
    used = exchange(code)
    assert used.status_code == 400
    error = used.json()["error"]
    assert (error["type"], error["code"], error["error_subcode"]) == ("OAuthException", 100, 36009)
    assert error["fbtrace_id"]


@pytest.fixture
def token(client, sandbox) -> str:
    return login(client, ["ads_read", "business_management"])


def test_appsecret_proof_is_required(token):
    missing = graph("GET", "me", token, with_proof=False)
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == 100
    wrong = graph("GET", "me", token, appsecret_proof="0" * 64)
    assert wrong.json()["error"]["code"] == 100
    assert "appsecret_proof" in wrong.json()["error"]["message"]


def test_timestamped_appsecret_proof_is_accepted_while_fresh(token):
    now = int(time.time())
    fresh = graph("GET", "me", token, appsecret_proof=proof(token, now), appsecret_time=str(now))
    assert fresh.status_code == 200
    stale_at = now - 301
    stale = graph(
        "GET", "me", token, appsecret_proof=proof(token, stale_at), appsecret_time=str(stale_at)
    )
    assert stale.json()["error"]["code"] == 100


def test_expired_token_is_190_463(token):
    grants.expire_access(SandboxGrant.objects.get(access_token=token))
    error = graph("GET", "me", token).json()["error"]
    assert (error["code"], error["error_subcode"]) == (190, 463)


def test_long_lived_exchange_uses_the_sandbox_lifetime(token, settings):
    settings.SANDBOX_META_LONG_LIVED_TTL_SECONDS = 7200
    params = {
        "grant_type": "fb_exchange_token",
        "client_id": settings.META_APP_ID,
        "client_secret": settings.META_APP_SECRET,
        "fb_exchange_token": token,
    }
    answer = requests.get(f"{GRAPH}/oauth/access_token", params=params, timeout=5).json()
    assert answer["access_token"] != token
    assert 7190 <= answer["expires_in"] <= 7200
    assert graph("GET", "me", answer["access_token"]).status_code == 200


def test_debug_token_with_the_app_token(token):
    app_token = f"{settings.META_APP_ID}|{settings.META_APP_SECRET}"
    params = {"input_token": token, "access_token": app_token}
    data = requests.get(f"{GRAPH}/debug_token", params=params, timeout=5).json()["data"]
    assert data["is_valid"] is True
    assert data["app_id"] == settings.META_APP_ID
    assert data["user_id"] == first("meta").account_id
    assert set(data["scopes"]) == {"public_profile", "ads_read", "business_management"}
    assert data["expires_at"] > time.time()

    params["input_token"] = "EAAnope"
    assert (
        requests.get(f"{GRAPH}/debug_token", params=params, timeout=5).json()["data"]["is_valid"]
        is False
    )


def test_delete_permissions_revokes_the_app(token):
    deleted = graph("DELETE", "me/permissions", token)
    assert deleted.status_code == 200
    assert deleted.json() is True
    error = graph("GET", "me", token).json()["error"]
    assert error["code"] == 190


def test_delete_by_user_id_and_one_permission(client, sandbox):
    token = login(client, ["ads_read", "business_management"])
    assert graph("DELETE", "me/permissions/business_management", token).json() is True
    rows = graph("GET", "me/permissions", token).json()["data"]
    assert {"permission": "business_management", "status": "declined"} in rows
    user_id = generator.identities("meta")[0].account_id
    assert graph("DELETE", f"{user_id}/permissions", token).json() is True


def test_unknown_client_or_secret(sandbox):
    params = {"client_id": "1", "client_secret": "x", "redirect_uri": META_CALLBACK, "code": "c"}
    assert (
        requests.get(f"{GRAPH}/oauth/access_token", params=params, timeout=5).json()["error"][
            "code"
        ]
        == 101
    )
    params["client_id"] = settings.META_APP_ID
    assert (
        requests.get(f"{GRAPH}/oauth/access_token", params=params, timeout=5).json()["error"][
            "code"
        ]
        == 1
    )
