"""Forms of the Leads pages; the services re-check what matters."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .actions import CURRENCIES
from .models import MAX_EXPIRATION_DAYS, LeadSettings, Ticket

CURRENCY_CHOICES = [(code, code) for code in CURRENCIES]


class StageMoveForm(forms.Form):
    """Where to move a ticket; ``value`` and ``currency`` only matter for won."""

    stage = forms.ChoiceField(label=_("Move to"), choices=Ticket.Stage.choices)
    value = forms.CharField(label=_("Deal value"), required=False, max_length=32)
    currency = forms.ChoiceField(label=_("Currency"), choices=CURRENCY_CHOICES, required=False)


class LeadSettingsForm(forms.ModelForm):
    default_currency = forms.ChoiceField(label=_("Default deal currency"), choices=CURRENCY_CHOICES)

    class Meta:
        model = LeadSettings
        fields = ["ticket_expiration_days", "default_currency"]
        widgets = {
            "ticket_expiration_days": forms.NumberInput(
                attrs={"min": 1, "max": MAX_EXPIRATION_DAYS, "step": 1}
            )
        }
