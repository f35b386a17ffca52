"""The inbox: every accepted webhook event, stored once, processed by the worker."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.tenants.models import TenantQuerySet


class WebhookEvent(models.Model):
    """One event of one verified delivery.

    Unique on (source, event_id): a redelivery of the same event is a no-op.
    ``tenant`` is filled by the handler once it has routed the event through
    ``account_ref``; until then (and for ``unroutable`` events) it is empty.
    ``claimed_until`` is the drain lease: a worker that dies mid-batch leaves
    its events to be claimed again once the lease passes.
    """

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        PROCESSING = "processing", _("Processing")
        PROCESSED = "processed", _("Processed")
        FAILED = "failed", _("Failed")
        UNROUTABLE = "unroutable", _("Unknown account")
        IGNORED = "ignored", _("No handler")

    source = models.CharField(_("source"), max_length=32)
    event_id = models.CharField(_("event id"), max_length=255)
    event_type = models.CharField(_("event type"), max_length=100)
    account_ref = models.CharField(_("account"), max_length=255, blank=True, db_index=True)
    tenant = models.ForeignKey(
        "tenants.Tenant", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    payload = models.JSONField(_("payload"))
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.RECEIVED
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    occurred_at = models.DateTimeField(_("occurred at"), null=True, blank=True)
    #: the delivery request's correlation id, restored while the event is handled
    correlation_id = models.CharField(_("correlation id"), max_length=64, blank=True)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "event_id"], name="webhook_event_once")
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_drain_idx")]
        ordering = ["-received_at", "-id"]
        verbose_name = _("webhook event")

    def __str__(self) -> str:
        return f"{self.source} {self.event_type} {self.event_id}"

    @property
    def source_label(self) -> str:
        """The registered source's (translated) label; the key when it is not registered."""
        from .registry import webhooks

        source = webhooks.source(self.source)
        return str(source.label) if source else self.source
