"""Every URL that names a tenant-owned object answers 404 to another tenant.

The sweep walks the URL configuration: a new URL with an object id must be
added to OBJECT_FACTORIES (what to create in tenant B) or this test fails.
"""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from apps.meta_ads.models import MetaProfile
from apps.tenants.models import Membership
from apps.tiktok_ads.models import TikTokAd, TikTokAdGroup, TikTokAdsCampaign, TikTokAdsConnection
from apps.tiktok_content.models import TikTokContentConnection

pytestmark = pytest.mark.django_db

# Namespaces outside tenant data: Django's admin (staff only) and the provider
# emulator (never mounted in production).
SKIPPED_NAMESPACES = {"admin", "sandbox"}


def _membership(tenant, make_member):
    return {"membership_id": Membership.objects.get(user=make_member(tenant)).pk}


def _content_connection(tenant, make_member):
    row = TikTokContentConnection.objects.create(tenant=tenant, access_token="b-token")
    return {"product": "tiktok_content", "pk": row.pk}


def _meta_profile(tenant, make_member):
    row = MetaProfile.objects.create(tenant=tenant, access_token="b-token", external_user_id="9")
    return {"product": "meta_ads", "pk": row.pk}


def _meta_ad_account(tenant, make_member):
    from apps.meta_ads.models import MetaAdAccount

    row = MetaAdAccount.objects.create(
        tenant=tenant, account_id="9500", tracking_enabled=True, synced_at=timezone.now()
    )
    return {"pk": row.pk}


def _whatsapp_number(tenant, make_member):
    from apps.meta_ads.models import WhatsAppNumber

    row = WhatsAppNumber.objects.create(tenant=tenant, phone_number_id="9600", waba_id="9601")
    return {"pk": row.pk}


def _ads_rows(tenant) -> dict:
    """A tenant-B TikTok Ads campaign, ad group and ad (one of each, created once per tenant)."""
    conn, _ = TikTokAdsConnection.objects.get_or_create(
        tenant=tenant, defaults={"access_token": "b-token"}
    )
    common = {"tenant": tenant, "connection": conn, "advertiser_id": "9001"}
    now = timezone.now()
    campaign, _ = TikTokAdsCampaign.objects.get_or_create(
        **common, campaign_id="9100", defaults={"synced_at": now}
    )
    adgroup, _ = TikTokAdGroup.objects.get_or_create(
        **common,
        campaign_id="9100",
        adgroup_id="9200",
        defaults={"synced_at": now, "budget_mode": "BUDGET_MODE_DAY"},
    )
    ad, _ = TikTokAd.objects.get_or_create(
        **common, campaign_id="9100", adgroup_id="9200", ad_id="9300", defaults={"synced_at": now}
    )
    return {"campaign": campaign, "adgroup": adgroup, "ad": ad}


def _content_publish_job(tenant, make_member):
    from apps.tiktok_content.models import PublishJob

    conn, _ = TikTokContentConnection.objects.get_or_create(
        tenant=tenant, defaults={"access_token": "b-token"}
    )
    job = PublishJob.objects.create(tenant=tenant, connection=conn, source="FILE_UPLOAD")
    return {"pk": job.pk}


def _leads_ticket(tenant, make_member):
    from apps.leads.models import Contact, Ticket

    contact = Contact.objects.create(tenant=tenant, wa_id="5511900000009")
    now = timezone.now()
    ticket = Ticket.objects.create(
        tenant=tenant, contact=contact, channel="whatsapp", last_message_at=now, opened_at=now
    )
    return {"pk": ticket.pk}


def _shop_order(tenant, make_member):
    from apps.tiktok_shop.models import Order, Shop, TikTokShopConnection

    conn, _ = TikTokShopConnection.objects.get_or_create(
        tenant=tenant, defaults={"access_token": "b-token"}
    )
    shop, _ = Shop.objects.get_or_create(
        tenant=tenant, connection=conn, shop_id="9400", defaults={"cipher": "ROW_b"}
    )
    now = timezone.now()
    order, _ = Order.objects.get_or_create(
        tenant=tenant,
        shop=shop,
        order_id="9401",
        defaults={"status": "UNPAID", "create_time": now, "update_time": now, "synced_at": now},
    )
    return {"pk": order.pk}


def _shop_return(tenant, make_member):
    from apps.tiktok_shop.models import ReturnRequest, Shop, TikTokShopConnection

    conn, _ = TikTokShopConnection.objects.get_or_create(
        tenant=tenant, defaults={"access_token": "b-token"}
    )
    shop, _ = Shop.objects.get_or_create(
        tenant=tenant, connection=conn, shop_id="9400", defaults={"cipher": "ROW_b"}
    )
    now = timezone.now()
    ret, _ = ReturnRequest.objects.get_or_create(
        tenant=tenant,
        shop=shop,
        return_id="9402",
        defaults={
            "status": "RETURN_OR_REFUND_REQUEST_PENDING",
            "return_type": "REFUND",
            "create_time": now,
            "update_time": now,
            "synced_at": now,
        },
    )
    return {"pk": ret.pk}


def _catalog_item(tenant, make_member):
    from apps.catalog.models import CatalogItem

    item = CatalogItem.objects.create(
        tenant=tenant, sku="B-SKU-1", title="B's item", price=1, currency="USD"
    )
    return {"pk": item.pk}


