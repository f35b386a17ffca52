from django.urls import path

from . import views

app_name = "capi"

urlpatterns = [
    path("resend/", views.resend, name="resend"),
    path("test-event/", views.test_event, name="test_event"),
    path("mapping/", views.mapping, name="mapping"),
    path("lead-webhook/rotate/", views.lead_webhook_rotate, name="lead_webhook_rotate"),
]
