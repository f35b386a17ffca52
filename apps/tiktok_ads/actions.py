"""Changes a tenant admin makes from the hub: at TikTok (status, budget) and locally (card choices).

Provider changes (:func:`campaign_set_status`, :func:`adgroup_set_status`,
:func:`ad_set_status`, :func:`adgroup_set_daily_budget`) follow one order:

1. validate locally and refuse with :class:`ActionRefused` before any call
   (deleted object, disconnected account, a budget that is not a positive
   amount with at most 2 decimals, not a daily budget, or below the local
   minimum of :data:`MIN_DAILY_BUDGET`); nothing reached TikTok, so nothing
   is audited;
2. call the Marketing API through :func:`~apps.tiktok_ads.services.client_for`;
3. on success update the local row (only the changed column, with an UPDATE,
   so a sync writing the same row meanwhile keeps its other columns) and
   write a ``succeeded`` :class:`~apps.integrations.models.AuditEntry`;
   on a provider error leave the row alone, write a ``failed`` entry with the
   (redacted) error, and raise :class:`ActionFailed` with a message for the
   tenant.

Card choices (:func:`advertisers_set_active`, :func:`conversion_pixel_choose`)
change only our rows, so they are not audited as provider changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import Case, Value, When
from django.utils.translation import gettext as _

from apps.integrations.http import PermissionDenied, ProviderError, RateLimited, TokenExpired
from apps.integrations.models import AuditEntry
from apps.integrations.redaction import redact_text
from apps.tenants.models import Tenant

from .models import (
    TikTokAd,
    TikTokAdGroup,
    TikTokAdsCampaign,
    TikTokAdvertiser,
    TikTokPixel,
)
from .services import client_for

PRODUCT = "tiktok_ads"

#: The smallest daily budget of an ad group, per advertiser currency, that we
#: refuse locally instead of sending a call TikTok would reject. TikTok's own
#: minimums depend on currency (and may change); these are the documented
#: floors for the currencies our tenants use. Any other currency has no local
#: minimum: the API decides and its refusal is shown as is.
MIN_DAILY_BUDGET: dict[str, Decimal] = {
    "USD": Decimal("20"),
    "EUR": Decimal("20"),
    "GBP": Decimal("20"),
    "BRL": Decimal("100"),
    "JPY": Decimal("2000"),
}

#: Budgets are stored with 2 decimals and at most 14 digits.
BUDGET_STEP = Decimal("0.01")
MAX_BUDGET = Decimal("999999999999.99")
#: The only budget mode whose amount this hub changes.
DAILY_BUDGET_MODE = "BUDGET_MODE_DAY"

ENABLE = "ENABLE"
DISABLE = "DISABLE"

AdsObject = TikTokAdsCampaign | TikTokAdGroup | TikTokAd


class ActionError(Exception):
    """A change the tenant asked for did not happen; ``str()`` is the message to show."""


class ActionRefused(ActionError):
    """Refused before calling TikTok: nothing was sent, nothing changed."""


class ActionFailed(ActionError):
    """TikTok refused or failed the call: the local row is unchanged, the attempt audited."""


@dataclass(frozen=True)
class _Kind:
    """How one object type is named in the API and in the audit trail."""

    object_type: str
    id_field: str


_KINDS: dict[type, _Kind] = {
    TikTokAdsCampaign: _Kind("campaign", "campaign_id"),
    TikTokAdGroup: _Kind("adgroup", "adgroup_id"),
    TikTokAd: _Kind("ad", "ad_id"),
}


def is_deleted(obj: AdsObject) -> bool:
    """Deleted objects carry ``*_STATUS_DELETE`` as secondary status; TikTok refuses changes."""
    return obj.secondary_status.endswith("_DELETE")


def _kind_of(obj: AdsObject) -> _Kind:
    return _KINDS[type(obj)]


def _check_changeable(obj: AdsObject) -> None:
    if is_deleted(obj):
        raise ActionRefused(
            _("“%(name)s” is deleted in TikTok Ads and cannot be changed.") % {"name": obj}
        )
    if not obj.connection.is_live:
        raise ActionRefused(_("TikTok Ads is disconnected. Reconnect it to make changes."))


def _provider_message(exc: ProviderError) -> str:
    """What the tenant reads when TikTok refused or failed the call."""
    if isinstance(exc, TokenExpired):
        return _("TikTok refused the connection's token. Reconnect TikTok Ads and try again.")
    if isinstance(exc, PermissionDenied):
        return _(
            "TikTok refused the change: the connection lacks permission to manage this account "
            "(reconnect with the “Manage ads” pack). TikTok said: %(error)s"
        ) % {"error": exc}
    if isinstance(exc, RateLimited):
        return _("TikTok is limiting requests right now. Try again in a minute.")
    return _("TikTok refused the change: %(error)s") % {"error": exc}


def _audit(
    *,
    user: AbstractBaseUser | None,
    obj: AdsObject,
    action: str,
    before: dict,
    after: dict,
    error: ProviderError | None = None,
) -> AuditEntry:
    kind = _kind_of(obj)
    return AuditEntry.objects.create(
        tenant_id=obj.tenant_id,
        user=user if user is not None and user.is_authenticated else None,
        product=PRODUCT,
        action=action,
        object_type=kind.object_type,
        object_id=getattr(obj, kind.id_field),
        before=before,
        after=after,
        outcome=AuditEntry.Outcome.FAILED if error else AuditEntry.Outcome.SUCCEEDED,
        error=redact_text(str(error)) if error else "",
    )


def _set_status(*, user: AbstractBaseUser | None, obj: AdsObject, enabled: bool) -> AdsObject:
    _check_changeable(obj)
    kind = _kind_of(obj)
    new_status = ENABLE if enabled else DISABLE
    before = {"operation_status": obj.operation_status}
    after = {"operation_status": new_status}
    try:
        with client_for(obj.connection) as client:
            client.update_status(
                advertiser_id=obj.advertiser_id,
                object_type=kind.object_type,
                ids=[getattr(obj, kind.id_field)],
                operation_status=new_status,
            )
    except ProviderError as exc:
        _audit(user=user, obj=obj, action="set_status", before=before, after=after, error=exc)
        raise ActionFailed(_provider_message(exc)) from exc
    with transaction.atomic():
        type(obj).objects.filter(pk=obj.pk).update(operation_status=new_status)
        _audit(user=user, obj=obj, action="set_status", before=before, after=after)
    obj.operation_status = new_status
    return obj


def campaign_set_status(
    *, user: AbstractBaseUser | None, campaign: TikTokAdsCampaign, enabled: bool
) -> TikTokAdsCampaign:
    """Resume (``enabled=True``) or pause a campaign at TikTok, then locally."""
    return _set_status(user=user, obj=campaign, enabled=enabled)


def adgroup_set_status(
    *, user: AbstractBaseUser | None, adgroup: TikTokAdGroup, enabled: bool
) -> TikTokAdGroup:
    """Resume or pause an ad group at TikTok, then locally."""
    return _set_status(user=user, obj=adgroup, enabled=enabled)


def ad_set_status(*, user: AbstractBaseUser | None, ad: TikTokAd, enabled: bool) -> TikTokAd:
    """Resume or pause an ad at TikTok, then locally."""
    return _set_status(user=user, obj=ad, enabled=enabled)


def object_set_status(*, user: AbstractBaseUser | None, obj: AdsObject, enabled: bool) -> AdsObject:
    """The same for any of the three, for callers that hold one without knowing which."""
    return _set_status(user=user, obj=obj, enabled=enabled)


def advertiser_currency(*, adgroup: TikTokAdGroup) -> str:
    """The currency of the ad group's advertiser: its synced row, else what connect discovered."""
    row = (
        TikTokAdvertiser.objects.for_tenant(adgroup.tenant_id)
        .filter(advertiser_id=adgroup.advertiser_id)
        .values_list("currency", flat=True)
        .first()
    )
    if row:
        return row
    for advertiser in adgroup.connection.assets.get("advertisers") or []:
        if str(advertiser.get("id")) == adgroup.advertiser_id:
            return str(advertiser.get("currency") or "")
    return ""


