"""TikTok Shop pages, mounted at ``/integrations/tiktok-shop/`` (before the hub's own patterns).

Order ids in these URLs are our primary keys, always looked up within the tenant.
"""

from django.urls import path

from . import views

app_name = "tiktok_shop"

urlpatterns = [
    path("", views.orders, name="orders"),
    path("orders/<int:pk>/", views.order, name="order"),
    path("app-store/<str:token>/", views.app_store_confirm, name="app_store_confirm"),
]
