from django.contrib import admin

from .models import ExchangeRate


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    list_display = ("tenant", "from_currency", "to_currency", "rate", "valid_from", "created_by")
    list_filter = ("tenant", "from_currency", "to_currency")
    date_hierarchy = "valid_from"
    readonly_fields = ("created_by", "created_at")

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
