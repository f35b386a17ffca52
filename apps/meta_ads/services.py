"""Meta: Facebook profiles, the ad accounts they reach, ad details, WhatsApp numbers.

**Profiles.** A tenant may connect several profiles; the core keys them on
the Facebook user id (``external_user_id``). Long-lived user tokens (~60
days) cannot be refreshed without the user (contract §1.5): the core turns
the card to ``expiring`` ahead of ``access_expires_at`` and the user logs in
again. Login for Business system-user tokens do not expire at all. Whenever
Meta refuses a profile's token (code 190) on any call, the profile is marked
``expired`` at once (:func:`profile_mark_expired`).

**Failover.** An ad account belongs to the tenant and may be reached by
several profiles. Every call for an account goes through
:func:`account_call`, which uses a working profile that reaches it and, when
that profile's token is dead, marks it expired and tries the next one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.integrations.adapters import AuthorizationDenied, ProviderAdapter, TokenGrant
from apps.integrations.fields import Secret
from apps.integrations.http import PermissionDenied, ProviderError, TokenExpired
from apps.integrations.models import AuditEntry, Connection, ConnectionStatus, SyncRun
from apps.integrations.redaction import redact_text
from apps.leads.enrichment import AdDetails, EnrichmentUnavailable
from apps.tenants.models import Tenant

from .client import MetaClient
from .models import (
    MetaAdAccount,
    MetaAdAccountAccess,
    MetaAdInsight,
    MetaDataDeletionRequest,
    MetaProfile,
    WhatsAppNumber,
)

logger = logging.getLogger(__name__)

GRANTED = "granted"


def _plain(value: Secret | str | None) -> str | None:
    """The plaintext of a token field (a :class:`Secret`; a bare str is taken as is)."""
    if isinstance(value, Secret):
        return value.reveal() or None
    return value or None


def _client_for(connection: Connection) -> MetaClient:
    """A client with the profile's token. No refresher: Meta tokens cannot be refreshed."""
    return MetaClient(tenant=connection.tenant, access_token=_plain(connection.access_token))


def _expires_in(answer: Mapping[str, Any]) -> int | None:
    value = answer.get("expires_in")
    if value in (None, ""):
        return None
    return int(value)


def _from_unix(value: Any) -> datetime | None:
    """debug_token's ``expires_at``: a Unix time, 0 meaning "never"."""
    try:
        seconds = int(value or 0)
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(seconds, tz=UTC) if seconds > 0 else None


