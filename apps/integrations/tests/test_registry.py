import pytest
from django.apps import apps

from apps.integrations.checks import provider_apps_registered
from apps.integrations.registry import (
    AlreadyRegistered,
    Platform,
    Provider,
    ProviderRegistry,
    providers,
)

PLATFORM = Platform("acme", "Acme", order=5)


def make_provider(key: str, **kwargs) -> Provider:
    defaults = dict(
        label=key.title(),
        platform=PLATFORM,
        app_label="acme",
        summary="",
        credential_settings=(),
        register_at="",
        callback_path="/cb/",
    )
    return Provider(key=key, **{**defaults, **kwargs})


def test_every_product_is_registered_by_its_own_app():
    assert [(p.key, p.app_label) for p in providers.all()] == [
        ("tiktok_ads", "tiktok_ads"),
        ("tiktok_shop", "tiktok_shop"),
        ("tiktok_content", "tiktok_content"),
        ("meta_ads", "meta_ads"),
    ]
    assert [p.key for p in providers.platforms()] == ["tiktok", "meta"]


def test_registering_a_key_twice_is_refused():
    registry = ProviderRegistry()
    registry.register(make_provider("one"))
    with pytest.raises(AlreadyRegistered):
        registry.register(make_provider("one"))


def test_configured_only_when_every_credential_is_set(settings):
    provider = make_provider("x", credential_settings=("ACME_ID", "ACME_SECRET"))
    settings.ACME_ID = "id"
    settings.ACME_SECRET = ""
    assert not provider.is_configured()
    assert provider.missing_settings() == ["ACME_SECRET"]
    settings.ACME_SECRET = "s"
    assert provider.is_configured()


def test_redirect_uri_uses_the_public_base_url(settings):
    settings.PUBLIC_BASE_URL = "https://hub.example.com"
    assert make_provider("x").redirect_uri == "https://hub.example.com/cb/"


def test_system_check_flags_a_provider_app_that_registered_nothing(monkeypatch):
    assert provider_apps_registered() == []
    config = apps.get_app_config("tiktok_ads")
    monkeypatch.setattr(
        providers,
        "_providers",
        {k: v for k, v in providers._providers.items() if k != "tiktok_ads"},
    )
    errors = provider_apps_registered()
    assert [e.id for e in errors] == ["integrations.E001"]
    assert errors[0].obj is config
