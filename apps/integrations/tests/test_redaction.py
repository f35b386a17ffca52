"""The redaction module: every log, screen and error goes through these functions."""

from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet

from apps.integrations import redaction
from apps.integrations.redaction import (
    REDACTED,
    SENSITIVE_KEYS,
    RedactingFilter,
    is_sensitive_key,
    redact_headers,
    redact_mapping,
    redact_text,
    redact_url,
    register_secret,
    registered_secrets,
    unregister_secret,
)

SHOP_TOKEN = "ROW_Kq1xAbCdEfGhIjKlMnOpQrStUvWx"


@pytest.fixture(autouse=True)
def forget_registered_secrets():
    """Leave the process-wide registry as the test found it."""
    before = registered_secrets()
    yield
    for value in set(registered_secrets()) - set(before):
        unregister_secret(value)
    for value in before:
        register_secret(value)


# --- keys --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "access_token",
        "Access-Token",
        "X-TTS-ACCESS-TOKEN",
        "refresh_token",
        "app_secret",
        "client_secret",
        "appsecret_proof",
        "sign",
        "Authorization",
        "auth_code",
        "email",
        "Phone",
        "page_access_token",  # any *_token
        "webhook_secret",  # any *_secret
    ],
)
def test_sensitive_keys_are_recognised_in_any_case_and_spelling(key):
    assert is_sensitive_key(key)


@pytest.mark.parametrize("key", ["advertiser_id", "shop_cipher", "message", "app_key", "status"])
def test_ordinary_keys_are_not_sensitive(key):
    assert not is_sensitive_key(key)


def test_the_documented_keys_are_all_in_the_set():
    expected = {
        "access_token",
        "refresh_token",
        "token",
        "secret",
        "app_secret",
        "client_secret",
        "password",
        "sign",
        "signature",
        "appsecret_proof",
        "code",
        "auth_code",
        "authorization",
        "x-tts-access-token",
        "access-token",
        "email",
        "phone",
    }
    assert expected <= SENSITIVE_KEYS


# --- mappings -------------------------------------------------------------------------


def test_redact_mapping_hides_sensitive_values_at_any_depth_and_copies():
    payload = {
        "code": 0,
        "message": "OK",
        "data": {
            "access_token": "abc123abc123",
            "advertiser_ids": ["7001", "7002"],
            "users": [{"email": "ana@example.com", "name_id": 3}, {"phone": "+5511999990000"}],
        },
        "Authorization": "Bearer abc",
    }

    result = redact_mapping(payload)

    assert result == {
        "code": 0,
        "message": "OK",
        "data": {
            "access_token": REDACTED,
            "advertiser_ids": ["7001", "7002"],
            "users": [{"email": REDACTED, "name_id": 3}, {"phone": REDACTED}],
        },
        "Authorization": REDACTED,
    }
    assert payload["data"]["access_token"] == "abc123abc123"  # the input is untouched


def test_redact_mapping_keeps_error_codes_but_hides_oauth_codes():
    result = redact_mapping(
        [
            {"code": 40100},
            {"code": "invalid_grant"},
            {"code": "36009002"},
            {"code": "AQBx7-9fGq3LtRmR2k1"},
        ]
    )
    assert result == [
        {"code": 40100},
        {"code": "invalid_grant"},
        {"code": "36009002"},
        {"code": REDACTED},
    ]


def test_redact_mapping_scrubs_secrets_echoed_in_free_text():
    register_secret(SHOP_TOKEN)
    result = redact_mapping({"message": f"token {SHOP_TOKEN} expired", "empty_token": ""})
    assert result == {"message": f"token {REDACTED} expired", "empty_token": ""}


# --- URLs ---------------------------------------------------------------------------------


def test_redact_url_keeps_scheme_host_and_path_and_hides_sensitive_query_values():
    url = (
        "https://auth.tiktok-shops.com/api/v2/token/get"
        "?app_key=6abc&app_secret=s3cr3t&auth_code=ROW_xyz&grant_type=authorized_code"
    )
    assert redact_url(url) == (
        "https://auth.tiktok-shops.com/api/v2/token/get"
        f"?app_key=6abc&app_secret={REDACTED}&auth_code={REDACTED}&grant_type=authorized_code"
    )


def test_redact_url_hides_meta_proofs_passwords_and_fragment_tokens():
    url = (
        "https://alice:hunter2@graph.facebook.com/v25.0/me"
        "?fields=id,name&access_token=EAAtoken&appsecret_proof=beef#access_token=frag"
    )
    redacted = redact_url(url)
    assert redacted.startswith(f"https://alice:{REDACTED}@graph.facebook.com/v25.0/me?")
    for secret in ("hunter2", "EAAtoken", "beef", "frag"):
        assert secret not in redacted
    assert "fields=id,name" in redacted


# --- headers ------------------------------------------------------------------------------


