"""``manage.py sync`` and ``manage.py backfill`` against the fake campaign provider."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.integrations.models import SyncRun
from apps.integrations.sync import SyncKind, sync_kinds, sync_run_start
from apps.integrations.tests.test_sync import FakeCampaignProvider
from apps.tiktok_ads.models import TikTokAdsCampaign, TikTokAdsConnection

PRODUCT = "tiktok_ads"
KIND = "fake_campaigns"
STATS_LINE = re.compile(
    r"^tenant=(?P<tenant>\S+) kind=fake_campaigns fetched=(?P<fetched>\d+) created=(?P<created>\d+) "
    r"updated=(?P<updated>\d+) skipped=(?P<skipped>\d+) errors=(?P<errors>\d+) in \d+\.\ds"
    r"(?P<rest>.*)$",
    re.MULTILINE,
)


@pytest.fixture
def provider() -> FakeCampaignProvider:
    return FakeCampaignProvider()


@pytest.fixture
def register_kind(provider):
    def register(**overrides) -> SyncKind:
        sync_kinds.unregister(PRODUCT, KIND)
        kind = SyncKind(
            product=PRODUCT,
            kind=KIND,
            label="Fake campaigns",
            model="tiktok_ads.TikTokAdsCampaign",
            unique_fields=("tenant", "campaign_id"),
            fetch_page=provider.fetch_page,
            to_rows=provider.to_rows,
        )
        return sync_kinds.register(replace(kind, **overrides))

    yield register
    sync_kinds.unregister(PRODUCT, KIND)


@pytest.fixture
def fake_kind(register_kind) -> SyncKind:
    return register_kind()


@pytest.fixture
def acme(tenant_a) -> TikTokAdsConnection:
    return TikTokAdsConnection.objects.create(tenant=tenant_a, status="connected")


@pytest.fixture
def globex(tenant_b) -> TikTokAdsConnection:
    return TikTokAdsConnection.objects.create(tenant=tenant_b, status="expiring")


def run(command: str, *args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(command, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def stats_lines(output: str) -> dict[str, dict[str, str]]:
    return {m["tenant"]: m.groupdict() for m in STATS_LINE.finditer(output)}


# --- sync ------------------------------------------------------------------------


def test_sync_runs_every_live_connection_with_progress(
    provider, fake_kind, acme, globex, make_tenant
):
    gone = TikTokAdsConnection.objects.create(tenant=make_tenant("gone"), status="disconnected")

    out, err = run("sync", PRODUCT, KIND)

    assert "tenant=acme [###.......] page 1/3 fetched 10" in out
    assert "tenant=acme [#######...] page 2/3 fetched 20" in out
    assert "tenant=acme [##########] page 3/3 fetched 25" in out
    lines = stats_lines(out)
    assert set(lines) == {"acme", "globex"}
    assert lines["acme"]["fetched"] == lines["acme"]["created"] == "25"
    assert (lines["acme"]["updated"], lines["acme"]["skipped"], lines["acme"]["errors"]) == (
        "0",
        "0",
        "0",
    )
    assert lines["acme"]["rest"] == ""
    assert err == ""
    assert TikTokAdsCampaign.objects.filter(tenant=acme.tenant).count() == 25
    assert TikTokAdsCampaign.objects.filter(tenant=globex.tenant).count() == 25
    assert not SyncRun.objects.filter(connection_id=gone.pk).exists()
    assert set(SyncRun.objects.values_list("trigger", "status")) == {("manual", "succeeded")}


def test_sync_for_one_tenant(provider, fake_kind, acme, globex):
    out, _ = run("sync", PRODUCT, KIND, "--tenant", "globex")
    assert set(stats_lines(out)) == {"globex"}
    assert TikTokAdsCampaign.objects.filter(tenant=acme.tenant).count() == 0

    out, _ = run("sync", PRODUCT, KIND, "--tenant", "globex")
    line = stats_lines(out)["globex"]
    assert (line["created"], line["updated"]) == ("0", "25")


def test_progress_without_a_known_total_has_no_bar(provider, register_kind, acme):
    def fetch_without_total(**kwargs):
        return replace(provider.fetch_page(**kwargs), total_pages=None)

    register_kind(fetch_page=fetch_without_total)
    out, _ = run("sync", PRODUCT, KIND)
    assert "tenant=acme page 2 fetched 20" in out
    assert "[" not in out


def test_sync_reports_skipped_records(provider, fake_kind, acme):
    provider.invalid = {0, 1}
    out, _ = run("sync", PRODUCT, KIND)
    line = stats_lines(out)["acme"]
    assert (line["fetched"], line["created"], line["skipped"]) == ("25", "23", "2")


def test_a_failed_run_fails_the_command_without_leaking_the_token(provider, fake_kind, acme):
    token = "f" * 8 + "0123456789abcdef0123456789abcdef"
    provider.fail_at_page = 2
    provider.failure = RuntimeError(f"HTTP 500 for ?access_token={token}")
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="1 of 1 run"):
        call_command("sync", PRODUCT, KIND, stdout=out, stderr=err)
    line = stats_lines(out.getvalue())["acme"]
    assert (line["fetched"], line["errors"], line["rest"]) == ("10", "1", " status=failed")
    assert "failed: RuntimeError: HTTP 500" in err.getvalue()
    assert token not in out.getvalue() + err.getvalue()


def test_a_kind_already_running_is_reported_and_left_alone(provider, fake_kind, acme):
    active = sync_run_start(connection=acme, kind=KIND, trigger="schedule")
    SyncRun.objects.filter(pk=active.pk).update(status="running", heartbeat_at=timezone.now())
    out, _ = run("sync", PRODUCT, KIND)
    assert f"tenant=acme kind={KIND} skipped: run #{active.pk} is already running" in out
    assert provider.calls == []


def test_unknown_product_kind_or_tenant(fake_kind, acme):
    with pytest.raises(
        CommandError, match=r"Unknown product 'nope'\. Products with sync kinds: .*tiktok_ads"
    ):
        run("sync", "nope", KIND)
    with pytest.raises(
        CommandError, match=rf"Unknown kind 'nope' for tiktok_ads\. Kinds of tiktok_ads: .*{KIND}"
    ):
        run("sync", PRODUCT, "nope")
    with pytest.raises(CommandError, match="No tenant with slug 'nobody'"):
        run("sync", PRODUCT, KIND, "--tenant", "nobody")


def test_a_tenant_without_a_connection(fake_kind, acme, tenant_b):
    with pytest.raises(CommandError, match="'globex' has no live tiktok_ads connection"):
        run("sync", PRODUCT, KIND, "--tenant", "globex")


def test_no_connections_at_all(fake_kind, db):
    out, _ = run("sync", PRODUCT, KIND)
    assert "No live tiktok_ads connection" in out


# --- backfill ----------------------------------------------------------------------


def test_backfill_runs_the_window_in_steps(provider, register_kind, acme):
    register_kind(window_step=timedelta(days=1))
    out, _ = run(
        "backfill",
        PRODUCT,
        KIND,
        "--tenant",
        "acme",
        "--since",
        "2025-01-01",
        "--until",
        "2025-01-02",
    )

    assert "Backfill tiktok_ads/fake_campaigns for acme: 2025-01-01 to 2025-01-02" in out
    assert "(2 day(s) in 2 windows of 1 day(s))" in out
    assert "tenant=acme window 1/2 [###.......] page 1/3 fetched 10" in out
    assert "tenant=acme window 2/2 [##########] page 1/1 fetched 25" in out
    assert stats_lines(out)["acme"]["created"] == "25"
    sync_run = SyncRun.objects.get()
    assert sync_run.trigger == SyncRun.Trigger.BACKFILL
    assert sync_run.window_start.isoformat() == "2025-01-01T00:00:00+00:00"
    assert sync_run.window_end.isoformat() == "2025-01-03T00:00:00+00:00"
    assert [w.start.day for _, w in provider.calls] == [1, 1, 1, 2]


def test_backfill_interrupted_then_rerun_resumes(provider, fake_kind, acme):
    args = ("backfill", PRODUCT, KIND, "--tenant", "acme", "--since", "2025-01-01")
    provider.fail_at_page = 2
    provider.failure = KeyboardInterrupt()
    err = StringIO()
    with pytest.raises(CommandError) as raised:
        call_command(*args, stdout=StringIO(), stderr=err)
    assert raised.value.returncode == 130
    interrupted = SyncRun.objects.get()
    assert interrupted.status == SyncRun.Status.INTERRUPTED
    assert interrupted.checkpoint["cursor"] == {"page": 2}
    assert f"run #{interrupted.pk} keeps its checkpoint" in err.getvalue()
    assert "run the same command again to resume" in err.getvalue()

    provider.fail_at_page = None
    provider.calls.clear()
    out, _ = run(*args)
    assert f"tenant=acme resuming run #{interrupted.pk}" in out
    assert "page 2/3 fetched 10" in out  # the new run's own count
    assert provider.pages_fetched() == [2, 3]
    assert TikTokAdsCampaign.objects.count() == 25


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        ("2025-02-01", "2025-01-01", "--since 2025-02-01 is after --until 2025-01-01"),
        ("2025/01/01", None, "--since must be a date as YYYY-MM-DD, not '2025/01/01'"),
        ("2025-01-01", "tomorrow", "--until must be a date as YYYY-MM-DD, not 'tomorrow'"),
        ("+1", None, "is in the future"),
        ("2025-01-01", "+1", "--until .* is in the future"),
    ],
)
def test_backfill_validates_dates(fake_kind, acme, since, until, message):
    today = timezone.localdate()

    def resolve(value):
        return (today + timedelta(days=1)).isoformat() if value == "+1" else value

    args = ["backfill", PRODUCT, KIND, "--tenant", "acme", "--since", resolve(since)]
    if until:
        args += ["--until", resolve(until)]
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_backfill_refuses_to_reach_past_max_backfill(register_kind, acme):
    register_kind(max_backfill=timedelta(days=30))
    earliest = timezone.localdate() - timedelta(days=30)
    too_early = (earliest - timedelta(days=1)).isoformat()
    with pytest.raises(CommandError, match=f"30 days at most: --since must be {earliest} or later"):
        run("backfill", PRODUCT, KIND, "--tenant", "acme", "--since", too_early)
    out, _ = run("backfill", PRODUCT, KIND, "--tenant", "acme", "--since", earliest.isoformat())
    assert "kind=fake_campaigns" in out


def test_backfill_needs_a_tenant(fake_kind, acme):
    with pytest.raises(CommandError, match="--tenant"):
        run("backfill", PRODUCT, KIND, "--since", "2025-01-01")