def budget_parse(value: object) -> Decimal:
    """A budget typed by a person (``"25"``, ``"25.50"``, ``"25,50"``), or ActionRefused."""
    text = str(value or "").strip().replace(",", ".")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ActionRefused(_("Enter the daily budget as a number, e.g. 25.00.")) from None
    return amount


def _check_budget(*, adgroup: TikTokAdGroup, budget: Decimal) -> None:
    if not budget.is_finite() or budget <= 0:
        raise ActionRefused(_("The daily budget must be a positive amount."))
    if budget != budget.quantize(BUDGET_STEP):
        raise ActionRefused(_("The daily budget can have at most 2 decimals."))
    if budget > MAX_BUDGET:
        raise ActionRefused(_("The daily budget is too large."))
    if adgroup.budget_mode != DAILY_BUDGET_MODE:
        raise ActionRefused(
            _(
                "“%(name)s” has no daily budget of its own (budget mode %(mode)s); "
                "change it in TikTok Ads Manager."
            )
            % {"name": adgroup, "mode": adgroup.budget_mode or _("none")}
        )
    currency = advertiser_currency(adgroup=adgroup)
    minimum = MIN_DAILY_BUDGET.get(currency)
    if minimum is not None and budget < minimum:
        raise ActionRefused(
            _("The daily budget must be at least %(minimum)s %(currency)s.")
            % {"minimum": f"{minimum:.2f}", "currency": currency}
        )


