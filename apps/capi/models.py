"""Outbound conversions: the event rows, where they go, each delivery attempt, the tenant's mapping.

Three records per delivery, as the house style asks: the thing to deliver
(:class:`ConversionEvent`, one row per conversion, unique on tenant, platform
and a deterministic event id, with its delivery state), where it goes
(:class:`ConversionDestination`, which also holds the destination's circuit
breaker, shared by every worker because it lives in the database), and each
HTTP request made for it (:class:`DeliveryAttempt`, one row per batch).
"""

from __future__ import annotations

import secrets

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.tenants.models import Tenant, TenantManager, TenantOwnedModel


class Platform(models.TextChoices):
    META = "meta", _("Meta")
    TIKTOK = "tiktok", _("TikTok")


class ConversionDestination(TenantOwnedModel):
    """A pixel / dataset (Meta) or a pixel (TikTok) that receives a tenant's conversions.

    ``external_id`` is what the API is called with: the Meta pixel or dataset
    id (``/{id}/events``), the TikTok pixel code (``event_source_id``). The
    breaker columns are written only through :mod:`apps.capi.breaker`.
    """

    class Kind(models.TextChoices):
        PIXEL = "pixel", _("Pixel")
        WABA_DATASET = "waba_dataset", _("WhatsApp Business dataset")

    class Breaker(models.TextChoices):
        CLOSED = "closed", _("Closed (sending)")
        OPEN = "open", _("Open (paused)")
        HALF_OPEN = "half_open", _("Half-open (probing)")

    platform = models.CharField(_("platform"), max_length=16, choices=Platform.choices)
    external_id = models.CharField(_("pixel / dataset id"), max_length=64)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.PIXEL)
    label = models.CharField(_("name"), max_length=255, blank=True)
    #: Business Messaging: the WABA whose id goes into ``user_data``
    waba_id = models.CharField(_("WhatsApp Business Account id"), max_length=64, blank=True)
    #: from the platform's Events Manager ("Test events"); used by the test-event button only
    test_event_code = models.CharField(_("test event code"), max_length=64, blank=True)
    last_test_at = models.DateTimeField(_("last test event"), null=True, blank=True)
    last_test_result = models.CharField(_("last test result"), max_length=500, blank=True)

    breaker_state = models.CharField(
        _("breaker"), max_length=16, choices=Breaker.choices, default=Breaker.CLOSED
    )
    consecutive_failures = models.PositiveIntegerField(_("consecutive failures"), default=0)
    cooldown_seconds = models.PositiveIntegerField(_("cool-down (s)"), default=0)
    opened_at = models.DateTimeField(_("opened at"), null=True, blank=True)
    #: open: no call before this; half-open: the probe's lease ends then
    retry_at = models.DateTimeField(_("retry at"), null=True, blank=True)
    last_success_at = models.DateTimeField(_("last success"), null=True, blank=True)
    last_failure_at = models.DateTimeField(_("last failure"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "platform", "external_id"], name="capi_destination_unique"
            )
        ]
        ordering = ["platform", "label", "external_id"]
        verbose_name = _("conversion destination")

    def __str__(self) -> str:
        label = self.label or self.external_id
        return f"{self.get_platform_display()} · {label}"