def _ads_campaign(tenant, make_member):
    return {"pk": _ads_rows(tenant)["campaign"].pk}


def _ads_adgroup(tenant, make_member):
    return {"pk": _ads_rows(tenant)["adgroup"].pk}


def _ads_ad(tenant, make_member):
    return {"pk": _ads_rows(tenant)["ad"].pk}


def _exchange_rate(tenant, make_member):
    from datetime import date

    from apps.analytics.models import ExchangeRate

    row = ExchangeRate.objects.create(
        tenant=tenant, from_currency="USD", to_currency="BRL", rate=5, valid_from=date(2026, 1, 1)
    )
    return {"pk": row.pk}


# url name -> callable(tenant_b, make_member) returning the URL kwargs of a tenant-B object
OBJECT_FACTORIES = {
    "tenants:change_role": _membership,
    "tenants:remove_member": _membership,
    "integrations:test": _content_connection,
    "integrations:sync": _meta_profile,
    "integrations:disconnect": _content_connection,
    "tiktok_ads:campaign": _ads_campaign,
    "tiktok_ads:campaign_status": _ads_campaign,
    "tiktok_ads:adgroup": _ads_adgroup,
    "tiktok_ads:adgroup_status": _ads_adgroup,
    "tiktok_ads:adgroup_budget": _ads_adgroup,
    "tiktok_ads:ad_status": _ads_ad,
    "catalog:item_push": _catalog_item,
    "tiktok_shop:order": _shop_order,
    "tiktok_shop:order_fulfillment": _shop_order,
    "tiktok_shop:return": _shop_return,
    "tiktok_shop:return_decide": _shop_return,
    "leads:ticket": _leads_ticket,
    "leads:ticket_stage": _leads_ticket,
    "leads:ticket_thread": _leads_ticket,
    "leads:ticket_reply": _leads_ticket,
    "tiktok_content:publish_job": _content_publish_job,
    "meta_ads:ad_account_tracking": _meta_ad_account,
    "meta_ads:ad_account_pixels": _meta_ad_account,
    "meta_ads:ad_account_pixel": _meta_ad_account,
    "meta_ads:whatsapp_conversions": _whatsapp_number,
    "meta_ads:whatsapp_delete": _whatsapp_number,
    "analytics:rate_delete": _exchange_rate,
}


def _walk(patterns, namespace=None):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace in SKIPPED_NAMESPACES:
                continue
            ns = entry.namespace or namespace
            yield from _walk(entry.url_patterns, ns)
        elif isinstance(entry, URLPattern) and entry.name:
            yield (f"{namespace}:{entry.name}" if namespace else entry.name), entry


#: Path parameters that name no tenant object (the provider registry's keys).
NOT_OBJECT_PARAMS = {"product", "source_key"}
#: URLs whose parameter is not a tenant object id, with why another tenant learns nothing.
NOT_TENANT_OBJECTS = {
    "tiktok_shop:app_store_confirm": "unguessable one-time token, bound to the user who started it",
    "meta_ads:data_deletion_status": "public by design: Meta sends the user there with the code",
    "webhooks:receive_routed": "called by providers, no session: the route key is the tenant's "
    "unguessable webhook token (tests/test_fuzz_webhooks.py sends wrong ones)",
}


def _takes_an_object_id(pattern: URLPattern) -> bool:
    """An integer id, or any other parameter that is not a registry key (``<str:order_id>``...)."""
    from django.urls.converters import IntConverter

    return any(
        isinstance(c, IntConverter) or name not in NOT_OBJECT_PARAMS
        for name, c in pattern.pattern.converters.items()
    )


def object_urls() -> list[str]:
    return sorted(
        name
        for name, pattern in _walk(get_resolver().url_patterns)
        if _takes_an_object_id(pattern) and name not in NOT_TENANT_OBJECTS
    )


def test_every_object_url_is_covered_by_the_sweep():
    missing = sorted(set(object_urls()) - set(OBJECT_FACTORIES))
    assert not missing, (
        f"URL(s) {missing} take an object id but are not swept: add a factory of a tenant-B "
        "object to OBJECT_FACTORIES in tests/test_tenant_isolation.py (or, if the parameter "
        "names no tenant object, list it in NOT_TENANT_OBJECTS with the reason)"
    )
    assert object_urls() == sorted(OBJECT_FACTORIES)


@pytest.mark.parametrize("url_name", sorted(OBJECT_FACTORIES))
@pytest.mark.parametrize("method", ["get", "post"])
def test_tenant_b_object_is_404_for_admin_of_tenant_a(
    url_name, method, owner_client, tenant_b, make_member
):
    kwargs = OBJECT_FACTORIES[url_name](tenant_b, make_member)
    response = getattr(owner_client, method)(reverse(url_name, kwargs=kwargs))
    # Views that only take POST say 405 to GET before looking anything up: no leak either.
    assert response.status_code in ({404} if method == "post" else {404, 405})


@pytest.mark.parametrize("url_name", ["integrations:test", "integrations:disconnect"])
def test_tenant_b_connection_is_untouched(url_name, owner_client, tenant_b):
    row = TikTokContentConnection.objects.create(tenant=tenant_b, access_token="b-token")
    owner_client.post(reverse(url_name, kwargs={"product": "tiktok_content", "pk": row.pk}))
    row.refresh_from_db()
    assert row.status == "connected"
    assert row.access_token.reveal() == "b-token"