def adgroup_set_daily_budget(
    *, user: AbstractBaseUser | None, adgroup: TikTokAdGroup, budget: Decimal
) -> TikTokAdGroup:
    """Change an ad group's daily budget at TikTok, then locally."""
    _check_changeable(adgroup)
    _check_budget(adgroup=adgroup, budget=budget)
    budget = budget.quantize(BUDGET_STEP)
    before = {
        "budget": None if adgroup.budget is None else f"{adgroup.budget:.2f}",
        "budget_mode": adgroup.budget_mode,
    }
    after = {"budget": f"{budget:.2f}", "budget_mode": adgroup.budget_mode}
    try:
        with client_for(adgroup.connection) as client:
            client.update_adgroup_budget(
                advertiser_id=adgroup.advertiser_id, adgroup_id=adgroup.adgroup_id, budget=budget
            )
    except ProviderError as exc:
        _audit(
            user=user, obj=adgroup, action="set_daily_budget", before=before, after=after, error=exc
        )
        raise ActionFailed(_provider_message(exc)) from exc
    with transaction.atomic():
        TikTokAdGroup.objects.filter(pk=adgroup.pk).update(budget=budget)
        _audit(user=user, obj=adgroup, action="set_daily_budget", before=before, after=after)
    adgroup.budget = budget
    return adgroup


# --- card choices (local only) -----------------------------------------------------------


def advertisers_set_active(*, tenant: Tenant, advertiser_pks: Iterable[int]) -> int:
    """Mark exactly these advertisers (local pks) active; the others stop showing on the Ads page.

    Ids of another tenant are ignored (they match nothing in this tenant). At
    least one advertiser must stay active. Returns how many are active.
    """
    rows = TikTokAdvertiser.objects.for_tenant(tenant)
    chosen = set(rows.filter(pk__in=list(advertiser_pks)).values_list("pk", flat=True))
    if not chosen:
        raise ActionRefused(_("Choose at least one advertiser."))
    rows.update(is_active=Case(When(pk__in=chosen, then=Value(True)), default=Value(False)))
    return len(chosen)


@transaction.atomic
def conversion_pixel_choose(*, tenant: Tenant, pixel: TikTokPixel | None) -> TikTokPixel | None:
    """Make ``pixel`` the tenant's one conversion pixel (None: no pixel).

    The tenant's pixel rows are locked first, so two admins choosing at once
    are serialised instead of tripping the one-per-tenant constraint.
    """
    pixels = TikTokPixel.objects.for_tenant(tenant)
    list(pixels.select_for_update().values_list("pk", flat=True))
    if pixel is not None and pixel.tenant_id != tenant.pk:
        raise ActionRefused(_("Unknown pixel."))
    others = pixels.filter(is_conversion_pixel=True)
    if pixel is not None:
        others = others.exclude(pk=pixel.pk)
    others.update(is_conversion_pixel=False)
    if pixel is not None:
        pixels.filter(pk=pixel.pk).update(is_conversion_pixel=True)
        pixel.is_conversion_pixel = True
    return pixel
