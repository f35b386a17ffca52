"""TikTok Shop pages, mounted at ``/integrations/tiktok-shop/`` (before the hub's own patterns).

Order ids in these URLs are our primary keys, always looked up within the tenant.
"""

from django.urls import path

from . import ops_views, views

app_name = "tiktok_shop"

urlpatterns = [
    path("", views.orders, name="orders"),
    path("orders/<int:pk>/", views.order, name="order"),
    path("orders/<int:pk>/fulfillment/", ops_views.order_fulfillment, name="order_fulfillment"),
    path("returns/", ops_views.returns_list, name="returns"),
    path("returns/<int:pk>/", ops_views.return_detail, name="return"),
    path("returns/<int:pk>/decide/", ops_views.return_decide, name="return_decide"),
    path("finance/", ops_views.finance_page, name="finance"),
    path("finance/export.csv", ops_views.finance_export, name="finance_export"),
    path("app-store/<str:token>/", views.app_store_confirm, name="app_store_confirm"),
]
