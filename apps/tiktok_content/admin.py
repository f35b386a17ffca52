from django.contrib import admin

from apps.integrations.admin import ConnectionAdmin

from .models import TikTokContentConnection

admin.site.register(TikTokContentConnection, ConnectionAdmin)
