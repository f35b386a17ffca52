"""What a product app implements so the core can connect, refresh, test and disconnect it.

The core owns the flow (state, leases, statuses, saving tokens in one write);
an adapter owns the provider's quirks: URLs, token formats and lifetimes,
callback parameters. Adapters call the provider only through their product's
``client.py``.
"""

from __future__ import annotations

import base64
import hashlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from .models import Connection


@dataclass
class TokenGrant:
    """Tokens and identity from a code exchange or a refresh, already parsed.

    Lifetimes are read from each answer by the adapter (seconds for Login Kit
    and Meta, absolute timestamps for TikTok Shop, none for TikTok Ads) and
    given here as absolute datetimes, or None for "does not expire".
    """

    access_token: str
    refresh_token: str | None = None
    access_expires_at: datetime | None = None
    refresh_expires_at: datetime | None = None
    granted_scopes: list[str] = field(default_factory=list)
    external_user_id: str = ""
    display_name: str = ""
    assets: dict | None = None  # None keeps what the connection has

    def __repr__(self) -> str:
        return (
            f"TokenGrant(external_user_id={self.external_user_id!r}, "
            f"access_expires_at={self.access_expires_at!r}, scopes={self.granted_scopes!r})"
        )


class AuthorizationDenied(Exception):
    """The user (or the provider) declined on the consent screen."""


class RefreshNotSupported(Exception):
    """The product's tokens do not expire and have no refresh token (TikTok Ads)."""


class ProviderAdapter(ABC):
    provider_key: str = ""
    #: send a PKCE challenge (and keep the verifier, encrypted, on the state)
    uses_pkce: bool = False
    #: whether the product's tokens can be refreshed at all
    refreshable: bool = True

    @abstractmethod
    def authorization_url(
        self,
        *,
        state: str,
        scopes: list[str],
        redirect_uri: str,
        code_challenge: str | None,
        rerequest: bool,
    ) -> str:
        """The provider URL the browser is sent to."""

    def pkce_challenge(self, verifier: str) -> str:
        """RFC 7636 S256; a provider with its own encoding (Login Kit: hex) overrides this."""
        digest = hashlib.sha256(verifier.encode()).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    @abstractmethod
    def exchange_code(
        self, *, params: Mapping[str, str], redirect_uri: str, code_verifier: str | None
    ) -> TokenGrant:
        """Turn the callback's parameters into tokens. Raises AuthorizationDenied."""

    def refresh(self, *, connection: Connection) -> TokenGrant:
        raise RefreshNotSupported(f"{self.provider_key} tokens cannot be refreshed")

    def revoke(self, *, connection: Connection) -> None:
        """Revoke at the provider where it supports it; the default does nothing."""
        return None

    @abstractmethod
    def test(self, *, connection: Connection) -> str:
        """Make one cheap authenticated call; return a short human summary."""

    def discover_assets(self, *, connection: Connection) -> dict | None:
        """Optionally list what the token reaches (advertisers, shops, ...)."""
        return None
