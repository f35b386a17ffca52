"""Conversation tickets, their contacts and messages, and the ad that brought them (last touch).

One contact has at most one *open* ticket per channel (a partial unique
constraint, so two workers handling two messages of one contact at once
cannot open two). A ticket's :class:`TicketTracking` is the source of truth
for its attribution: the latest ad touch of the open ticket, with the names
enrichment fetched for that ad. :class:`AttributionChange` and
:class:`StageChange` are append-only histories.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.tenants.models import Tenant, TenantManager, TenantOwnedModel

#: Tickets whose last message is older than this many days are closed as expired
#: (unless the tenant chose otherwise on the Leads page).
DEFAULT_EXPIRATION_DAYS = 7
MAX_EXPIRATION_DAYS = 365
DEFAULT_CURRENCY = "BRL"


class Channel(models.TextChoices):
    """Where a conversation happens.

    TikTok Shop's value is ``tiktok_shop`` (issue #6); it was ``tiktok_shop_chat``
    before anything wrote tickets on it (migration 0002 renames stored rows).
    ``Channel.TIKTOK_SHOP_CHAT`` stays as an alias of the same member for older code.
    """

    WHATSAPP = "whatsapp", _("WhatsApp")
    TIKTOK_SHOP = "tiktok_shop", _("TikTok Shop")
    TIKTOK_LEAD_FORM = "tiktok_lead_form", _("TikTok lead form")


Channel.TIKTOK_SHOP_CHAT = Channel.TIKTOK_SHOP  # the old name (capi's tests use it)


#: Channels whose tickets follow the provider's conversations (one ticket per
#: conversation id) rather than the contact (one open ticket per contact).
CONVERSATION_CHANNELS = frozenset({"tiktok_shop"})


class LeadSettings(models.Model):
    """A tenant's choices for its tickets (a row only once an admin saved them)."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="+")
    ticket_expiration_days = models.PositiveSmallIntegerField(
        _("ticket expiration (days)"),
        default=DEFAULT_EXPIRATION_DAYS,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_EXPIRATION_DAYS)],
        help_text=_(
            "An open ticket whose last message is older than this is closed as expired; "
            "the contact's next message opens a new ticket."
        ),
    )
    default_currency = models.CharField(
        _("default deal currency"), max_length=3, default=DEFAULT_CURRENCY
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = TenantManager()

    class Meta:
        verbose_name = _("lead settings")
        verbose_name_plural = _("lead settings")

    def __str__(self) -> str:
        return f"{self.tenant}: {self.ticket_expiration_days} days"


class Contact(TenantOwnedModel):
    """Someone who wrote to the tenant. Matched on ``wa_id`` or on the business-scoped ``user_id``.

    Either may be blank (newer WhatsApp payloads may carry only the BSUID);
    each is unique per tenant when filled.
    """

    wa_id = models.CharField(_("WhatsApp id"), max_length=32, blank=True)
    user_id = models.CharField(_("business-scoped user id"), max_length=256, blank=True)
    name = models.CharField(_("name"), max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "wa_id"], condition=~Q(wa_id=""), name="leads_contact_wa_id"
            ),
            models.UniqueConstraint(
                fields=["tenant", "user_id"],
                condition=~Q(user_id=""),
                name="leads_contact_user_id",
            ),
            models.CheckConstraint(
                condition=~Q(wa_id="", user_id=""), name="leads_contact_has_an_id"
            ),
        ]
        verbose_name = _("contact")

    def __str__(self) -> str:
        return self.name or self.wa_id or self.user_id


class Ticket(TenantOwnedModel):
    """One conversation with a contact on one channel, and where it stands as a deal."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")
        EXPIRED = "expired", _("Expired")

    class Stage(models.TextChoices):
        NEW = "new", _("New")
        QUALIFIED = "qualified", _("Qualified")
        WON = "won", _("Won")
        LOST = "lost", _("Lost")

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="tickets")
    channel = models.CharField(_("channel"), max_length=32, choices=Channel.choices)
    #: the business account the conversation reached (WhatsApp phone number id, shop id, ...)
    account_ref = models.CharField(_("business account"), max_length=255, blank=True)
    #: the provider's conversation id, on channels whose tickets are conversations (TikTok
    #: Shop); NULL elsewhere, so the unique key (tenant, channel, conversation) leaves them be
    conversation_id = models.CharField(  # noqa: DJ001 - NULL, not "", so WhatsApp rows never collide
        _("conversation id"), max_length=64, null=True, blank=True, default=None
    )
    #: a sync read the conversation's messages in full up to this time (webhooks do not move
    #: it), so the next sync fetches only conversations with newer activity
    messages_synced_until = models.DateTimeField(_("messages synced until"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.OPEN
    )
    stage = models.CharField(_("stage"), max_length=16, choices=Stage.choices, default=Stage.NEW)
    deal_value = models.DecimalField(
        _("deal value"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    last_message_at = models.DateTimeField(_("last message at"))
    opened_at = models.DateTimeField(_("opened at"))
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "channel"],
                condition=Q(status="open", conversation_id__isnull=True),
                name="leads_one_open_ticket_per_contact_channel",
            ),
            # Not partial, so bulk upserts can name it in ON CONFLICT; NULLs never collide.
            models.UniqueConstraint(
                fields=["tenant", "channel", "conversation_id"],
                name="leads_one_ticket_per_conversation",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "stage", "-last_message_at"], name="leads_ticket_stage"),
            models.Index(fields=["status", "last_message_at"], name="leads_ticket_expiry"),
        ]
        ordering = ["-last_message_at", "-pk"]
        verbose_name = _("ticket")

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_channel_display()}"


class Message(TenantOwnedModel):
    """One message of a ticket; the provider's id is unique per tenant and channel."""

    class Direction(models.TextChoices):
        IN = "in", _("From the contact")
        OUT = "out", _("To the contact")

    class Delivery(models.TextChoices):
        RECEIVED = "received", _("Received")
        #: a reply typed in the hub, queued for the channel
        PENDING = "pending", _("Queued")
        #: a worker is handing it to the channel
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        READ = "read", _("Read")
        FAILED = "failed", _("Failed")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    channel = models.CharField(_("channel"), max_length=32, choices=Channel.choices)
    direction = models.CharField(_("direction"), max_length=3, choices=Direction.choices)
    provider_message_id = models.CharField(_("provider message id"), max_length=255)
    text = models.TextField(_("text"), blank=True)
    sent_at = models.DateTimeField(_("sent at"))
    delivery_state = models.CharField(
        _("delivery state"), max_length=16, choices=Delivery.choices, blank=True
    )
    delivery_updated_at = models.DateTimeField(null=True, blank=True)
    #: why the channel refused or failed a reply (redacted), shown in the thread
    delivery_error = models.TextField(_("delivery error"), blank=True)
    #: the member who wrote a reply from the hub
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("sent by"),
    )
    #: the ad referral this message carried, as received (every touch is kept here)
    referral = models.JSONField(_("referral"), default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "channel", "provider_message_id"],
                name="leads_message_once",
            )
        ]
        indexes = [models.Index(fields=["ticket", "sent_at"], name="leads_message_ticket")]
        ordering = ["sent_at", "pk"]
        verbose_name = _("message")

    def __str__(self) -> str:
        return f"{self.direction} {self.provider_message_id}"