class MetaAdapter(ProviderAdapter):
    """Facebook Login (classic scopes, or Login for Business with a configuration id)."""

    provider_key = "meta_ads"
    uses_pkce = False
    #: long-lived user tokens are renewed by logging in again, not by a refresh call
    refreshable = False

    def authorization_url(
        self,
        *,
        state: str,
        scopes: list[str],
        redirect_uri: str,
        code_challenge: str | None,
        rerequest: bool,
    ) -> str:
        """The login dialog (contract §1.2).

        With ``META_LOGIN_CONFIG_ID`` set, the Login for Business configuration
        decides the permissions and ``config_id`` replaces ``scope``.
        ``rerequest`` asks again for permissions the user declined before;
        without it the dialog silently skips them.
        """
        params = {
            "client_id": settings.META_APP_ID,
            "redirect_uri": redirect_uri,
            "state": state,
            "response_type": "code",
        }
        if settings.META_LOGIN_CONFIG_ID:
            params["config_id"] = settings.META_LOGIN_CONFIG_ID
        else:
            params["scope"] = ",".join(scopes)
        if rerequest:
            params["auth_type"] = "rerequest"
        params["return_scopes"] = "true"
        return f"{settings.META_DIALOG_URL}?{urlencode(params, safe=',')}"

    def exchange_code(
        self, *, params: Mapping[str, str], redirect_uri: str, code_verifier: str | None
    ) -> TokenGrant:
        """Code -> short-lived -> long-lived token, then who it is and what it may do.

        A code-exchange answer without ``expires_in`` is a token that does not
        expire (Login for Business system user): it needs no long-lived
        exchange. A long-lived answer without ``expires_in`` (it happens,
        contract §1.4) is settled with ``/debug_token``.
        """
        if params.get("error"):
            raise AuthorizationDenied(
                params.get("error_description") or params.get("error_reason") or params["error"]
            )
        code = params.get("code")
        if not code:
            raise AuthorizationDenied(_("Facebook sent no authorization code."))
        app = MetaClient()
        short = app.exchange_code(code=code, redirect_uri=redirect_uri)
        answer = short
        if _expires_in(short) is not None:
            answer = app.exchange_long_lived(short_lived_token=str(short["access_token"]))
        token = str(answer["access_token"])
        expires_in = _expires_in(answer)
        if expires_in is not None:
            expires_at = timezone.now() + timedelta(seconds=expires_in)
        elif answer is short:
            expires_at = None
        else:
            expires_at = self._expiry_from_debug(app, token)

        user = MetaClient(access_token=token)
        me = user.me()
        permissions = user.permissions()
        granted = [p["permission"] for p in permissions if p.get("status") == GRANTED]
        # "declined" by the user, or "expired": either way the dialog must ask again.
        declined = [p["permission"] for p in permissions if p.get("status") != GRANTED]
        return TokenGrant(
            access_token=token,
            refresh_token=None,
            access_expires_at=expires_at,
            granted_scopes=granted,
            external_user_id=str(me["id"]),
            display_name=str(me.get("name") or ""),
            assets={"declined": declined},
        )

    def _expiry_from_debug(self, app: MetaClient, token: str) -> datetime | None:
        try:
            return _from_unix(app.debug_token(input_token=token).get("expires_at"))
        except ProviderError as exc:
            logger.warning(
                "meta debug_token failed after code exchange code=%s request_id=%s",
                exc.code,
                exc.request_id,
            )
            return None

    def revoke(self, *, connection: Connection) -> None:
        """``DELETE /me/permissions``: removes the app from the profile and kills the token."""
        _client_for(connection).revoke_permissions()

    def test(self, *, connection: Connection) -> str:
        """Inspect the token with ``/debug_token`` (Meta asks apps to check daily).

        A token that is invalid, or minted for another app, raises
        :class:`TokenExpired`: the profile needs a reconnect.
        """
        token = _plain(connection.access_token)
        if not token:
            raise TokenExpired(_("There is no Facebook token: reconnect the profile."), code="190")
        data = MetaClient(tenant=connection.tenant).debug_token(input_token=token)
        if not data.get("is_valid"):
            error = data.get("error") or {}
            code = str(error.get("code") or "190")
            if error.get("subcode"):
                code = f"{code}/{error['subcode']}"
            raise TokenExpired(
                str(error.get("message") or _("The Facebook token is no longer valid.")),
                code=code,
            )
        if str(data.get("app_id") or "") != str(settings.META_APP_ID):
            raise TokenExpired(_("The Facebook token was issued to another app."), code="app_id")
        expires_at = _from_unix(data.get("expires_at"))
        if expires_at is None:
            return _("token valid, does not expire")
        return _("token valid until %(date)s") % {"date": expires_at.date().isoformat()}

    def discover_assets(self, *, connection: Connection) -> dict | None:
        """List the ad accounts the new token reaches, at once (the ``ad_accounts`` sync, inline).

        The hub shows the accounts right after the login, without waiting for
        a worker. A failure is recorded on the sync run, never fatal to connect.
        """
        from apps.integrations.sync import sync_run_for_connection_now

        run = sync_run_for_connection_now(
            connection=connection, kind="ad_accounts", trigger=SyncRun.Trigger.MANUAL
        )
        if run.status != SyncRun.Status.SUCCEEDED:
            logger.warning(
                "meta ad accounts discovery failed profile=%s run=%s", connection.pk, run.pk
            )
            return None
        return {"ad_accounts_found": int(run.stats.get("fetched", 0))}


# --- profiles and failover -------------------------------------------------------------

#: Profiles whose token is believed to work: tried for calls, in this order of preference.
WORKING_STATUSES = (ConnectionStatus.CONNECTED, ConnectionStatus.EXPIRING)
LAST_ERROR_MAX = 500

T = TypeVar("T")


class NoWorkingProfile(ProviderError):
    """No connected profile of the tenant can make this call (none reaches, all expired).

    Permanent until someone connects or reconnects a profile: never retried.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=False)


def profile_client(profile: MetaProfile) -> MetaClient:
    """A client with the profile's token. No refresher: Meta tokens cannot be refreshed."""
    return _client_for(profile)


