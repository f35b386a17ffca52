"""Catalog pages, mounted at ``/catalog/``. Ids are our primary keys, looked up within the tenant."""

from django.urls import path

from . import views

app_name = "catalog"

urlpatterns = [
    path("", views.products, name="products"),
    path("items/<int:pk>/push/", views.item_push, name="item_push"),
    path("stock/push/", views.stock_push, name="stock_push"),
]
