"""Analytics pages, mounted at ``/analytics/``.

Drill-down and filters are query parameters (``platform``, ``range``, ``start``,
``end``, ``campaign``, ``adset``, ``currency``), so every view of the table is
a plain GET link, and ``format=csv`` exports the table as shown.
"""

from django.urls import path

from . import views

app_name = "analytics"

urlpatterns = [
    path("", views.index, name="index"),
    path("roi/", views.roi, name="roi"),
    path("roi/export/", views.roi_export, name="roi_export"),
    path("tiktok/", views.tiktok, name="tiktok"),
    path("tiktok/export/", views.tiktok_export, name="tiktok_export"),
    path("rates/", views.rates, name="rates"),
    path("rates/<int:pk>/delete/", views.rate_delete, name="rate_delete"),
]
