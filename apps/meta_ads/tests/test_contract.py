"""Meta passes the shared provider contract, end to end through the sandbox."""

import pytest

from apps.integrations.tests.contract import ProviderContract

pytestmark = pytest.mark.django_db


class TestMetaContract(ProviderContract):
    provider_key = "meta_ads"
    sandbox_provider = "meta"
    packs = ("meta_ads",)
    declinable_scope = "business_management"
    test_path = "/debug_token"
    token_exchange_path = "/oauth/access_token"
    revoke_path = "/me/permissions"
