from django.urls import path

from . import views

app_name = "integrations"

urlpatterns = [
    path("", views.hub, name="hub"),
    path("tiktok/callback/", views.oauth_callback, name="tiktok_callback"),
    path("meta/callback/", views.oauth_callback, name="meta_callback"),
    path("<slug:product>/connect/", views.connect, name="connect"),
    path("<slug:product>/card/", views.card, name="card"),
    path("<slug:product>/<int:pk>/test/", views.test_connection, name="test"),
    path("<slug:product>/<int:pk>/sync/", views.sync_now, name="sync"),
    path("<slug:product>/<int:pk>/disconnect/", views.disconnect, name="disconnect"),
]
