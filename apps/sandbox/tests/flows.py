"""Consent-screen walks shared by the provider tests (browser side, via Django's client)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

from django.conf import settings
from django.test import Client

from apps.sandbox import generator

HUB_CALLBACK = f"{settings.PUBLIC_BASE_URL}/integrations/tiktok/callback/"
META_CALLBACK = f"{settings.PUBLIC_BASE_URL}/integrations/meta/callback/"


def sandbox_path(setting_url: str) -> str:
    """The path part of a provider URL setting that points at the sandbox."""
    return urlsplit(setting_url).path


def callback_params(response) -> dict[str, str]:
    """The query the consent screen sent the browser back with (single values)."""
    assert response.status_code == 302, response.content
    query = parse_qs(urlsplit(response["Location"]).query, keep_blank_values=True)
    return {key: values[-1] for key, values in query.items()}


def callback_base(response) -> str:
    parts = urlsplit(response["Location"])
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def first(provider: str) -> generator.Identity:
    return generator.identities(provider)[0]


def consent(client: Client, url: str, params: dict, form: dict | None = None) -> dict[str, str]:
    """GET the screen, POST the decision; return the callback parameters."""
    full = f"{sandbox_path(url)}?{urlencode(params)}"
    page = client.get(full)
    assert page.status_code == 200, page.content
    return callback_params(client.post(full, form or {}))


def ads_auth_code(client: Client, state: str = "st-ads") -> str:
    params = {"app_id": settings.TIKTOK_APP_ID, "redirect_uri": HUB_CALLBACK, "state": state}
    form = {"decision": "authorize", "account_id": first("tiktok_ads").account_id}
    got = consent(client, settings.TIKTOK_ADS_AUTH_URL, params, form)
    assert got["state"] == state
    return got["auth_code"]


def shop_code(client: Client, state: str = "st-shop") -> str:
    params = {"service_id": settings.TIKTOK_SHOP_SERVICE_ID, "state": state}
    form = {"decision": "authorize", "account_id": first("tiktok_shop").account_id}
    got = consent(client, settings.TIKTOK_SHOP_AUTHORIZE_URL, params, form)
    return got["code"]


def content_params(scope: str, **extra: str) -> dict:
    return {
        "client_key": settings.TIKTOK_CONTENT_CLIENT_KEY,
        "response_type": "code",
        "scope": scope,
        "redirect_uri": HUB_CALLBACK,
        "state": "st-content",
        **extra,
    }


def content_code(client: Client, scope: str, ticked: list[str], **extra: str) -> dict[str, str]:
    form = {
        "decision": "authorize",
        "account_id": first("tiktok_content").account_id,
        "scopes": ticked,
    }
    return consent(
        client, settings.TIKTOK_CONTENT_AUTHORIZE_URL, content_params(scope, **extra), form
    )


def meta_params(scope: str = "ads_read,business_management", **extra: str) -> dict:
    return {
        "client_id": settings.META_APP_ID,
        "redirect_uri": META_CALLBACK,
        "state": "st-meta",
        "scope": scope,
        **extra,
    }


def meta_dialog_url(params: dict, account_id: str) -> str:
    return f"{sandbox_path(settings.META_DIALOG_URL)}?{urlencode({**params, 'sandbox_user': account_id})}"


def meta_code(
    client: Client, ticked: list[str], *, account_id: str | None = None, **params_extra: str
) -> dict[str, str]:
    account_id = account_id or first("meta").account_id
    url = meta_dialog_url(meta_params(**params_extra), account_id)
    assert client.get(url).status_code == 200
    form = {"decision": "authorize", "account_id": account_id, "scopes": ticked}
    return callback_params(client.post(url, form))
