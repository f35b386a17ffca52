from django.urls import path  # noqa: F401

app_name = "meta_ads"

urlpatterns: list = []