def profile_mark_expired(*, profile: MetaProfile, error: ProviderError) -> None:
    """Meta refused the profile's token (code 190): the card asks for a reconnect.

    One conditional UPDATE, so a profile disconnected meanwhile stays disconnected.
    """
    message = redact_text(str(error))[:LAST_ERROR_MAX]
    MetaProfile.objects.filter(pk=profile.pk, status__in=WORKING_STATUSES).update(
        status=ConnectionStatus.EXPIRED, last_error=message, updated_at=timezone.now()
    )
    profile.status = ConnectionStatus.EXPIRED
    profile.last_error = message
    logger.warning(
        "meta profile token refused profile=%s tenant=%s code=%s request_id=%s",
        profile.pk,
        profile.tenant_id,
        error.code,
        error.request_id,
    )


def profile_call(*, profile: MetaProfile, call: Callable[[MetaClient], T]) -> T:
    """``call`` with the profile's client; a refused token marks the profile expired."""
    try:
        with profile_client(profile) as client:
            return call(client)
    except TokenExpired as exc:
        profile_mark_expired(profile=profile, error=exc)
        raise


def profiles_reaching(
    *, account: MetaAdAccount, preferred: MetaProfile | None = None
) -> list[MetaProfile]:
    """Working profiles that reach the account, oldest first, ``preferred`` first: one query."""
    reaches = MetaAdAccountAccess.objects.filter(profile=OuterRef("pk"), ad_account=account)
    profiles = list(
        MetaProfile.objects.filter(tenant_id=account.tenant_id, status__in=WORKING_STATUSES)
        .filter(Exists(reaches))
        .select_related("tenant")
        .order_by("pk")
    )
    if preferred is not None:
        profiles.sort(key=lambda p: p.pk != preferred.pk)
    return profiles


def account_call(
    *,
    account: MetaAdAccount,
    call: Callable[[MetaClient], T],
    preferred: MetaProfile | None = None,
) -> T:
    """Make a call for an ad account with the first profile whose token works.

    A refused token (190) marks that profile expired and the next profile is
    tried; so is a profile that lacks a permission (10, 200-299). Throttling
    and other errors are about the call or the account, not the profile: they
    are raised at once. Raises :class:`NoWorkingProfile` when no profile is left.
    """
    refusals: list[str] = []
    for profile in profiles_reaching(account=account, preferred=preferred):
        try:
            return profile_call(profile=profile, call=call)
        except TokenExpired as exc:
            refusals.append(f"{profile}: {exc.code or 190}")
        except PermissionDenied as exc:
            refusals.append(f"{profile}: {exc.code or 'permission'}")
            logger.info(
                "meta profile lacks a permission profile=%s account=%s code=%s",
                profile.pk,
                account.account_id,
                exc.code,
            )
    message = _("No connected profile reaches ad account %(account)s.") % {
        "account": account.act_id
    }
    if refusals:
        message += " " + _("Tried: %(tried)s.") % {"tried": "; ".join(refusals)}
    raise NoWorkingProfile(message)


# --- tracking, pixels ----------------------------------------------------------------


class ActionRefused(Exception):
    """A change the hub refuses before calling Meta; ``str()`` is the message to show."""


def ad_account_pixels_refresh(*, account: MetaAdAccount) -> list[dict]:
    """Read the account's pixels/datasets from the API and keep them for the picker."""
    rows = account_call(account=account, call=lambda c: c.ads_pixels(account_id=account.account_id))
    pixels = [
        {"id": str(row.get("id") or ""), "name": str(row.get("name") or "")[:255]}
        for row in rows
        if row.get("id") and not row.get("is_unavailable")
    ]
    account.pixels = pixels
    account.pixels_fetched_at = timezone.now()
    account.save(update_fields=["pixels", "pixels_fetched_at"])
    return pixels


