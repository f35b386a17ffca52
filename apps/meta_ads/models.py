"""Meta tables: Facebook profiles, the ad accounts they reach, insights, WhatsApp numbers.

A tenant connects any number of Facebook profiles. Ad accounts belong to the
tenant, not to a profile: the same account reached by two profiles is one
:class:`MetaAdAccount` with two :class:`MetaAdAccountAccess` rows, so it is
listed once and any working profile can be used for its calls.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.integrations.models import Connection
from apps.tenants.models import TenantOwnedModel


class MetaProfile(Connection):
    """One Facebook profile a tenant connected; a tenant may connect several."""

    provider_key = "meta_ads"

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "external_user_id"], name="meta_profile_unique_per_tenant"
            )
        ]
        verbose_name = _("Meta profile")

    @property
    def declined_permissions(self) -> list[str]:
        """Permissions the user declined (or that expired) at the last login."""
        return list((self.assets or {}).get("declined") or [])


class AccountStatus(models.IntegerChoices):
    """``account_status`` of an ad account (contract §2.1)."""

    ACTIVE = 1, _("Active")
    DISABLED = 2, _("Disabled")
    UNSETTLED = 3, _("Unsettled")
    PENDING_RISK_REVIEW = 7, _("Pending risk review")
    PENDING_CLOSURE = 100, _("Pending closure")
    CLOSED = 101, _("Closed")


class MetaAdAccount(TenantOwnedModel):
    """An ad account some connected profile of the tenant reaches (``/me/adaccounts``).

    ``account_id`` is the bare number; the Graph node is ``act_<account_id>``.
    Tracking is the tenant admin's switch, off by default; the sync never
    writes it (the upsert only updates the columns it is given). ``pixels`` is
    the last list of the account's pixels/datasets read from the API, for the
    picker; the chosen one is ``pixel_id``/``pixel_name``.
    """

    account_id = models.CharField(_("ad account id"), max_length=32)
    name = models.CharField(_("name"), max_length=255, blank=True)
    currency = models.CharField(_("currency"), max_length=8, blank=True)
    status = models.IntegerField(_("status"), null=True, blank=True)
    disable_reason = models.IntegerField(null=True, blank=True)
    timezone_name = models.CharField(_("time zone"), max_length=64, blank=True)
    business_id = models.CharField(max_length=32, blank=True)
    business_name = models.CharField(_("business"), max_length=255, blank=True)
    tracking_enabled = models.BooleanField(_("tracking"), default=False)
    pixel_id = models.CharField(_("pixel / dataset id"), max_length=32, blank=True)
    pixel_name = models.CharField(_("pixel / dataset"), max_length=255, blank=True)
    pixels = models.JSONField(default=list, blank=True)
    pixels_fetched_at = models.DateTimeField(null=True, blank=True)
    profiles = models.ManyToManyField(
        MetaProfile, through="MetaAdAccountAccess", related_name="ad_accounts"
    )
    raw = models.JSONField(default=dict, blank=True)
    synced_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "account_id"], name="meta_ad_account_unique")
        ]
        verbose_name = _("Meta ad account")

    def __str__(self) -> str:
        return self.name or self.act_id

    @property
    def act_id(self) -> str:
        return f"act_{self.account_id}"

    @property
    def status_label(self) -> str:
        if self.status is None:
            return ""
        try:
            return str(AccountStatus(self.status).label)
        except ValueError:
            return str(self.status)

    @property
    def is_trackable(self) -> bool:
        """Disabled and closed accounts are shown but cannot be tracked (contract §2.1)."""
        return self.status not in (AccountStatus.DISABLED, AccountStatus.CLOSED)


class MetaAdAccountAccess(TenantOwnedModel):
    """Profile P reaches ad account A: written by P's ``ad_accounts`` sync, in bulk."""

    profile = models.ForeignKey(MetaProfile, on_delete=models.CASCADE, related_name="+")
    ad_account = models.ForeignKey(MetaAdAccount, on_delete=models.CASCADE, related_name="access")
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["profile", "ad_account"], name="meta_ad_account_access_unique"
            )
        ]
        verbose_name = _("Meta ad account access")

    def __str__(self) -> str:
        return f"{self.profile_id} -> {self.ad_account_id}"


class MetaAdInsight(TenantOwnedModel):
    """One ad's metrics for one day (the ad account's time zone), from ``act_<id>/insights``.

    ``messaging_conversations_started`` is NULL when Meta reported no such
    action for the row (not every ad is a messaging ad).
    """

    ad_account = models.ForeignKey(MetaAdAccount, on_delete=models.CASCADE, related_name="+")
    campaign_id = models.CharField(max_length=32, blank=True)
    campaign_name = models.CharField(max_length=512, blank=True)
    adset_id = models.CharField(max_length=32, blank=True)
    adset_name = models.CharField(max_length=512, blank=True)
    ad_id = models.CharField(max_length=32)
    ad_name = models.CharField(max_length=512, blank=True)
    date = models.DateField()
    currency = models.CharField(max_length=8, blank=True)
    spend = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    impressions = models.BigIntegerField(default=0)
    clicks = models.BigIntegerField(default=0)
    messaging_conversations_started = models.BigIntegerField(null=True, blank=True)
    synced_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["ad_account", "ad_id", "date"], name="meta_ad_insight_unique"
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "date"], name="meta_insight_date_idx"),
            models.Index(fields=["tenant", "ad_id"], name="meta_insight_ad_idx"),
            # The ROI drill-down into one ad set (apps/analytics).
            models.Index(fields=["tenant", "adset_id", "date"], name="meta_insight_adset_idx"),
            # What changed since the last ROI rollup (apps/analytics/rollup.py).
            models.Index(fields=["tenant", "synced_at"], name="meta_insight_synced_idx"),
        ]
        verbose_name = _("Meta ad insight")

    def __str__(self) -> str:
        return f"{self.ad_id} {self.date}"


class WhatsAppNumber(TenantOwnedModel):
    """A WhatsApp Business phone number of the tenant: how webhooks find their tenant.

    ``phone_number_id`` is unique across tenants: a webhook names only the
    number, so two tenants claiming one number could not be told apart.
    """

    phone_number_id = models.CharField(_("phone number id"), max_length=64, unique=True)
    waba_id = models.CharField(_("WhatsApp Business Account id"), max_length=64)
    display_phone_number = models.CharField(_("phone number"), max_length=32, blank=True)
    verified_name = models.CharField(_("verified name"), max_length=255, blank=True)
    conversions_enabled = models.BooleanField(_("conversions"), default=False)
    conversions_dataset_id = models.CharField(
        _("conversions dataset id"), max_length=32, blank=True
    )
    conversions_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["display_phone_number", "phone_number_id"]
        verbose_name = _("WhatsApp number")

    def __str__(self) -> str:
        return self.display_phone_number or self.phone_number_id


class MetaDataDeletionRequest(models.Model):
    """A data-deletion callback Meta sent for one Facebook user, and what we did.

    The user id itself is not kept: only its SHA-256, enough to show the
    status page and to recognise a repeat.
    """

    class Status(models.TextChoices):
        COMPLETED = "completed", _("Completed")

    confirmation_code = models.CharField(max_length=32, unique=True)
    user_hash = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices)
    profiles_deleted = models.PositiveIntegerField(default=0)
    requested_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        verbose_name = _("Meta data deletion request")

    def __str__(self) -> str:
        return self.confirmation_code
