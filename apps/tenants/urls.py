from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

app_name = "tenants"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("switch/", views.switch_tenant, name="switch"),
    path("team/", views.team, name="team"),
    path("team/<int:membership_id>/role/", views.change_role, name="change_role"),
    path("team/<int:membership_id>/remove/", views.remove_member, name="remove_member"),
]