def ad_account_set_tracking(*, account: MetaAdAccount, enabled: bool) -> MetaAdAccount:
    """Switch tracking on or off (our row only). Disabled and closed accounts are refused."""
    if enabled and not account.is_trackable:
        raise ActionRefused(
            _("%(account)s is %(status)s: it cannot be tracked.")
            % {"account": account, "status": account.status_label.lower()}
        )
    account.tracking_enabled = enabled
    account.save(update_fields=["tracking_enabled"])
    logger.info(
        "meta tracking account=%s tenant=%s enabled=%s",
        account.account_id,
        account.tenant_id,
        enabled,
    )
    return account


def ad_account_choose_pixel(*, account: MetaAdAccount, pixel_id: str) -> MetaAdAccount:
    """Choose one of the pixels the API listed for the account ("" clears the choice)."""
    if not pixel_id:
        account.pixel_id, account.pixel_name = "", ""
    else:
        chosen = next((p for p in account.pixels or [] if p.get("id") == pixel_id), None)
        if chosen is None:
            raise ActionRefused(_("That pixel is not one of this ad account's pixels."))
        if not account.tracking_enabled:
            raise ActionRefused(_("Turn tracking on before choosing a pixel."))
        account.pixel_id, account.pixel_name = chosen["id"], chosen.get("name", "")
    account.save(update_fields=["pixel_id", "pixel_name"])
    return account


# --- ad details (lead enrichment) -----------------------------------------------------


def _details_from(answer: Mapping[str, Any], ad_id: str, tenant: Tenant) -> AdDetails:
    adset = answer.get("adset") if isinstance(answer.get("adset"), Mapping) else {}
    campaign = answer.get("campaign") if isinstance(answer.get("campaign"), Mapping) else {}
    account_id = str(answer.get("account_id") or "").removeprefix("act_")
    account_name = ""
    if account_id:
        account_name = (
            MetaAdAccount.objects.for_tenant(tenant)
            .filter(account_id=account_id)
            .values_list("name", flat=True)
            .first()
            or ""
        )
    return AdDetails(
        ad_id=str(answer.get("id") or ad_id),
        ad_name=str(answer.get("name") or ""),
        adset_id=str(adset.get("id") or ""),
        adset_name=str(adset.get("name") or ""),
        campaign_id=str(campaign.get("id") or ""),
        campaign_name=str(campaign.get("name") or ""),
        account_id=account_id,
        account_name=account_name,
    )


def _account_of_ad(tenant: Tenant, ad_id: str) -> MetaAdAccount | None:
    """The ad's account when our insights already met the ad (one query)."""
    row = (
        MetaAdInsight.objects.for_tenant(tenant)
        .filter(ad_id=ad_id)
        .select_related("ad_account")
        .order_by("-date")
        .first()
    )
    return row.ad_account if row is not None else None


def _profiles_for_an_unknown_ad(tenant: Tenant) -> list[MetaProfile]:
    """Working profiles that reach any ad account: those reaching tracked accounts first."""
    access = MetaAdAccountAccess.objects.filter(profile=OuterRef("pk"))
    profiles = list(
        MetaProfile.objects.for_tenant(tenant)
        .filter(status__in=WORKING_STATUSES)
        .annotate(
            reaches_tracked=Exists(access.filter(ad_account__tracking_enabled=True)),
            reaches_any=Exists(access),
        )
        .filter(reaches_any=True)
        .select_related("tenant")
        .order_by("pk")
    )
    profiles.sort(key=lambda p: not p.reaches_tracked)
    return profiles


