from django.urls import path  # noqa: F401

app_name = "tiktok_content"

urlpatterns: list = []
