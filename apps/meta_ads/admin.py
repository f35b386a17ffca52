from django.contrib import admin

from apps.integrations.admin import ConnectionAdmin

from .models import MetaProfile

admin.site.register(MetaProfile, ConnectionAdmin)
