from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from apps.integrations.metrics import metrics_view
from apps.integrations.views import healthz

urlpatterns = [
    # First: providers post here far more often than people load pages, and
    # Django resolves the list in order.
    path("webhooks/", include("apps.webhooks.urls")),
    path("", RedirectView.as_view(pattern_name="integrations:hub", permanent=False)),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("accounts/", include("apps.tenants.urls")),
    # Django's set_language view: the language switch in base.html posts here.
    path("i18n/", include("django.conf.urls.i18n")),
    # Before the hub's include, whose ``<slug:product>/...`` patterns would shadow it.
    path("integrations/tiktok-ads/", include("apps.tiktok_ads.urls")),
    path("integrations/tiktok-shop/", include("apps.tiktok_shop.urls")),
    path("integrations/tiktok-content/", include("apps.tiktok_content.urls")),
    path("integrations/meta-ads/", include("apps.meta_ads.urls")),
    path("catalog/", include("apps.catalog.urls")),
    path("integrations/conversions/", include("apps.capi.urls")),
    path("integrations/", include("apps.integrations.urls")),
    path("leads/", include("apps.leads.urls")),
    path("analytics/", include("apps.analytics.urls")),
    path("admin/", admin.site.urls),
]

if settings.INTEGRATIONS_SANDBOX:
    urlpatterns.append(path("sandbox/", include("apps.sandbox.urls")))