def ad_details_for(tenant: Tenant, ad_id: str) -> AdDetails:
    """Name, ad set, campaign and account of an ad, with a token that can see it (contract §2.4).

    When our insights already met the ad, its account is known and the call
    goes through :func:`account_call` (failover included). Otherwise the ad's
    account is unknown before the call: the profiles that reach tracked
    accounts are tried first, then those reaching any known account; a
    profile that cannot see the ad (code 100, or a missing permission) passes
    the turn. Raises :class:`EnrichmentUnavailable` when no profile can see
    it; a throttled or failing call is raised as is, to be retried.
    """
    ad_id = str(ad_id or "").strip()
    if not ad_id.isdigit():
        raise EnrichmentUnavailable(_("%(ad)r is not a Meta ad id.") % {"ad": ad_id})
    account = _account_of_ad(tenant, ad_id)
    if account is not None:
        try:
            answer = account_call(account=account, call=lambda c: c.ad(ad_id=ad_id))
        except NoWorkingProfile:
            raise EnrichmentUnavailable(
                _("no connected profile reaches ad account %(account)s")
                % {"account": account.act_id}
            ) from None
        except ProviderError as exc:
            if exc.transient:
                raise
            raise EnrichmentUnavailable(
                _("Meta refused ad %(ad)s: %(error)s") % {"ad": ad_id, "error": exc}
            ) from None
        return _details_from(answer, ad_id, tenant)

    transient: ProviderError | None = None
    for profile in _profiles_for_an_unknown_ad(tenant):
        try:
            answer = profile_call(profile=profile, call=lambda c: c.ad(ad_id=ad_id))
        except TokenExpired:
            continue
        except ProviderError as exc:
            if exc.transient:
                transient = transient or exc
            continue  # 100: this profile cannot see the ad; 10/200-299: lacks a permission
        return _details_from(answer, ad_id, tenant)
    if transient is not None:
        raise transient
    raise EnrichmentUnavailable(
        _("no connected profile reaches the ad account of ad %(ad)s") % {"ad": ad_id}
    )


# --- WhatsApp numbers ------------------------------------------------------------------

#: The permission that lets a token read and create a WABA's conversions dataset (contract §4.1).
WHATSAPP_MANAGEMENT = "whatsapp_business_management"


def whatsapp_number_for(phone_number_id: str) -> WhatsAppNumber | None:
    """The registered number a webhook names (any tenant: the webhook does not say which)."""
    if not phone_number_id:
        return None
    return (
        WhatsAppNumber.objects.select_related("tenant")
        .filter(phone_number_id=phone_number_id)
        .first()
    )


def _whatsapp_profiles(tenant: Tenant) -> list[MetaProfile]:
    profiles = MetaProfile.objects.for_tenant(tenant).filter(status__in=WORKING_STATUSES)
    return [
        p
        for p in profiles.select_related("tenant").order_by("pk")
        if WHATSAPP_MANAGEMENT in p.granted_scopes
    ]


def _audit(
    *,
    number: WhatsAppNumber,
    user: AbstractBaseUser | None,
    before: dict,
    after: dict,
    error: Exception | None,
) -> None:
    AuditEntry.objects.create(
        tenant_id=number.tenant_id,
        user=user if user is not None and user.is_authenticated else None,
        product="meta_ads",
        action="whatsapp_dataset",
        object_type="waba",
        object_id=number.waba_id,
        before=before,
        after=after,
        outcome=AuditEntry.Outcome.FAILED if error else AuditEntry.Outcome.SUCCEEDED,
        error=redact_text(str(error))[:LAST_ERROR_MAX] if error else "",
    )


def whatsapp_conversions_set(
    *, number: WhatsAppNumber, enabled: bool, user: AbstractBaseUser | None = None
) -> WhatsAppNumber:
    """Switch conversions for a number; switching on fetches or creates the WABA's dataset.

    The dataset call (contract §4.2) is made with a working profile that
    granted ``whatsapp_business_management``, falling over to the next one
    when a token is refused. Turning conversions off keeps the dataset id.
    """
    if not enabled:
        number.conversions_enabled = False
        number.save(update_fields=["conversions_enabled", "updated_at"])
        return number
    before = {"dataset_id": number.conversions_dataset_id}
    error: ProviderError | None = None
    for profile in _whatsapp_profiles(number.tenant):
        try:
            dataset_id = profile_call(
                profile=profile, call=lambda c: c.waba_dataset(waba_id=number.waba_id)
            )
        except (TokenExpired, PermissionDenied) as exc:
            error = exc
            continue
        except ProviderError as exc:
            error = exc
            break
        number.conversions_enabled = True
        number.conversions_dataset_id = dataset_id
        number.conversions_error = ""
        number.save(
            update_fields=[
                "conversions_enabled",
                "conversions_dataset_id",
                "conversions_error",
                "updated_at",
            ]
        )
        _audit(
            number=number, user=user, before=before, after={"dataset_id": dataset_id}, error=None
        )
        return number
    if error is None:
        error = NoWorkingProfile(
            _(
                "No connected profile has the WhatsApp conversions permissions: reconnect one with that pack."
            )
        )
    number.conversions_error = redact_text(str(error))[:LAST_ERROR_MAX]
    number.save(update_fields=["conversions_error", "updated_at"])
    _audit(number=number, user=user, before=before, after=before, error=error)
    raise error