def test_redact_headers_hides_credentials_and_cookies_only():
    headers = {
        "Access-Token": "abc",
        "x-tts-access-token": "def",
        "Authorization": "Bearer ghi",
        "Cookie": "sessionid=jkl",
        "Content-Type": "application/json",
        "X-Tt-Logid": "2026112310",
    }
    assert redact_headers(headers) == {
        "Access-Token": REDACTED,
        "x-tts-access-token": REDACTED,
        "Authorization": REDACTED,
        "Cookie": REDACTED,
        "Content-Type": "application/json",
        "X-Tt-Logid": "2026112310",
    }


# --- text ------------------------------------------------------------------------------------


def test_redact_text_replaces_given_and_registered_secrets():
    register_secret("registered-secret-value")
    text = "given-secret-value and registered-secret-value and short"
    assert redact_text(text, secrets=["given-secret-value", "short"]) == (
        f"{REDACTED} and {REDACTED} and short"  # too short to be registered as a secret
    )


def test_a_secret_containing_another_disappears_whole():
    assert redact_text("abcdefgh-123456", secrets=["abcdefgh", "abcdefgh-123456"]) == REDACTED


def test_redact_text_catches_credential_shapes_nobody_registered():
    fernet = Fernet(Fernet.generate_key()).encrypt(b"plaintext").decode()
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlc2lnbmF0dXJl"
    text = (
        f"Authorization: Bearer zyxwvu987654 stored={fernet} jwt {jwt} "
        "meta EAABsbCS1iHgBAKZCZBzZC9ZA login act.1a2b3c4d5e6f7g8h9i0j!1234.va "
        "url /token?app_secret=plain&grant_type=x reply to buyer@example.com"
    )

    result = redact_text(text)

    for secret in (
        "zyxwvu987654",
        fernet,
        jwt,
        "EAABsbCS1iHgBAKZCZBzZC9ZA",
        "act.1a2b3c4d",
        "app_secret=plain",
        "buyer@example.com",
    ):
        assert secret not in result
    assert "grant_type=x" in result
    assert "/token?" in result


def test_redact_text_leaves_ordinary_text_and_error_codes_alone():
    text = "TikTok answered code 40100 (request id 2026112310154), code=40105, page 2 of 7"
    assert redact_text(text) == text
    assert redact_text(None) == ""


def test_a_harmless_pair_does_not_hide_the_sensitive_one_after_it():
    assert redact_text("Error: access_token=abc123secret") == f"Error: access_token={REDACTED}"
    assert redact_text("see https://x.test/cb?code=AQBx7fG9") == (
        f"see https://x.test/cb?code={REDACTED}"
    )


def test_long_hex_runs_are_hidden_but_request_ids_stay_readable():
    ads_token = "3f9c1e7a0b5d4c2e8f6a1b3c5d7e9f0a2b4c6d8e"  # TikTok Ads tokens: 40 hex
    request_id = "2026112310154001A2B3C4D5E6F7A8B9C0"  # TikTok request ids: 34

    result = redact_text(f"token {ads_token} refused, request id {request_id}")

    assert result == f"token {REDACTED} refused, request id {request_id}"


def test_registered_secrets_are_bounded_and_short_values_ignored():
    register_secret("abc")
    assert "abc" not in registered_secrets()
    for n in range(redaction.MAX_REGISTERED_SECRETS + 5):
        register_secret(f"bulk-secret-{n:06d}")
    kept = registered_secrets()
    assert len(kept) <= redaction.MAX_REGISTERED_SECRETS
    assert "bulk-secret-000000" not in kept  # the oldest went first
    assert f"bulk-secret-{redaction.MAX_REGISTERED_SECRETS + 4:06d}" in kept


# --- logging ---------------------------------------------------------------------------------


def _record(msg: str, *args, exc_info=None) -> logging.LogRecord:
    return logging.LogRecord("test", logging.ERROR, __file__, 1, msg, args, exc_info)


def test_the_logging_filter_redacts_messages_with_their_arguments():
    register_secret(SHOP_TOKEN)
    record = _record("calling with token %s for %s", SHOP_TOKEN, "shop 7")

    assert RedactingFilter().filter(record) is True
    assert record.getMessage() == f"calling with token {REDACTED} for shop 7"


def test_the_logging_filter_redacts_tracebacks():
    register_secret(SHOP_TOKEN)
    try:
        raise ValueError(f"the provider echoed {SHOP_TOKEN}")
    except ValueError:
        import sys

        record = _record("failed", exc_info=sys.exc_info())

    RedactingFilter().filter(record)
    formatted = logging.Formatter().format(record)

    assert SHOP_TOKEN not in formatted
    assert "the provider echoed [redacted]" in formatted


def test_the_logging_filter_works_through_a_handler(caplog):
    register_secret(SHOP_TOKEN)
    logger = logging.getLogger("apps.integrations.tests.redaction")
    caplog.handler.addFilter(RedactingFilter())
    try:
        with caplog.at_level(logging.INFO, logger=logger.name):
            logger.info("token=%s", SHOP_TOKEN)
    finally:
        caplog.handler.removeFilter(caplog.handler.filters[-1])

    assert SHOP_TOKEN not in caplog.text
