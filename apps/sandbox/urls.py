"""The emulated providers, each below its own prefix; paths below it are the real ones.

The clients' base URLs (``TIKTOK_ADS_API_BASE`` and friends) point at these
prefixes when ``INTEGRATIONS_SANDBOX`` is on, so a client appends exactly the
path the real provider documents.
"""

from django.urls import path, re_path

from .views import capi, index, meta, tiktok_ads, tiktok_content, tiktok_shop
from .views import tiktok_shop_ops as shop_ops
from .views import tiktok_shop_products as shop_products

app_name = "sandbox"

_ADS = "tiktok-ads/open_api/v1.3/"
_SHOP = "tiktok-shop/open-api/"
_GRAPH = r"^meta/graph/(?P<version>v\d+\.\d+)/"

urlpatterns = [
    path("", index.index, name="index"),
    path("faults/inject", index.fault_inject, name="fault_inject"),
    path("faults/clear", index.fault_clear, name="fault_clear"),
    path("grants/<int:pk>/expire", index.grant_expire, name="grant_expire"),
    # TikTok Ads: Marketing API v1.3
    path("tiktok-ads/portal/auth", tiktok_ads.authorize, name="tiktok_ads_authorize"),
    path(f"{_ADS}oauth2/access_token/", tiktok_ads.access_token, name="tiktok_ads_token"),
    path(f"{_ADS}oauth2/revoke_token/", tiktok_ads.revoke_token, name="tiktok_ads_revoke"),
    path(f"{_ADS}oauth2/refresh_token/", tiktok_ads.refresh_token, name="tiktok_ads_refresh"),
    path(f"{_ADS}oauth2/advertiser/get/", tiktok_ads.advertiser_get, name="tiktok_ads_advertisers"),
    path(f"{_ADS}advertiser/info/", tiktok_ads.advertiser_info, name="tiktok_ads_advertiser_info"),
    path(f"{_ADS}pixel/list/", tiktok_ads.pixel_list, name="tiktok_ads_pixels"),
    path(f"{_ADS}campaign/get/", tiktok_ads.campaign_get, name="tiktok_ads_campaigns"),
    path(f"{_ADS}adgroup/get/", tiktok_ads.adgroup_get, name="tiktok_ads_adgroups"),
    path(f"{_ADS}ad/get/", tiktok_ads.ad_get, name="tiktok_ads_ads"),
    path(
        f"{_ADS}report/integrated/get/",
        tiktok_ads.report_integrated_get,
        name="tiktok_ads_report",
    ),
    path(
        f"{_ADS}dmp/custom_audience/list/",
        tiktok_ads.custom_audience_list,
        name="tiktok_ads_audiences",
    ),
    path(
        f"{_ADS}campaign/status/update/",
        tiktok_ads.campaign_status_update,
        name="tiktok_ads_campaign_status",
    ),
    path(
        f"{_ADS}adgroup/status/update/",
        tiktok_ads.adgroup_status_update,
        name="tiktok_ads_adgroup_status",
    ),
    path(f"{_ADS}ad/status/update/", tiktok_ads.ad_status_update, name="tiktok_ads_ad_status"),
    path(
        f"{_ADS}adgroup/budget/update/",
        tiktok_ads.adgroup_budget_update,
        name="tiktok_ads_adgroup_budget",
    ),
    # TikTok Shop: authorization link, auth host, Open API host
    path(
        "tiktok-shop/services/open/authorize",
        tiktok_shop.authorize,
        name="tiktok_shop_authorize",
    ),
    path("tiktok-shop/auth/api/v2/token/get", tiktok_shop.token_get, name="tiktok_shop_token"),
    path(
        "tiktok-shop/auth/api/v2/token/refresh",
        tiktok_shop.token_refresh,
        name="tiktok_shop_refresh",
    ),
    path(
        "tiktok-shop/open-api/authorization/202309/shops",
        tiktok_shop.authorized_shops,
        name="tiktok_shop_shops",
    ),
    path(
        "tiktok-shop/open-api/order/202309/orders/search",
        tiktok_shop.orders_search,
        name="tiktok_shop_orders_search",
    ),
    path(
        "tiktok-shop/open-api/order/202309/orders",
        tiktok_shop.orders_get,
        name="tiktok_shop_orders_get",
    ),
    # TikTok Shop products, images, warehouses and inventory (views/tiktok_shop_products.py)
    path(
        "tiktok-shop/open-api/product/202309/products/search",
        shop_products.products_search,
        name="tiktok_shop_products_search",
    ),
    path(
        "tiktok-shop/open-api/product/202309/products",
        shop_products.products_create,
        name="tiktok_shop_products_create",
    ),
    path(
        "tiktok-shop/open-api/product/202309/products/<str:product_id>",
        shop_products.product,
        name="tiktok_shop_product",
    ),
    path(
        "tiktok-shop/open-api/product/202309/products/<str:product_id>/inventory/update",
        shop_products.inventory_update,
        name="tiktok_shop_inventory_update",
    ),
    path(
        "tiktok-shop/open-api/product/202309/images/upload",
        shop_products.images_upload,
        name="tiktok_shop_images_upload",
    ),
    path(
        "tiktok-shop/open-api/logistics/202309/warehouses",
        shop_products.warehouses,
        name="tiktok_shop_warehouses",
    ),
    # TikTok Shop fulfillment, logistics, returns, customer service, finance (tiktok_shop_ops.py)
    path(
        f"{_SHOP}fulfillment/202309/packages/search",
        shop_ops.packages_search,
        name="tiktok_shop_packages_search",
    ),
    path(
        f"{_SHOP}fulfillment/202309/packages/<str:package_id>",
        shop_ops.package_get,
        name="tiktok_shop_package",
    ),
    path(
        f"{_SHOP}fulfillment/202309/packages/<str:package_id>/shipping_documents",
        shop_ops.package_shipping_documents,
        name="tiktok_shop_package_documents",
    ),
    path(
        f"{_SHOP}fulfillment/202309/packages/<str:package_id>/ship",
        shop_ops.package_ship,
        name="tiktok_shop_package_ship",
    ),
    path(
        f"{_SHOP}fulfillment/202309/orders/<str:order_id>/packages",
        shop_ops.order_mark_shipped,
        name="tiktok_shop_order_mark_shipped",
    ),
    path(
        f"{_SHOP}fulfillment/202309/orders/<str:order_id>/tracking",
        shop_ops.order_tracking,
        name="tiktok_shop_order_tracking",
    ),
    path(
        f"{_SHOP}logistics/202309/warehouses/<str:warehouse_id>/delivery_options",
        shop_ops.delivery_options,
        name="tiktok_shop_delivery_options",
    ),
    path(
        f"{_SHOP}logistics/202309/delivery_options/<str:delivery_option_id>/shipping_providers",
        shop_ops.shipping_providers,
        name="tiktok_shop_shipping_providers",
    ),
    path(
        f"{_SHOP}return_refund/202309/returns/search",
        shop_ops.returns_search,
        name="tiktok_shop_returns_search",
    ),
    path(
        f"{_SHOP}return_refund/202309/reject_reasons",
        shop_ops.reject_reasons,
        name="tiktok_shop_reject_reasons",
    ),
    path(
        f"{_SHOP}return_refund/202309/returns/<str:return_id>/approve",
        shop_ops.return_approve,
        name="tiktok_shop_return_approve",
    ),
    path(
        f"{_SHOP}return_refund/202309/returns/<str:return_id>/reject",
        shop_ops.return_reject,
        name="tiktok_shop_return_reject",
    ),
    path(
        f"{_SHOP}customer_service/202309/conversations",
        shop_ops.conversations_root,
        name="tiktok_shop_conversations",
    ),
    path(
        f"{_SHOP}customer_service/202309/conversations/<str:conversation_id>/messages",
        shop_ops.conversation_messages_view,
        name="tiktok_shop_conversation_messages",
    ),
    path(
        f"{_SHOP}customer_service/202309/conversations/<str:conversation_id>/messages/read",
        shop_ops.conversation_read,
        name="tiktok_shop_conversation_read",
    ),
    path(f"{_SHOP}finance/202309/statements", shop_ops.statements, name="tiktok_shop_statements"),
    path(f"{_SHOP}finance/202309/payments", shop_ops.payments, name="tiktok_shop_payments"),
    path(
        f"{_SHOP}finance/202309/statements/<str:statement_id>/statement_transactions",
        shop_ops.statement_transactions,
        name="tiktok_shop_statement_transactions",
    ),
    path(
        f"{_SHOP}finance/202309/orders/<str:order_id>/statement_transactions",
        shop_ops.order_statement_transactions,
        name="tiktok_shop_order_statement_transactions",
    ),
    path(
        "tiktok-shop/buyer-message",
        shop_ops.buyer_message,
        name="tiktok_shop_buyer_message",
    ),
    # Not TikTok: stands in for TikTok's label host (doc_url of shipping_documents).
    path(
        "tiktok-shop/labels/<str:shop_id>/<str:package_id>.pdf",
        shop_ops.shipping_label,
        name="tiktok_shop_label",
    ),
    # Not TikTok: stands in for the tenant's image host (the demo catalog's images).
    path("tiktok-shop/cdn/<slug:name>.png", shop_products.demo_image, name="tiktok_shop_cdn"),
    # TikTok Content: Login Kit v2 and Display API
    re_path(
        r"^tiktok-content/v2/auth/authorize/?$",
        tiktok_content.authorize,
        name="tiktok_content_authorize",
    ),
    path("tiktok-content/api/v2/oauth/token/", tiktok_content.token, name="tiktok_content_token"),
    path(
        "tiktok-content/api/v2/oauth/revoke/", tiktok_content.revoke, name="tiktok_content_revoke"
    ),
    path("tiktok-content/api/v2/user/info/", tiktok_content.user_info, name="tiktok_content_user"),
    path(
        "tiktok-content/api/v2/video/list/",
        tiktok_content.video_list,
        name="tiktok_content_video_list",
    ),
    path(
        "tiktok-content/api/v2/post/publish/creator_info/query/",
        tiktok_content.creator_info_query,
        name="tiktok_content_creator_info",
    ),
    path(
        "tiktok-content/api/v2/post/publish/video/init/",
        tiktok_content.video_init,
        name="tiktok_content_video_init",
    ),
    path(
        "tiktok-content/api/v2/post/publish/inbox/video/init/",
        tiktok_content.inbox_video_init,
        name="tiktok_content_inbox_init",
    ),
    path(
        "tiktok-content/api/v2/post/publish/status/fetch/",
        tiktok_content.publish_status_fetch,
        name="tiktok_content_publish_status",
    ),
    # The upload host (open-upload.tiktokapis.com in production): signed URLs from init.
    path(
        "tiktok-content/upload/video/",
        tiktok_content.upload_video,
        name="tiktok_content_upload",
    ),
    # Meta: Login dialog and Graph API
    re_path(r"^meta/dialog/oauth/?$", meta.dialog, name="meta_dialog"),
    re_path(f"{_GRAPH}oauth/access_token/?$", meta.access_token, name="meta_token"),
    re_path(f"{_GRAPH}me/?$", meta.me, name="meta_me"),
    re_path(f"{_GRAPH}me/permissions/?$", meta.permissions, name="meta_permissions"),
    re_path(
        f"{_GRAPH}me/permissions/(?P<permission>[A-Za-z_]+)/?$",
        meta.permission,
        name="meta_permission",
    ),
    re_path(
        rf"{_GRAPH}(?P<user_id>\d+)/permissions/?$",
        meta.permissions,
        name="meta_user_permissions",
    ),
    re_path(f"{_GRAPH}debug_token/?$", meta.debug_token, name="meta_debug_token"),
    # Conversions: Meta Conversions API (pixels and datasets) and TikTok Events API 2.0
    re_path(rf"{_GRAPH}(?P<object_id>\d+)/events/?$", capi.meta_events, name="meta_capi_events"),
    path(f"{_ADS}event/track/", capi.tiktok_event_track, name="tiktok_ads_event_track"),
    path(f"{_ADS}lead/get/", capi.tiktok_lead_get, name="tiktok_ads_lead_get"),
    re_path(f"{_GRAPH}me/adaccounts/?$", meta.ad_accounts, name="meta_ad_accounts"),
    re_path(
        rf"{_GRAPH}act_(?P<account_id>\d+)/adspixels/?$", meta.ads_pixels, name="meta_adspixels"
    ),
    re_path(rf"{_GRAPH}act_(?P<account_id>\d+)/insights/?$", meta.insights, name="meta_insights"),
    re_path(rf"{_GRAPH}(?P<waba_id>\d+)/dataset/?$", meta.waba_dataset, name="meta_waba_dataset"),
    re_path(rf"{_GRAPH}(?P<node_id>\d+)/?$", meta.node, name="meta_node"),
]
