from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.tenants.models import Tenant

from .models import ExchangeRate


class ExchangeRateForm(forms.ModelForm):
    """A tenant admin adds ``1 FROM = rate TO`` valid from a day on."""

    class Meta:
        model = ExchangeRate
        fields = ["from_currency", "to_currency", "rate", "valid_from"]
        widgets = {"valid_from": forms.DateInput(attrs={"type": "date"})}

    def __init__(self, *args, tenant: Tenant, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        for name in ("from_currency", "to_currency"):
            self.fields[name].widget.attrs.update(
                {"maxlength": 3, "autocomplete": "off", "size": 4}
            )

    def clean_from_currency(self) -> str:
        return self.cleaned_data["from_currency"].strip().upper()

    def clean_to_currency(self) -> str:
        return self.cleaned_data["to_currency"].strip().upper()

    def clean(self) -> dict:
        data = super().clean()
        source, target = data.get("from_currency"), data.get("to_currency")
        if source and target and source == target:
            raise forms.ValidationError(_("Choose two different currencies."))
        valid_from = data.get("valid_from")
        if (
            source
            and target
            and valid_from
            and ExchangeRate.objects.for_tenant(self.tenant)
            .filter(from_currency=source, to_currency=target, valid_from=valid_from)
            .exists()
        ):
            raise forms.ValidationError(
                _("A rate for this pair and day exists already; delete it first.")
            )
        return data

    def _post_clean(self) -> None:
        self.instance.tenant = self.tenant
        super()._post_clean()
