"""What the emulated providers remember: authorization codes, tokens and consents.

Tokens are kept in plain text on purpose: these are the *provider's* records of
tokens it minted for the sandbox, never a tenant's secrets.
"""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Provider(models.TextChoices):
    TIKTOK_ADS = "tiktok_ads", _("TikTok Ads")
    TIKTOK_SHOP = "tiktok_shop", _("TikTok Shop")
    TIKTOK_CONTENT = "tiktok_content", _("TikTok Content")
    META = "meta", _("Meta")


class SandboxGrant(models.Model):
    """One authorization: the code the consent screen issued, then the tokens.

    A refresh (or Meta's long-lived exchange) creates a new row pointing at its
    ``parent``; the parent is marked ``rotated`` so its refresh token can no
    longer be spent, while its access token lives until it expires.
    """

    provider = models.CharField(max_length=32, choices=Provider.choices)
    #: the sandbox identity that consented; seeds the generated data
    account_id = models.CharField(max_length=64)
    scopes = models.JSONField(default=list, blank=True)

    code = models.CharField(max_length=128, unique=True, null=True, blank=True)
    code_expires_at = models.DateTimeField(null=True, blank=True)
    code_used_at = models.DateTimeField(null=True, blank=True)
    redirect_uri = models.CharField(max_length=1024, blank=True)
    code_challenge = models.CharField(max_length=256, blank=True)

    access_token = models.CharField(max_length=255, unique=True, null=True, blank=True)
    #: None means the token does not expire (TikTok Ads)
    access_expires_at = models.DateTimeField(null=True, blank=True)
    refresh_token = models.CharField(max_length=255, blank=True, db_index=True)
    refresh_expires_at = models.DateTimeField(null=True, blank=True)
    #: Meta: "short" or "long" lived
    lifetime = models.CharField(max_length=16, blank=True)

    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    revoked = models.BooleanField(default=False)
    rotated = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["provider", "account_id"], name="sandbox_grant_account_idx")
        ]
        verbose_name = _("sandbox grant")

    def __str__(self) -> str:
        return f"{self.get_provider_display()} grant for {self.account_id}"

    def access_expired(self, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.access_expires_at is not None and self.access_expires_at <= now

    def refresh_expired(self, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.refresh_expires_at is not None and self.refresh_expires_at <= now


class SandboxConsent(models.Model):
    """What a sandbox user decided for the app, across logins (Meta's per-app permissions).

    Meta remembers declined permissions and skips them on the next dialog unless
    the app asks again with ``auth_type=rerequest``.
    """

    provider = models.CharField(max_length=32, choices=Provider.choices)
    account_id = models.CharField(max_length=64)
    granted = models.JSONField(default=list, blank=True)
    declined = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "account_id"], name="sandbox_consent_unique_account"
            )
        ]
        verbose_name = _("sandbox consent")

    def __str__(self) -> str:
        return f"{self.get_provider_display()} consent of {self.account_id}"


class SandboxAdsOverride(models.Model):
    """A change an API caller made to a generated TikTok Ads object: status or budget.

    Campaigns, ad groups and ads are regenerated from their seeds on every call
    (``generator.ads_objects``); these rows are laid over them, so a change made
    through ``*/status/update/`` or ``adgroup/budget/update/`` shows in later
    ``*/get/`` calls, in every process. One row per object; a status update and a
    budget update each write only their own column (and ``modified_at``).
    """

    class ObjectType(models.TextChoices):
        CAMPAIGN = "campaign", _("campaign")
        ADGROUP = "adgroup", _("ad group")
        AD = "ad", _("ad")

    object_type = models.CharField(max_length=16, choices=ObjectType.choices)
    object_id = models.CharField(max_length=32)
    advertiser_id = models.CharField(max_length=32)
    #: ENABLE, DISABLE or DELETE; empty while only the budget was changed
    operation_status = models.CharField(max_length=16, blank=True)
    budget = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    #: becomes the object's ``modify_time``
    modified_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["object_type", "object_id"], name="sandbox_ads_override_unique"
            )
        ]
        indexes = [models.Index(fields=["advertiser_id"], name="sandbox_ads_override_adv_idx")]
        verbose_name = _("sandbox TikTok Ads override")

    def __str__(self) -> str:
        return f"{self.get_object_type_display()} {self.object_id}"


class SandboxShopRecord(models.Model):
    """Something an API caller did to a generated TikTok Shop object.

    Orders, packages, returns, conversations and statements are regenerated
    from their seeds on every call (``shop_data``); these rows are laid over
    them so a change shows in later reads, in every process: a package shipped
    with its tracking number, a return approved or rejected, a message sent by
    the seller. ``data`` holds what the call carried, as the provider stored it.
    """

    class Kind(models.TextChoices):
        PACKAGE_SHIPPED = "package_shipped", _("package shipped")
        RETURN_DECIDED = "return_decided", _("return decided")
        MESSAGE_SENT = "message_sent", _("message sent")

    kind = models.CharField(max_length=32, choices=Kind.choices)
    shop_id = models.CharField(max_length=64)
    #: the package, return or conversation the record is about
    object_id = models.CharField(max_length=64)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["kind", "shop_id", "object_id"], name="sandbox_shop_record_idx")
        ]
        ordering = ["created_at", "pk"]
        verbose_name = _("sandbox TikTok Shop record")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.object_id}"
