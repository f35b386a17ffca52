from django.contrib import admin

from apps.integrations.admin import ConnectionAdmin

from .models import TikTokShopConnection

admin.site.register(TikTokShopConnection, ConnectionAdmin)
