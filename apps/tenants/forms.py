from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .models import Membership
from .throttle import client_address, login_blocked, login_failed


class EmailAuthenticationForm(AuthenticationForm):
    """Django's login form, labelled for the email addresses we use as usernames.

    Throttled: after too many failures for the account or from the address
    the form refuses without checking the password (see ``throttle``).
    """

    username = forms.CharField(
        label=_("Email"), widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "email"})
    )
    error_messages = {
        **AuthenticationForm.error_messages,
        "throttled": _("Too many failed sign-in attempts. Wait %(minutes)d minutes and try again."),
    }
    throttled = False

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        address = client_address(self.request) if self.request else ""
        if login_blocked(username=username, address=address):
            self.throttled = True
            raise ValidationError(
                self.error_messages["throttled"],
                code="throttled",
                params={"minutes": max(settings.LOGIN_FAILURE_WINDOW // 60, 1)},
            )
        try:
            return super().clean()
        except ValidationError:
            login_failed(username=username, address=address)
            raise


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Membership.Role.choices)


class SwitchTenantForm(forms.Form):
    tenant_id = forms.IntegerField(min_value=1)
    next = forms.CharField(required=False)
