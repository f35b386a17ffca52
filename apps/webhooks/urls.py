from django.urls import path

from . import views

app_name = "webhooks"

urlpatterns = [
    path("<slug:source_key>/", views.receive, name="receive"),
]
