"""TikTok Ads daily insights: rows per second, parsing and upserting, and end to end.

Two measurements, in a throwaway test database created from the configured
one (``DATABASE_URL``), so no real data is touched:

(a) **parse and upsert**: ``--rows`` synthetic report rows shaped exactly like
    the sandbox's ``report/integrated/get/`` rows (metrics as strings, ``"-"``
    where there is nothing to report, ids as numbers inside ``metrics``) go
    through the insights kind's ``to_rows`` and ``bulk_upsert`` in pages of
    1,000, one transaction per page as the sync runner does it: once into an
    empty table (inserts) and once more (every key exists: updates).
(b) **end to end**: the sandbox is served over real HTTP by a WSGI server on
    127.0.0.1 (a thread of this process, against the same test database),
    ``TIKTOK_ADS_API_BASE`` points at it, and ``manage.py backfill tiktok_ads
    insights --since <180 days ago>`` runs for one tenant: the client (rate
    budget, call log), 30-day windows, pages of 1,000, the upsert and the
    checkpoints, all of it. Run twice: the first run inserts, the second
    updates every row.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/bench_insights.py
    .venv/bin/python bench/bench_insights.py            # SQLite
    .venv/bin/python bench/bench_insights.py --profile  # cProfile of the end-to-end run
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging
import os
import pstats
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("INTEGRATIONS_SANDBOX", "true")

import django

django.setup()

from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import setup_test_environment
from django.utils import timezone

PAGE = 1000
DAYS = 180


def report_rows(count: int, *, days: int = DAYS) -> list[dict]:
    """Report rows as the sandbox sends them, for ``count // days`` ads over ``days`` days."""
    from apps.tiktok_ads.sync import REPORT_PAGE_SIZE

    assert REPORT_PAGE_SIZE == PAGE
    today = timezone.localdate()
    ads = max(1, count // days)
    rows = []
    for n in range(count):
        ad, day = divmod(n, days) if ads > 1 else (0, n)
        idle = n % 11 == 0
        impressions = 0 if idle else 800 + (n * 37) % 9000
        clicks = 0 if idle else (n * 13) % 120
        spend = 0 if idle else ((n * 7919) % 40000) / 100
        rows.append(
            {
                "dimensions": {
                    "ad_id": f"18{ad:017d}",
                    "stat_time_day": f"{today - timedelta(days=day % 1095)} 00:00:00",
                },
                "metrics": {
                    "campaign_id": 1801234567800000 + ad // 40,
                    "adgroup_id": 1791234567800000 + ad // 8,
                    "spend": f"{spend:.2f}",
                    "impressions": str(impressions),
                    "clicks": str(clicks),
                    "conversion": "-" if idle else str(clicks // 9),
                    "ctr": "-" if idle else f"{100 * clicks / impressions:.2f}",
                    "cpc": "-" if not clicks else f"{spend / clicks:.2f}",
                    "cpm": "-" if idle else f"{1000 * spend / impressions:.2f}",
                },
                "advertiser_id": "7012345678901234567",
                "currency": "BRL",
            }
        )
    return rows


def make_connection(*, slug: str, token: str, assets: dict):
    from apps.tenants.models import Tenant
    from apps.tiktok_ads.models import TikTokAdsConnection

    tenant = Tenant.objects.create(slug=slug, name=slug.title())
    return TikTokAdsConnection.objects.create(
        tenant=tenant,
        access_token=token,
        external_user_id=(assets.get("advertiser_ids") or ["x"])[0],
        assets=assets,
        connected_at=timezone.now(),
    )


# --- (a) parse and upsert ------------------------------------------------------------------


def bench_parse_and_upsert(rows: int) -> list[tuple[str, int, float]]:
    from apps.integrations.upsert import bulk_upsert
    from apps.tiktok_ads.sync import INSIGHTS

    conn = make_connection(slug="bench-parse", token="bench-token", assets={})
    items = report_rows(rows)
    model = INSIGHTS.target_model()
    results = []
    for label in ("insert", "update"):
        pages = [[dict(item) for item in items[i : i + PAGE]] for i in range(0, rows, PAGE)]
        started = time.perf_counter()
        done = 0
        for page in pages:
            converted = INSIGHTS.to_rows(connection=conn, items=page, synced_at=timezone.now())
            with transaction.atomic():
                result = bulk_upsert(
                    model=model, rows=converted.rows, unique_fields=INSIGHTS.unique_fields
                )
            done += result.total
        elapsed = time.perf_counter() - started
        assert done == rows, (done, rows)
        results.append((label, rows, elapsed))
    return results


# --- (b) end to end through the sandbox's HTTP ----------------------------------------------------


class SandboxServer:
    """The whole project (sandbox included) served by one WSGI thread on 127.0.0.1.

    One request at a time, in one thread, so the server keeps one database
    connection, as a worker process would.
    """

    def __init__(self) -> None:
        from django.core.handlers.wsgi import WSGIHandler
        from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer

        class QuietHandler(WSGIRequestHandler):
            def log_message(self, *args) -> None:
                pass

        self.httpd = WSGIServer(
            ("127.0.0.1", 0), QuietHandler, ipv6=False, allow_reuse_address=True
        )
        self.httpd.set_app(WSGIHandler())
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        from django.db import connections

        try:
            self.httpd.serve_forever()
        finally:
            connections.close_all()  # this thread's: the test database is dropped next

    def __enter__(self) -> SandboxServer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.httpd.shutdown()
        self.thread.join()
        self.httpd.server_close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def sandbox_connection():
    """A connection holding a real sandbox token for the first sandbox user."""
    from apps.sandbox import conf, generator, grants
    from apps.tiktok_ads.services import advertisers_store

    account = generator.identities("tiktok_ads")[0].account_id
    grant = grants.issue_code(
        provider="tiktok_ads",
        account_id=account,
        scopes=list(conf.ADS_PERMISSION_IDS),
        redirect_uri=f"{settings.PUBLIC_BASE_URL}/integrations/tiktok/callback/",
    )
    grant, _outcome = grants.redeem_code(provider="tiktok_ads", code=grant.code)
    grants.mint_tokens(grant, access_ttl=None)
    advertisers = generator.advertisers(account)
    conn = make_connection(
        slug="bench-e2e",
        token=grant.access_token,
        assets={"advertiser_ids": [a["advertiser_id"] for a in advertisers]},
    )
    advertisers_store(connection=conn, items=advertisers)
    return conn


def bench_end_to_end(*, profile: bool) -> list[tuple[str, int, float, int]]:
    from apps.integrations.models import ApiCallLog
    from apps.tiktok_ads.models import TikTokAdInsight

    results = []
    with SandboxServer() as server:
        settings.SANDBOX_BASE_URL = f"{server.base_url}/sandbox"
        settings.TIKTOK_ADS_API_BASE = f"{server.base_url}/sandbox/tiktok-ads"
        conn = sandbox_connection()
        since = (timezone.localdate() - timedelta(days=DAYS)).isoformat()
        for label in ("first run (inserts)", "second run (updates)"):
            TikTokAdInsight.objects.filter(tenant_id=conn.tenant_id).count()
            calls_before = ApiCallLog.objects.count()
            out = io.StringIO()
            profiler = cProfile.Profile() if profile else None
            started = time.perf_counter()
            if profiler:
                profiler.enable()
            call_command(
                "backfill",
                "tiktok_ads",
                "insights",
                "--tenant",
                conn.tenant.slug,
                "--since",
                since,
                stdout=out,
            )
            if profiler:
                profiler.disable()
            elapsed = time.perf_counter() - started
            stats_line = out.getvalue().strip().splitlines()[-1]
            rows = TikTokAdInsight.objects.filter(tenant_id=conn.tenant_id).count()
            calls = ApiCallLog.objects.count() - calls_before
            print(f"  {label}: {stats_line}")
            results.append((label, rows, elapsed, calls))
            if profiler:
                text = io.StringIO()
                pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(35)
                print(text.getvalue())
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000, help="rows for (a)")
    parser.add_argument("--skip-e2e", action="store_true", help="only (a)")
    parser.add_argument("--profile", action="store_true", help="cProfile the end-to-end runs")
    args = parser.parse_args()

    setup_test_environment(debug=False)
    # One INFO line per provider call and per page would drown the figures.
    logging.disable(logging.INFO)
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "127.0.0.1"]
    database = settings.DATABASES["default"]
    scratch = None
    if database["ENGINE"] == "django.db.backends.sqlite3":
        # A file, not the shared in-memory database: the server thread has its own connection.
        scratch = tempfile.TemporaryDirectory()
        database.setdefault("TEST", {})["NAME"] = str(Path(scratch.name) / "bench.sqlite3")
    else:
        # Our own name: the default test_<name> may be another benchmark's or test run's.
        database.setdefault("TEST", {})["NAME"] = f"test_bench_insights_{os.getpid()}"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        version = connection.pg_version if connection.vendor == "postgresql" else None
        shown = f" {version // 10000}.{version % 10000}" if version else ""
        print(f"database={connection.vendor}{shown} page={PAGE}")
        print("(a) parse and upsert (to_rows + bulk_upsert, one transaction per page)")
        for label, rows, elapsed in bench_parse_and_upsert(args.rows):
            print(f"  {label:<8} {rows:>8,} rows {elapsed:>7.2f}s {rows / elapsed:>9,.0f} rows/s")
        if not args.skip_e2e:
            print(f"(b) end to end: backfill tiktok_ads insights, {DAYS} days, sandbox over HTTP")
            for label, rows, elapsed, calls in bench_end_to_end(profile=args.profile):
                print(
                    f"  {label:<22} {rows:>8,} rows {elapsed:>7.2f}s {rows / elapsed:>9,.0f} rows/s"
                    f"  ({calls} HTTP calls)"
                )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        if scratch is not None:
            scratch.cleanup()


if __name__ == "__main__":
    main()