class ConversionEvent(TenantOwnedModel):
    """One conversion, stored before it is sent, then its delivery state and the answer.

    ``payload`` is the event object exactly as it goes inside the request's
    ``data`` array: customer information only as SHA-256 hashes, click ids
    and Meta ids as the platforms require them (unhashed). ``event_time`` is
    when the conversion happened; the platforms refuse old ones (Meta: 7 days).
    ``claim_token``/``claimed_until`` are the dispatcher's lease: a worker that
    dies mid-batch leaves its events pending, claimable again once it passes.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        SKIPPED_NO_CLICK_ID = "skipped_no_click_id", _("Skipped: no click id")
        SKIPPED_DUPLICATE = "skipped_duplicate", _("Skipped: duplicate")
        SKIPPED_NO_DESTINATION = "skipped_no_destination", _("Skipped: no destination")

    platform = models.CharField(_("platform"), max_length=16, choices=Platform.choices)
    destination = models.ForeignKey(
        ConversionDestination,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="events",
        verbose_name=_("destination"),
    )
    event_name = models.CharField(_("event"), max_length=64)
    event_id = models.CharField(_("event id"), max_length=128)
    ticket = models.ForeignKey(
        "leads.Ticket",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("ticket"),
    )
    value = models.DecimalField(_("value"), max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    click_id = models.CharField(_("click id"), max_length=512, blank=True)
    event_time = models.DateTimeField(_("event time"))
    status = models.CharField(
        _("status"), max_length=32, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    payload = models.JSONField(_("payload as sent"), default=dict, blank=True)
    events_received = models.PositiveIntegerField(_("events received"), null=True, blank=True)
    trace_id = models.CharField(_("trace / request id"), max_length=128, blank=True)
    error_code = models.CharField(_("error code"), max_length=64, blank=True)
    error_message = models.TextField(_("error message"), blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "platform", "event_id"], name="capi_event_once"
            )
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="capi_event_due"),
            models.Index(fields=["tenant", "-created_at"], name="capi_event_log"),
            models.Index(fields=["tenant", "status", "updated_at"], name="capi_event_health"),
            models.Index(
                fields=["tenant", "platform", "event_name", "click_id"],
                condition=~Q(click_id=""),
                name="capi_event_click",
            ),
        ]
        ordering = ["-created_at", "-pk"]
        verbose_name = _("conversion event")

    def __str__(self) -> str:
        return f"{self.get_platform_display()} {self.event_name} {self.event_id}"


class DeliveryAttempt(TenantOwnedModel):
    """One HTTP request to a destination: how many events, how long, what came back."""

    class Outcome(models.TextChoices):
        SENT = "sent", _("Sent")
        REJECTED = "rejected", _("Rejected (permanent)")
        TRANSIENT = "transient", _("Failed (will retry)")

    destination = models.ForeignKey(
        ConversionDestination, on_delete=models.CASCADE, related_name="attempts"
    )
    started_at = models.DateTimeField(_("started at"))
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    events = models.PositiveIntegerField(_("events"), default=0)
    probe = models.BooleanField(_("breaker probe"), default=False)
    test = models.BooleanField(_("test event"), default=False)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    status_code = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    provider_code = models.CharField(_("provider code"), max_length=64, blank=True)
    trace_id = models.CharField(_("trace / request id"), max_length=128, blank=True)
    events_received = models.PositiveIntegerField(_("events received"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    next_retry_at = models.DateTimeField(_("next retry"), null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["destination", "-started_at"], name="capi_attempt_recent")]
        ordering = ["-started_at", "-pk"]
        verbose_name = _("delivery attempt")

    def __str__(self) -> str:
        return f"{self.destination_id} {self.outcome} ({self.events})"


class ConversionMapping(models.Model):
    """A tenant's choice of event per stage and platform (defaults until an admin saves).

    Meta events go through the Conversions API for Business Messaging, which
    accepts only the names in :data:`apps.capi.platforms.META_MESSAGING_EVENTS`;
    TikTok lists current and legacy names (contract tiktok-ads.md §0.8).
    An empty choice sends nothing for that stage.
    """

    class MetaTarget(models.TextChoices):
        WABA_DATASET = "waba_dataset", _("The WhatsApp Business Account's dataset (recommended)")
        AD_ACCOUNT_PIXEL = "ad_account_pixel", _("The pixel chosen on the attributed ad account")

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="+")
    meta_qualified = models.CharField(
        _("Meta: qualified"), max_length=64, blank=True, default="LeadSubmitted"
    )
    meta_won = models.CharField(_("Meta: won"), max_length=64, blank=True, default="Purchase")
    meta_target = models.CharField(
        _("Meta: send to"),
        max_length=32,
        choices=MetaTarget.choices,
        default=MetaTarget.WABA_DATASET,
    )
    tiktok_qualified = models.CharField(
        _("TikTok: qualified"), max_length=64, blank=True, default="Lead"
    )
    tiktok_won = models.CharField(_("TikTok: won"), max_length=64, blank=True, default="Purchase")
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantManager()

    class Meta:
        verbose_name = _("conversion mapping")

    def __str__(self) -> str:
        return f"{self.tenant}: conversions mapping"

    def event_for(self, *, platform: str, stage: str) -> str:
        """The event name for a ticket reaching ``stage``; "" sends nothing."""
        return getattr(self, f"{platform}_{stage}", "") or ""


def new_route_token() -> str:
    """32 random bytes, URL-safe: the unguessable part of a tenant's lead webhook URL."""
    return secrets.token_urlsafe(32)


class LeadFormEndpoint(TenantOwnedModel):
    """The tenant's own URL for TikTok lead-form webhooks: ``/webhooks/tiktok-ads/<token>/``.

    The token routes a delivery to its tenant (the lead webhook carries no
    verifiable tenant and its signature scheme is unconfirmed, contract
    tiktok-ads.md §2.5). Rotating it makes the old URL answer 401.
    """

    token = models.CharField(max_length=64, unique=True, default=new_route_token)
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="capi_one_lead_endpoint_per_tenant")
        ]
        verbose_name = _("TikTok lead webhook URL")

    def __str__(self) -> str:
        return f"{self.tenant}: lead webhook"
