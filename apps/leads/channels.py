"""What channel apps tell leads about their channel: how to reply, and why the inbox is empty.

A channel app registers, in its ``AppConfig.ready()``::

    channels.register_replier("tiktok_shop", "apps.tiktok_shop.customer_service.reply_send")
    channels.register_notice("tiktok_shop", "apps.tiktok_shop.customer_service.inbox_notice")

- ``reply_send(*, ticket, text) -> str | Sent`` hands a reply to the provider and
  returns the provider's message id, or :class:`Sent` when it also saw the
  message in the conversation (delivered). It raises :class:`ReplyRefused` with a
  sentence for the tenant when the provider (or the connection) refuses it;
  any other exception is recorded as the reply's failure too, redacted.
- ``inbox_notice(*, tenant) -> InboxNotice | None`` says why the channel's
  conversations are missing from the inbox (for example a sensitive scope
  pack that was not confirmed), with a link to where to fix it. One query at
  most: the inbox asks every registered channel on each render.

A channel without a replier offers no reply form (WhatsApp replies are not
sent from the hub today). Leads never imports a channel app.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from apps.tenants.models import Tenant


class ReplyRefused(Exception):
    """The channel refused the reply; the message is shown to the tenant."""


@dataclass(frozen=True)
class Sent:
    """A replier's answer: the provider's id, and whether the conversation already shows it."""

    provider_message_id: str
    delivered: bool = False


@dataclass(frozen=True)
class InboxNotice:
    channel: str
    message: str
    link_url: str = ""
    link_label: str = ""


class ChannelRegistry:
    def __init__(self) -> None:
        self._repliers: dict[str, str] = {}
        self._notices: dict[str, str] = {}

    def register_replier(self, channel: str, func_path: str) -> None:
        self._repliers[channel] = func_path

    def register_notice(self, channel: str, func_path: str) -> None:
        self._notices[channel] = func_path

    def can_reply(self, channel: str) -> bool:
        return channel in self._repliers

    def replier(self, channel: str) -> Callable[..., str | Sent] | None:
        path = self._repliers.get(channel)
        return import_string(path) if path else None

    def notices(self, *, tenant: Tenant, channel: str = "") -> list[InboxNotice]:
        """Every registered channel's notice (only ``channel``'s when the inbox is filtered)."""
        found = []
        for name, path in self._notices.items():
            if channel and name != channel:
                continue
            notice: Any = import_string(path)(tenant=tenant)
            if notice is not None:
                found.append(notice)
        return found


channels = ChannelRegistry()
