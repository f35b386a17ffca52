"""The rollups: incremental by ``synced_at``, idempotent, tenant by tenant; tickets stay live."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.analytics import selectors
from apps.analytics.filters import Filters
from apps.analytics.models import AdDirectory, RollupState, SpendDay
from apps.analytics.rollup import rollup_refresh, rollup_refresh_all
from apps.integrations.scheduling import schedules
from apps.leads.models import Ticket
from apps.meta_ads.models import MetaAdInsight

from .factories import hand_computed_fixture, meta_account, meta_insight, ticket

pytestmark = pytest.mark.django_db

MARCH = {"range": "custom", "start": "2026-03-01", "end": "2026-03-31"}


def totals(tenant, **query):
    rep = selectors.roi_report(
        tenant=tenant, filters=Filters.from_query({**MARCH, **query}, today=date(2026, 4, 1))
    )
    return {
        g.currency: (str(g.total.spend), g.total.tickets, str(g.total.revenue)) for g in rep.groups
    }


def test_the_rollup_sums_campaigns_and_ad_sets_per_day(tenant_a):
    hand_computed_fixture(tenant_a)
    day = SpendDay.objects.get(
        tenant=tenant_a, platform="meta", level="campaign", key="MC1", date=date(2026, 3, 1)
    )
    assert (day.spend, day.impressions, day.clicks, day.currency) == (
        Decimal("120.10"),
        1200,
        12,
        "BRL",
    )
    adset = SpendDay.objects.get(
        tenant=tenant_a, platform="tiktok", level="adset", key="TG1", date=date(2026, 3, 1)
    )
    assert (adset.campaign_id, adset.spend, adset.conversions) == ("TC1", Decimal("10.50"), 2)
    ad = AdDirectory.objects.get(tenant=tenant_a, platform="tiktok", ad_id="TA1")
    assert (ad.campaign_id, ad.adset_id, ad.currency, ad.campaign_name) == (
        "TC1",
        "TG1",
        "USD",
        "TikTok Launch",
    )


def test_a_refresh_folds_in_what_was_synced_since_and_nothing_else(tenant_a):
    hand_computed_fixture(tenant_a)
    assert totals(tenant_a)["BRL"][0] == "203.48"
    # Meta restates March 2nd (same row, new spend, newer synced_at) and a new ad appears.
    later = timezone.now() + timedelta(seconds=5)
    MetaAdInsight.objects.filter(tenant=tenant_a, ad_id="MA1", date=date(2026, 3, 2)).update(
        spend=Decimal("60.05"), synced_at=later
    )
    account = meta_account(tenant_a, "1002", "BRL")
    row = meta_insight(account, campaign="MC3", adset="MS3", ad="MA9", day=date(2026, 3, 20), spend="1.00")  # fmt: skip
    MetaAdInsight.objects.filter(pk=row.pk).update(synced_at=later)
    assert totals(tenant_a)["BRL"][0] == "203.48"  # not folded in yet
    march_first = SpendDay.objects.filter(tenant=tenant_a, date=date(2026, 3, 1))
    untouched = set(march_first.values_list("pk", "spend"))
    stats = rollup_refresh(tenant=tenant_a)
    assert stats.platforms == {"meta": date(2026, 3, 2), "tiktok": None}
    assert totals(tenant_a)["BRL"][0] == "214.48"
    # March 1st was not rebuilt: its rows are the same rows
    assert set(march_first.values_list("pk", "spend")) == untouched
    assert len(untouched) == 4
    assert AdDirectory.objects.filter(tenant=tenant_a, ad_id="MA9", campaign_id="MC3").exists()
    # nothing new: nothing rebuilt, same figures
    assert rollup_refresh(tenant=tenant_a).platforms == {"meta": None, "tiktok": None}
    assert totals(tenant_a)["BRL"][0] == "214.48"


def test_a_full_rebuild_gives_the_same_rows(tenant_a):
    hand_computed_fixture(tenant_a)
    before = sorted(
        SpendDay.objects.values_list("platform", "level", "key", "date", "currency", "spend")
    )
    rollup_refresh(tenant=tenant_a, full=True)
    after = sorted(
        SpendDay.objects.values_list("platform", "level", "key", "date", "currency", "spend")
    )
    assert before == after and len(after) == 12


def test_tickets_are_read_live_without_a_refresh(tenant_a):
    hand_computed_fixture(tenant_a)
    t = ticket(tenant_a, platform="meta", ad="MA1", opened=date(2026, 3, 9))
    assert totals(tenant_a)["BRL"][1] == 5
    Ticket.objects.filter(pk=t.pk).update(stage="won", deal_value=Decimal("10.01"), currency="BRL")
    assert totals(tenant_a)["BRL"][2] == "1010.01"


def test_tickets_of_an_ad_nothing_else_knows_wait_for_the_refresh(tenant_a):
    hand_computed_fixture(tenant_a)
    ticket(tenant_a, platform="meta", ad="NEW1", opened=date(2026, 3, 9), campaign="MC7")
    assert "" not in totals(tenant_a)
    rollup_refresh(tenant=tenant_a)
    assert totals(tenant_a)[""] == ("0.00", 1, "0.00")
    rep = selectors.roi_report(
        tenant=tenant_a, filters=Filters.from_query(MARCH, today=date(2026, 4, 1))
    )
    unknown = next(g for g in rep.groups if g.currency == "")
    assert [(r.key, r.name) for r in unknown.rows] == [("MC7", "Tracked MC7")]


def test_each_tenant_is_rolled_up_apart(tenant_a, tenant_b):
    hand_computed_fixture(tenant_a)
    account = meta_account(tenant_b, "1001", "BRL")
    meta_insight(account, campaign="MC1", adset="MS1", ad="MA1", day=date(2026, 3, 1), spend="7")
    assert rollup_refresh_all() == 2
    assert SpendDay.objects.filter(tenant=tenant_b).count() == 2
    assert totals(tenant_a)["BRL"][0] == "203.48"
    assert totals(tenant_b) == {"BRL": ("7.00", 0, "0.00")}
    assert RollupState.objects.filter(refreshed_at__isnull=False).count() == 2


def test_refresh_costs_a_fixed_number_of_queries(tenant_a):
    hand_computed_fixture(tenant_a)
    account = meta_account(tenant_a, "1003", "BRL")

    def run() -> int:
        later = timezone.now() + timedelta(seconds=5)
        MetaAdInsight.objects.filter(tenant=tenant_a).update(synced_at=later)
        with CaptureQueriesContext(connection) as ctx:
            rollup_refresh(tenant=tenant_a)
        return len(ctx)

    small = run()
    for n in range(30):
        meta_insight(account, campaign=f"K{n}", adset=f"KS{n}", ad=f"KA{n}", day=date(2026, 3, 10), spend="1")  # fmt: skip
    assert run() == small


def test_the_command_and_the_schedule(tenant_a, capsys):
    hand_computed_fixture(tenant_a)
    call_command("analytics_refresh", "--tenant", tenant_a.slug, "--full")
    assert "spend days" in capsys.readouterr().out
    assert "analytics: refresh rollups" in {t.name for t in schedules.all()}


def test_a_tenant_never_rolled_up_gets_a_refresh_queued(
    tenant_a, member_client, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = member_client.get(reverse("analytics:roi"))
    assert "being prepared" in response.content.decode()
    assert len(callbacks) == 1
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        member_client.get(reverse("analytics:roi"))
    assert callbacks == []  # queued once, not once per view
    rollup_refresh(tenant=tenant_a)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = member_client.get(reverse("analytics:roi"))
    assert "Ad spend as synced up to the last refresh" in response.content.decode()
    assert callbacks == []
