"""Meta pages and actions, mounted at ``/integrations/meta-ads/`` (before the hub's own patterns).

Ids in these URLs are our primary keys, always looked up within the tenant.
The deauthorize and data-deletion URLs are the ones to register on the Meta
app (App settings > Basic / Facebook Login settings).
"""

from django.urls import path

from . import views

app_name = "meta_ads"

urlpatterns = [
    path(
        "ad-accounts/<int:pk>/tracking/",
        views.ad_account_tracking,
        name="ad_account_tracking",
    ),
    path("ad-accounts/<int:pk>/pixels/", views.ad_account_pixels, name="ad_account_pixels"),
    path("ad-accounts/<int:pk>/pixel/", views.ad_account_pixel, name="ad_account_pixel"),
    path("whatsapp/", views.whatsapp, name="whatsapp"),
    path(
        "whatsapp/<int:pk>/conversions/",
        views.whatsapp_conversions,
        name="whatsapp_conversions",
    ),
    path("whatsapp/<int:pk>/delete/", views.whatsapp_delete, name="whatsapp_delete"),
    path("deauthorize/", views.deauthorize, name="deauthorize"),
    path("data-deletion/", views.data_deletion, name="data_deletion"),
    path(
        "data-deletion/<slug:code>/",
        views.data_deletion_status,
        name="data_deletion_status",
    ),
]
