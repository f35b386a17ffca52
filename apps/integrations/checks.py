"""System checks that keep the registries honest."""

from django.apps import apps
from django.core.checks import Error, register

from .registry import providers


@register()
def provider_apps_registered(app_configs=None, **kwargs):
    """An installed provider app (``provider_app = True``) must register a provider."""
    errors = []
    for config in apps.get_app_configs():
        if getattr(config, "provider_app", False) and not providers.for_app(config.label):
            errors.append(
                Error(
                    f"Provider app {config.label!r} is installed but registered no provider.",
                    hint="Call apps.integrations.registry.providers.register() in its AppConfig.ready().",
                    obj=config,
                    id="integrations.E001",
                )
            )
    return errors
