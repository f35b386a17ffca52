"""The tables every provider app builds on.

``Connection`` is abstract: each product app has its own connection table
(one product = one developer app = one connection type). ``OAuthState``,
``SyncRun`` and ``ApiCallLog`` are shared, keyed by the product's registry key.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.tenants.models import TenantOwnedModel, TenantQuerySet

from .fields import EncryptedTextField


class ConnectionStatus(models.TextChoices):
    CONNECTED = "connected", _("Connected")
    EXPIRING = "expiring", _("Expiring")
    EXPIRED = "expired", _("Expired")
    ERROR = "error", _("Error")
    DISCONNECTED = "disconnected", _("Disconnected")


class ConnectionQuerySet(TenantQuerySet):
    def live(self) -> ConnectionQuerySet:
        """Connections that still hold credentials (not disconnected)."""
        return self.exclude(status=ConnectionStatus.DISCONNECTED)


class Connection(TenantOwnedModel):
    """One tenant's authorization of one product (abstract).

    Tokens are :class:`~apps.integrations.fields.Secret` values, encrypted at
    rest. ``scope_packs`` are the packs the tenant asked for; ``granted_scopes``
    the provider scopes the provider says it granted. The refresh lease
    (``refresh_lease_*``) serialises token refreshes across workers.
    """

    #: the registry key of the product, set by each concrete model
    provider_key: str = ""

    status = models.CharField(
        _("status"),
        max_length=16,
        choices=ConnectionStatus.choices,
        default=ConnectionStatus.CONNECTED,
    )
    access_token = EncryptedTextField(_("access token"), null=True, blank=True)
    refresh_token = EncryptedTextField(_("refresh token"), null=True, blank=True)
    access_expires_at = models.DateTimeField(_("access token expires"), null=True, blank=True)
    refresh_expires_at = models.DateTimeField(_("refresh token expires"), null=True, blank=True)
    scope_packs = models.JSONField(_("scope packs"), default=list, blank=True)
    granted_scopes = models.JSONField(_("granted scopes"), default=list, blank=True)
    external_user_id = models.CharField(_("external user id"), max_length=255, blank=True)
    display_name = models.CharField(_("display name"), max_length=255, blank=True)
    assets = models.JSONField(_("assets"), default=dict, blank=True)
    connected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    connected_at = models.DateTimeField(_("connected at"), null=True, blank=True)
    disconnected_at = models.DateTimeField(_("disconnected at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    last_sync_at = models.DateTimeField(_("last sync"), null=True, blank=True)
    last_refreshed_at = models.DateTimeField(_("last refresh"), null=True, blank=True)
    refresh_lease_token = models.CharField(max_length=32, blank=True)
    refresh_lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ConnectionQuerySet.as_manager()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        who = self.display_name or self.external_user_id or f"#{self.pk}"
        return f"{self.provider_key} {who}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} pk={self.pk} tenant={self.tenant_id} status={self.status}>"

    @property
    def is_live(self) -> bool:
        return self.status != ConnectionStatus.DISCONNECTED


class OAuthState(models.Model):
    """One authorization attempt: random, hashed, single use, expiring.

    Only the SHA-256 of the state travels to the database; the plaintext goes
    to the provider and comes back on the callback.
    """

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    product = models.CharField(max_length=32)
    state_hash = models.CharField(max_length=64, unique=True)
    scope_packs = models.JSONField(default=list)
    pkce_verifier = EncryptedTextField(null=True, blank=True)
    redirect_uri = models.CharField(max_length=500)
    extra = models.JSONField(default=dict, blank=True)
    expires_at = models.DateTimeField()
    consumed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="oauthstate_expires_idx")]
        verbose_name = _("OAuth state")

    def __str__(self) -> str:
        return f"{self.product} state for tenant {self.tenant_id}"


class SyncRunQuerySet(TenantQuerySet):
    def for_connection(self, connection: Connection) -> SyncRunQuerySet:
        return self.filter(product=connection.provider_key, connection_id=connection.pk)


class SyncRun(TenantOwnedModel):
    """One run of one sync kind for one connection.

    At most one queued or running run per (product, connection, kind), enforced
    by a partial unique constraint. ``checkpoint`` is saved after each page so a
    killed worker's run is resumed, not repeated.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        INTERRUPTED = "interrupted", _("Interrupted")

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", _("Schedule")
        MANUAL = "manual", _("Manual")
        WEBHOOK = "webhook", _("Webhook")
        BACKFILL = "backfill", _("Backfill")

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    product = models.CharField(max_length=32)
    connection_id = models.BigIntegerField()
    kind = models.CharField(max_length=64)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    checkpoint = models.JSONField(default=dict, blank=True)
    stats = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = SyncRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "connection_id", "kind"],
                condition=Q(status__in=["queued", "running"]),
                name="syncrun_one_active_per_kind",
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="syncrun_tenant_recent_idx"),
            models.Index(
                fields=["product", "connection_id", "kind", "-created_at"],
                name="syncrun_conn_kind_idx",
            ),
            # The hub card's "latest run of this connection", whatever its kind.
            models.Index(
                fields=["product", "connection_id", "-created_at", "-id"],
                name="syncrun_conn_latest_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product}/{self.kind} #{self.pk} ({self.status})"

    @property
    def kind_label(self) -> str:
        """The sync kind's (translated) label; its key when the kind is no longer registered."""
        from .sync import sync_kinds

        key = (self.product, self.kind)
        return str(sync_kinds.get(*key).label) if key in sync_kinds else self.kind

    @property
    def product_label(self) -> str:
        """The provider's (translated) label; its key when the provider is not installed."""
        from .registry import providers

        return str(providers.get(self.product).label) if self.product in providers else self.product

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class ApiCallLog(models.Model):
    """One outbound call to a provider, redacted: no token, secret, signature or PII."""

    tenant = models.ForeignKey(
        "tenants.Tenant", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    product = models.CharField(max_length=32)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=500)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    provider_code = models.CharField(max_length=64, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    attempt = models.PositiveSmallIntegerField(default=1)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["product", "-created_at"], name="apicall_product_recent_idx"),
            models.Index(fields=["tenant", "-created_at"], name="apicall_tenant_recent_idx"),
        ]
        verbose_name = _("API call")

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status_code}"


class AuditEntry(TenantOwnedModel):
    """Who changed what at a provider from the hub, with the values before and after."""

    class Outcome(models.TextChoices):
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    product = models.CharField(max_length=32)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=32)
    object_id = models.CharField(max_length=64)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="audit_tenant_recent_idx")]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")

    def __str__(self) -> str:
        return f"{self.product} {self.action} {self.object_type} {self.object_id} ({self.outcome})"