# --- deauthorize and data deletion callbacks (contract §1.8) ---------------------------

#: ``signed_request`` older than this is refused (python-social-auth's rule, contract §1.8).
SIGNED_REQUEST_MAX_AGE = timedelta(days=1)


class InvalidSignedRequest(ValueError):
    """A ``signed_request`` that is malformed, wrongly signed or too old."""


def _b64url(segment: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidSignedRequest("not base64url") from exc


def signed_request_parse(
    signed_request: str,
    *,
    app_secret: str | None = None,
    now: datetime | None = None,
    max_age: timedelta | None = SIGNED_REQUEST_MAX_AGE,
) -> dict:
    """Verify and decode ``base64url(sig).base64url(payload)`` (contract §1.8).

    The signature is HMAC-SHA256 of the payload *segment as sent* (still
    base64url), keyed with the app secret, compared in constant time. An
    empty app secret refuses everything.
    """
    secret = settings.META_APP_SECRET if app_secret is None else app_secret
    if not secret:
        raise InvalidSignedRequest("no app secret is configured")
    signature_part, dot, payload_part = (signed_request or "").partition(".")
    if not dot or not signature_part or not payload_part:
        raise InvalidSignedRequest("expected <signature>.<payload>")
    given = _b64url(signature_part)
    expected = hmac.new(
        secret.encode(), payload_part.encode("ascii", "replace"), hashlib.sha256
    ).digest()
    if not hmac.compare_digest(given, expected):
        raise InvalidSignedRequest("bad signature")
    try:
        payload = json.loads(_b64url(payload_part))
    except ValueError as exc:
        raise InvalidSignedRequest("payload is not JSON") from exc
    if not isinstance(payload, dict) or str(payload.get("algorithm", "")).upper() != "HMAC-SHA256":
        raise InvalidSignedRequest("unsupported algorithm")
    if max_age is not None:
        issued = payload.get("issued_at")
        now = now or timezone.now()
        if not isinstance(issued, int) or datetime.fromtimestamp(issued, tz=UTC) < now - max_age:
            raise InvalidSignedRequest("too old")
    if not str(payload.get("user_id") or ""):
        raise InvalidSignedRequest("no user_id")
    return payload


def _wipe(profiles) -> int:
    return profiles.update(
        access_token=None,
        refresh_token=None,
        access_expires_at=None,
        refresh_expires_at=None,
        status=ConnectionStatus.DISCONNECTED,
        disconnected_at=timezone.now(),
        last_error=_("The Facebook user removed the app."),
        updated_at=timezone.now(),
    )


def profile_deauthorized(*, facebook_user_id: str) -> int:
    """The user removed the app: every profile of that user (in any tenant) is disconnected.

    Tokens are wiped (they are dead anyway), the rows and synced data kept.
    Returns how many profiles changed.
    """
    changed = _wipe(MetaProfile.objects.filter(external_user_id=facebook_user_id).live())
    logger.info("meta deauthorize callback profiles=%s", changed)
    return changed


def _user_hash(facebook_user_id: str) -> str:
    return hashlib.sha256(facebook_user_id.encode()).hexdigest()


@transaction.atomic
def profile_data_delete(*, facebook_user_id: str) -> MetaDataDeletionRequest:
    """The user asked Meta to delete their data: delete their profiles everywhere.

    What the hub holds about a Facebook user is the profile row (name, id,
    tokens, permissions) and which ad accounts it reaches: both go. Ad
    accounts, insights and WhatsApp numbers are the tenant's business data
    and stay. Returns the request, whose code Meta shows the user.
    """
    profiles = MetaProfile.objects.filter(external_user_id=facebook_user_id)
    deleted = profiles.count()
    profiles.delete()
    record = MetaDataDeletionRequest.objects.create(
        confirmation_code=secrets.token_hex(10),
        user_hash=_user_hash(facebook_user_id),
        status=MetaDataDeletionRequest.Status.COMPLETED,
        profiles_deleted=deleted,
        completed_at=timezone.now(),
    )
    logger.info("meta data deletion code=%s profiles=%s", record.confirmation_code, deleted)
    return record
