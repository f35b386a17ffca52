"""TikTok Content (Login Kit v2): untickable scopes, PKCE hex quirk, rotating refresh."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import urlencode

import pytest
import requests
from django.conf import settings

from apps.sandbox import grants
from apps.sandbox.models import SandboxGrant

from .flows import (
    HUB_CALLBACK,
    callback_params,
    consent,
    content_code,
    content_params,
    sandbox_path,
)

TOKEN_URL = f"{settings.TIKTOK_CONTENT_API_BASE}/v2/oauth/token/"
USER_URL = f"{settings.TIKTOK_CONTENT_API_BASE}/v2/user/info/"
VERIFIER = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ0123456789"
HEX_CHALLENGE = "af6d886abed9bae744bb76d41a8d3ea10b83a91ebd61db1098fb644d3c8bc208"


def post_token(**fields: str) -> requests.Response:
    form = {
        "client_key": settings.TIKTOK_CONTENT_CLIENT_KEY,
        "client_secret": settings.TIKTOK_CONTENT_CLIENT_SECRET,
        **fields,
    }
    return requests.post(TOKEN_URL, data=form, timeout=5)


def exchange(code: str, **extra: str) -> requests.Response:
    return post_token(
        grant_type="authorization_code", code=code, redirect_uri=HUB_CALLBACK, **extra
    )


def user_info(token: str, fields: str = "open_id,display_name") -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return requests.get(USER_URL, params={"fields": fields}, headers=headers, timeout=5)


def test_user_may_untick_scopes_but_not_the_basic_one(client, sandbox):
    got = content_code(
        client, "user.info.basic,user.info.profile,video.list", ticked=["video.list"]
    )
    assert got["scopes"] == "user.info.basic,video.list"
    assert got["state"] == "st-content"

    answer = exchange(got["code"])
    assert answer.status_code == 200, answer.content
    tokens = answer.json()
    assert set(tokens) == {
        "access_token",
        "expires_in",
        "refresh_token",
        "refresh_expires_in",
        "open_id",
        "scope",
        "token_type",
    }
    assert tokens["scope"] == "user.info.basic,video.list"
    assert tokens["token_type"] == "Bearer"
    assert 590 <= tokens["expires_in"] <= 600
    assert tokens["access_token"].startswith("act.")
    assert tokens["refresh_token"].startswith("rft.")

    me = user_info(tokens["access_token"]).json()
    assert me["error"]["code"] == "ok"
    assert me["error"]["log_id"]
    assert me["data"]["user"]["open_id"] == tokens["open_id"]
    assert set(me["data"]["user"]) == {"open_id", "display_name"}

    missed = user_info(tokens["access_token"], fields="username")
    assert missed.status_code == 400
    assert missed.json()["error"]["code"] == "scope_permission_missed"


def test_consent_screen_lists_requested_scopes_as_checkboxes(client, db):
    query = urlencode(content_params("user.info.basic,video.list"))
    url = f"{sandbox_path(settings.TIKTOK_CONTENT_AUTHORIZE_URL)}?{query}"
    page = client.get(url)
    assert b'type="checkbox" name="scopes" value="video.list"' in page.content


def test_deny_sends_access_denied(client, db):
    got = consent(
        client,
        settings.TIKTOK_CONTENT_AUTHORIZE_URL,
        content_params("user.info.basic"),
        {"decision": "deny"},
    )
    assert got["error"] == "access_denied"
    assert got["error_description"]
    assert got["state"] == "st-content"
    assert "code" not in got


def test_unknown_scope_is_sent_back_as_invalid_scope(client, db):
    url = f"{sandbox_path(settings.TIKTOK_CONTENT_AUTHORIZE_URL)}?{urlencode(content_params('video.insights'))}"
    assert callback_params(client.get(url))["error"] == "invalid_scope"


def test_code_reuse_is_invalid_grant(client, sandbox):
    code = content_code(client, "user.info.basic", ticked=[])["code"]
    assert exchange(code).status_code == 200
    again = exchange(code)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert again.json()["log_id"]


def test_redirect_uri_must_match(client, sandbox):
    code = content_code(client, "user.info.basic", ticked=[])["code"]
    answer = post_token(grant_type="authorization_code", code=code, redirect_uri=HUB_CALLBACK + "x")
    assert answer.json()["error"] == "invalid_grant"
    # A mismatch does not burn the code.
    assert exchange(code).status_code == 200


def test_bad_client_secret_is_invalid_client(sandbox):
    answer = requests.post(
        TOKEN_URL,
        data={
            "client_key": settings.TIKTOK_CONTENT_CLIENT_KEY,
            "client_secret": "x",
            "grant_type": "refresh_token",
        },
        timeout=5,
    )
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"


def test_pkce_uses_the_hex_challenge(client, sandbox):
    got = content_code(
        client,
        "user.info.basic",
        ticked=[],
        code_challenge=HEX_CHALLENGE,
        code_challenge_method="S256",
    )
    assert exchange(got["code"], code_verifier="wrong-verifier").json()["error"] == "invalid_grant"
    assert exchange(got["code"]).json()["error"] == "invalid_grant"
    assert exchange(got["code"], code_verifier=VERIFIER).status_code == 200


def test_pkce_rfc_base64url_challenge_does_not_match(client, sandbox):
    rfc = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()
    got = content_code(
        client, "user.info.basic", ticked=[], code_challenge=rfc, code_challenge_method="S256"
    )
    assert exchange(got["code"], code_verifier=VERIFIER).json()["error"] == "invalid_grant"


@pytest.fixture
def tokens(client, sandbox) -> dict:
    got = content_code(client, "user.info.basic,user.info.stats", ticked=["user.info.stats"])
    return exchange(got["code"]).json()


def test_refresh_rotates_and_the_old_refresh_token_dies_at_once(tokens):
    first = post_token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert first.status_code == 200
    rotated = first.json()
    assert rotated["refresh_token"] != tokens["refresh_token"]
    assert rotated["access_token"] != tokens["access_token"]
    assert rotated["scope"] == tokens["scope"]

    old = post_token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert old.status_code == 400
    assert old.json()["error"] == "invalid_grant"

    assert user_info(rotated["access_token"], fields="follower_count").status_code == 200
    assert (
        post_token(grant_type="refresh_token", refresh_token=rotated["refresh_token"]).status_code
        == 200
    )


def test_expired_or_missing_token_is_access_token_invalid(tokens):
    grants.expire_access(SandboxGrant.objects.get(access_token=tokens["access_token"]))
    expired = user_info(tokens["access_token"])
    assert expired.status_code == 401
    assert expired.json()["error"]["code"] == "access_token_invalid"
    missing = requests.get(USER_URL, params={"fields": "open_id"}, timeout=5)
    assert missing.status_code == 401


def test_revoke_ends_the_authorization(tokens):
    form = {
        "client_key": settings.TIKTOK_CONTENT_CLIENT_KEY,
        "client_secret": settings.TIKTOK_CONTENT_CLIENT_SECRET,
        "token": tokens["access_token"],
    }
    revoke_url = f"{settings.TIKTOK_CONTENT_API_BASE}/v2/oauth/revoke/"
    assert requests.post(revoke_url, data=form, timeout=5).status_code == 200
    assert user_info(tokens["access_token"]).status_code == 401
    refused = post_token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refused.json()["error"] == "invalid_grant"