class TicketTracking(TenantOwnedModel):
    """The ad that brought the ticket (its latest touch) and what enrichment learnt about it."""

    class Enrichment(models.TextChoices):
        PENDING = "pending", _("Pending")
        COMPLETED = "completed", _("Completed")
        FAILED = "failed", _("Failed")

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="tracking")
    platform = models.CharField(_("ad platform"), max_length=32)
    ad_id = models.CharField(_("ad id"), max_length=64)
    source_type = models.CharField(_("source type"), max_length=32, blank=True)
    media_type = models.CharField(_("media type"), max_length=32, blank=True)
    headline = models.CharField(_("headline"), max_length=512, blank=True)
    body = models.TextField(_("ad text"), blank=True)
    source_url = models.CharField(_("source URL"), max_length=2048, blank=True)
    ctwa_clid = models.CharField(_("click id (ctwa_clid)"), max_length=512, blank=True)
    ttclid = models.CharField(_("click id (ttclid)"), max_length=512, blank=True)
    attributed_at = models.DateTimeField(_("attributed at"))
    campaign_id = models.CharField(_("campaign id"), max_length=64, blank=True)
    campaign_name = models.CharField(_("campaign"), max_length=512, blank=True)
    adset_id = models.CharField(_("ad set id"), max_length=64, blank=True)
    adset_name = models.CharField(_("ad set"), max_length=512, blank=True)
    ad_name = models.CharField(_("ad"), max_length=512, blank=True)
    account_id = models.CharField(_("ad account id"), max_length=64, blank=True)
    account_name = models.CharField(_("ad account"), max_length=512, blank=True)
    enrichment_status = models.CharField(
        _("enrichment"),
        max_length=16,
        choices=Enrichment.choices,
        default=Enrichment.PENDING,
    )
    enrichment_error = models.TextField(_("enrichment error"), blank=True)
    enrichment_attempts = models.PositiveSmallIntegerField(_("enrichment attempts"), default=0)
    #: when the sweep may queue enrichment again (a retry, or a task the queue lost)
    enrichment_next_attempt_at = models.DateTimeField(
        _("next enrichment attempt"), null=True, blank=True
    )
    #: the ad id the stored names belong to
    enriched_ad_id = models.CharField(max_length=64, blank=True)
    enriched_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["enrichment_status", "enrichment_next_attempt_at"],
                name="leads_enrichment_due",
            ),
            models.Index(fields=["tenant", "campaign_id"], name="leads_tracking_campaign"),
        ]
        verbose_name = _("ticket tracking")
        verbose_name_plural = _("ticket tracking")

    def __str__(self) -> str:
        return f"{self.platform} ad {self.ad_id}"

    @property
    def has_click_id(self) -> bool:
        return bool(self.ctwa_clid or self.ttclid)


class AttributionChange(TenantOwnedModel):
    """The ticket's attribution moved to another ad (``from_ad_id`` is blank for the first touch)."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attribution_changes")
    platform = models.CharField(max_length=32)
    from_ad_id = models.CharField(_("from ad"), max_length=64, blank=True)
    to_ad_id = models.CharField(_("to ad"), max_length=64)
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(_("at"))

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = _("attribution change")

    def __str__(self) -> str:
        return f"{self.from_ad_id or '-'} -> {self.to_ad_id}"


class StageChange(TenantOwnedModel):
    """A person moved a ticket to another stage; other apps (conversions) act on these."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.CharField(_("from"), max_length=16, choices=Ticket.Stage.choices)
    to_stage = models.CharField(_("to"), max_length=16, choices=Ticket.Stage.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("by"),
    )
    value = models.DecimalField(_("value"), max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["tenant", "to_stage", "at"], name="leads_stage_change")]
        verbose_name = _("stage change")

    def __str__(self) -> str:
        return f"{self.from_stage} -> {self.to_stage}"
