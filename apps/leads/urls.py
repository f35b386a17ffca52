"""The Leads pages, mounted at ``/leads/``. Ticket ids are our primary keys, looked up per tenant."""

from django.urls import path

from . import views

app_name = "leads"

urlpatterns = [
    path("", views.index, name="index"),
    path("tickets/<int:pk>/", views.ticket, name="ticket"),
    path("board/", views.board, name="board"),
    path("tickets/<int:pk>/stage/", views.ticket_stage, name="ticket_stage"),
    path("tickets/<int:pk>/messages/", views.ticket_thread, name="ticket_thread"),
    path("tickets/<int:pk>/reply/", views.ticket_reply, name="ticket_reply"),
    path("settings/", views.settings_save, name="settings"),
]
