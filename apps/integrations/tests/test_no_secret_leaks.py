"""No secret leaks: connect, refresh, sync and failures, then scan every log for every secret.

Every token the sandbox ever issued, every authorization code and every app
secret is a known value; none may appear in the API call log, a sync run's
error, a connection's last error, or any captured log line.
"""

from __future__ import annotations

import logging

import pytest
from django.conf import settings
from django.test import Client

from apps.integrations import services
from apps.integrations.http import ProviderClient, ProviderError
from apps.integrations.models import ApiCallLog, SyncRun
from apps.integrations.sync import sync_run_for_connection_now
from apps.integrations.tests.contract import ProviderContract
from apps.meta_ads.models import MetaProfile
from apps.sandbox.models import SandboxGrant
from apps.tiktok_ads.models import TikTokAdsConnection
from apps.tiktok_content.models import TikTokContentConnection
from apps.tiktok_shop.models import TikTokShopConnection

pytestmark = pytest.mark.django_db


class Ads(ProviderContract):
    provider_key = sandbox_provider = "tiktok_ads"
    packs = ("ads_read",)


class Shop(ProviderContract):
    provider_key = sandbox_provider = "tiktok_shop"
    packs = ("shop_orders",)


class Content(ProviderContract):
    provider_key = sandbox_provider = "tiktok_content"
    packs = ("content_analytics",)


class Meta(ProviderContract):
    provider_key = "meta_ads"
    sandbox_provider = "meta"
    packs = ("meta_ads",)


def known_secrets() -> set[str]:
    values = {
        settings.TIKTOK_APP_SECRET,
        settings.TIKTOK_SHOP_APP_SECRET,
        settings.TIKTOK_CONTENT_CLIENT_SECRET,
        settings.META_APP_SECRET,
    }
    for grant in SandboxGrant.objects.all():
        values |= {grant.code, grant.access_token, grant.refresh_token}
    return {v for v in values if v and len(v) >= 8}


def everything_logged(caplog, capsys) -> list[tuple[str, str]]:
    texts = [("log", caplog.text)]
    captured = capsys.readouterr()
    texts += [("stdout", captured.out), ("stderr", captured.err)]
    for row in ApiCallLog.objects.all():
        texts.append(
            (f"api call {row.pk}", f"{row.path} {row.provider_code} {row.request_id} {row.error}")
        )
    for run in SyncRun.objects.all():
        texts.append((f"sync run {run.pk}", f"{run.error} {run.checkpoint} {run.stats}"))
    for model in (TikTokAdsConnection, TikTokShopConnection, TikTokContentConnection, MetaProfile):
        for conn in model.objects.all():
            texts.append((f"{model.__name__} {conn.pk}", f"{conn.last_error} {conn!r} {conn}"))
    return texts


def test_no_secret_reaches_any_log(owner_client, sandbox, caplog, capsys, monkeypatch):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr(ProviderClient, "backoff_base", 0.0)

    ads, _ = Ads().connect(owner_client)
    shop, _ = Shop().connect(owner_client)
    content, _ = Content().connect(owner_client)
    meta, _ = Meta().connect(owner_client)

    # Refresh: Login Kit refuses the token once, the client refreshes (rotating) and retries.
    sandbox.inject(provider="tiktok_content", path_contains="/v2/user/info/", kind="expired_token")
    services.connection_test(connection=content)
    # Shop refresh through the sweep's path.
    services.connection_refresh(connection=shop, stale_token=shop.access_token.reveal())

    # Sync, with a provider failure half way, then the rerun.
    sandbox.inject(
        provider="tiktok_ads", path_contains="/campaign/get/", kind="500", after=1, times=50
    )
    failed = sync_run_for_connection_now(connection=ads, kind="campaigns", trigger="manual")
    assert failed.status == SyncRun.Status.FAILED
    sandbox.clear()
    assert (
        sync_run_for_connection_now(connection=ads, kind="campaigns", trigger="manual").status
        == SyncRun.Status.SUCCEEDED
    )

    # Failures: a throttled call, an expired token, a failed exchange, a reused state.
    sandbox.inject(provider="tiktok_shop", path_contains="/shops", kind="429", times=50)
    with pytest.raises(ProviderError):
        services.connection_test(connection=shop)
    sandbox.clear()
    sandbox.inject(provider="meta", path_contains="/debug_token", kind="expired_token", times=5)
    with pytest.raises(ProviderError):
        services.connection_test(connection=meta)
    callback = Content().consent(Content().start(owner_client))
    sandbox.inject(provider="tiktok_content", path_contains="/v2/oauth/token/", kind="500")
    owner_client.get(callback)
    owner_client.get(callback)
    services.connection_disconnect(connection=ads)

    secrets = known_secrets()
    assert len(secrets) > 10
    assert ApiCallLog.objects.count() > 20
    leaks = [
        (where, secret[:6] + "…")
        for where, text in everything_logged(caplog, capsys)
        for secret in secrets
        if secret in text
    ]
    assert leaks == []


def test_admin_screens_show_no_token(owner_client, sandbox, admin_user):
    content, _ = Content().connect(owner_client)
    token = content.access_token.reveal()
    staff = Client()
    staff.force_login(admin_user)
    pages = [
        "/admin/tiktok_content/tiktokcontentconnection/",
        f"/admin/tiktok_content/tiktokcontentconnection/{content.pk}/change/",
        "/admin/integrations/apicalllog/",
        "/admin/integrations/oauthstate/",
        "/admin/integrations/syncrun/",
        "/admin/integrations/auditentry/",
    ]
    for url in pages:
        response = staff.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        assert token not in body, url
        assert content.refresh_token.reveal() not in body, url
    change_page = staff.get(pages[1]).content.decode()
    assert "set" in change_page
