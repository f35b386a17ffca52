"""TikTok Content pages, mounted at ``/integrations/tiktok-content/`` (before the hub's patterns).

Ids in these URLs are our primary keys, always looked up within the tenant.
"""

from django.urls import path

from . import views

app_name = "tiktok_content"

urlpatterns = [
    path("", views.content, name="content"),
    path("publish/", views.publish, name="publish"),
    path("publish/<int:pk>/", views.publish_job, name="publish_job"),
]
