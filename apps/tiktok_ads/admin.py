from django.contrib import admin

from apps.integrations.admin import ConnectionAdmin

from .models import TikTokAdsConnection

admin.site.register(TikTokAdsConnection, ConnectionAdmin)
