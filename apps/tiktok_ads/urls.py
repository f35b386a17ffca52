"""TikTok Ads pages, mounted at ``/integrations/tiktok-ads/`` (before the hub's own patterns).

Ids in these URLs are our primary keys, always looked up within the tenant.
"""

from django.urls import path

from . import views

app_name = "tiktok_ads"

urlpatterns = [
    path("", views.ads, name="ads"),
    path("campaigns/<int:pk>/", views.campaign, name="campaign"),
    path("campaigns/<int:pk>/status/", views.campaign_status, name="campaign_status"),
    path("adgroups/<int:pk>/", views.adgroup, name="adgroup"),
    path("adgroups/<int:pk>/status/", views.adgroup_status, name="adgroup_status"),
    path("adgroups/<int:pk>/budget/", views.adgroup_budget, name="adgroup_budget"),
    path("ads/<int:pk>/status/", views.ad_status, name="ad_status"),
    path("advertisers/active/", views.advertisers_active, name="advertisers_active"),
    path("pixels/conversion/", views.conversion_pixel, name="conversion_pixel"),
]
