from django.urls import path

from . import views

app_name = "webhooks"

urlpatterns = [
    path("<slug:source_key>/", views.receive, name="receive"),
    # Sources that give each tenant its own unguessable URL (TikTok lead forms).
    path("<slug:source_key>/<slug:route_key>/", views.receive, name="receive_routed"),
]
