from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from .models import Membership


class EmailAuthenticationForm(AuthenticationForm):
    """Django's login form, labelled for the email addresses we use as usernames."""

    username = forms.CharField(
        label=_("Email"), widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "email"})
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Membership.Role.choices)


class SwitchTenantForm(forms.Form):
    tenant_id = forms.IntegerField(min_value=1)
    next = forms.CharField(required=False)
